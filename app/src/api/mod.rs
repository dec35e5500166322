//! Server functions, grouped by domain. Each is a thin shell: check the session, call the domain
//! service in `crate::ssr`, and map the result to a typed `AppError`.

pub mod audit;
pub mod consent;
pub mod customers;
pub mod jobs;
pub mod reports;
pub mod roles;
pub mod session;
