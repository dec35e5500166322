//! Server functions, grouped by domain. Each is a thin shell: check the session, call the domain
//! service in `crate::ssr`, and map the result to a typed `AppError`.

pub mod audit;
pub mod consent;
pub mod customers;
pub mod gdap;
pub mod jobs;
pub mod reports;
pub mod reviews;
pub mod roles;
pub mod session;

/// A customers-view filter sent as a query string (the form field of bulk actions).
#[cfg(feature = "ssr")]
pub(crate) fn customer_filter(query: &str) -> crate::model::customers::CustomerQuery {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    crate::model::customers::CustomerQuery::from_pairs(
        pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    )
}
