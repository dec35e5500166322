//! Server-only code: configuration, storage, sign-in, the upstream clients and the domain
//! services that server functions call.

pub mod access;
pub mod audit;
pub mod auth;
pub mod background;
pub mod clock;
pub mod config;
pub(crate) mod consent;
pub mod customers;
pub mod gdap;
pub mod graph;
pub mod http;
pub(crate) mod idempotency;
pub mod jobs;
pub mod partner_center;
pub mod reports;
pub(crate) mod reviews;
pub(crate) mod roles;
pub mod security;
pub mod state;
pub mod storage;
pub mod telemetry;

use crate::error::AppError;

/// What the browser may see of an error: internal text (SQL, session store, a failed task) is
/// logged with a reference and only the reference goes out; every other kind is the user's own
/// business and passes unchanged.
pub fn for_browser(error: AppError) -> AppError {
    match error {
        AppError::Internal(detail) => {
            let reference = error_reference();
            tracing::error!(reference, error = %detail, "internal error");
            AppError::Internal(format!(
                "something failed on the server (reference {reference}; the operator finds the detail in the log)"
            ))
        }
        other => other,
    }
}

/// A failed query is internal: its text (SQL, the database's words) and where in the code it ran
/// are kept for the log, which [`for_browser`] writes with a reference at the one boundary.
/// `?` passes its own location through, so no call site has to name itself.
impl From<sqlx::Error> for AppError {
    #[track_caller]
    fn from(error: sqlx::Error) -> Self {
        internal_at("database error", &error)
    }
}

/// The session store failed (its database, or a session it cannot decode): internal, like a
/// failed query.
impl From<tower_sessions::session::Error> for AppError {
    #[track_caller]
    fn from(error: tower_sessions::session::Error) -> Self {
        internal_at("session store error", &error)
    }
}

#[track_caller]
fn internal_at(what: &str, error: &dyn std::error::Error) -> AppError {
    let location = std::panic::Location::caller();
    AppError::Internal(format!(
        "{what} at {}:{}: {}",
        location.file(),
        location.line(),
        with_sources(error)
    ))
}

/// An error's text followed by each of its sources', as far as the chain goes.
pub fn with_sources(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// A fresh 12-character reference that ties what the browser is told to the log line holding
/// the detail.
pub fn error_reference() -> String {
    let mut reference = uuid::Uuid::new_v4().simple().to_string();
    reference.truncate(12);
    reference
}

/// Sets the HTTP status of a failing server function from its typed error, so a 401 is a 401 on
/// the wire too, and keeps internal detail out of the answer.
pub fn respond<T>(result: Result<T, AppError>) -> Result<T, AppError> {
    let result = result.map_err(for_browser);
    if let Err(error) = &result {
        if let Some(options) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
            if let Ok(status) = ::http::StatusCode::from_u16(error.status_code()) {
                options.set_status(status);
            }
        }
    }
    result
}
