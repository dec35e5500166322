//! Server-only code: configuration, storage, sign-in, the upstream clients and the domain
//! services that server functions call.

pub mod access;
pub mod audit;
pub mod auth;
pub mod background;
pub mod config;
pub mod consent;
pub mod csv;
pub mod customers;
pub mod gdap;
pub mod graph;
pub mod jobs;
pub mod partner_center;
pub mod reports;
pub mod reviews;
pub mod roles;
pub mod security;
pub mod state;
pub mod storage;

use crate::error::AppError;

/// Sets the HTTP status of a failing server function from its typed error, so a 401 is a 401 on
/// the wire too.
pub fn respond<T>(result: Result<T, AppError>) -> Result<T, AppError> {
    if let Err(error) = &result {
        if let Some(options) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
            if let Ok(status) = http::StatusCode::from_u16(error.status_code()) {
                options.set_status(status);
            }
        }
    }
    result
}
