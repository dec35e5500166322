//! The one error type server functions return. It crosses the wire as JSON, so the browser gets
//! the same typed error the server produced, and it knows its HTTP status.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    #[error("You are not signed in.")]
    Unauthenticated,
    /// The authority says the grant is dead (expired after 90 days idle, revoked, MFA expired,
    /// sign-in frequency...): the stored sign-in is gone and only a new sign-in helps. Nothing
    /// else: a background job that meets it stops for this admin.
    #[error("Your sign-in is no longer valid ({reason}). Please sign in again.")]
    SignInRequired { reason: String },
    /// The authority could not renew the token now (temporarily_unavailable, server_error,
    /// timeout, network): the stored sign-in is kept, and a later attempt can succeed.
    #[error("The sign-in service could not renew your access right now ({reason}). Your sign-in is kept; try again in a moment.")]
    SignInUnavailable { reason: String },
    /// The authority refused the dashboard's own request (invalid_scope, invalid_client, consent
    /// missing...): an administrator must fix the app registration; signing in again won't help.
    #[error("The sign-in service refused the dashboard's configuration ({reason}). Signing in again will not help: the app registration or its consent must be fixed.")]
    SignInMisconfigured { reason: String },
    /// Partner Center refused a token issued without multi-factor authentication.
    #[error("Partner Center requires multi-factor authentication, and your sign-in was made without it. Sign out and sign in again with MFA.")]
    MfaRequired { correlation_id: Option<String> },
    #[error("{message}")]
    Forbidden {
        message: String,
        correlation_id: Option<String>,
    },
    #[error("{what} was not found.")]
    NotFound { what: String },
    #[error("Invalid input: {0}")]
    InvalidInput(String),
    #[error("The request is larger than the dashboard accepts.")]
    TooLarge,
    #[error("Partner Center is throttling requests; try again in {retry_after_secs} s.")]
    Throttled {
        retry_after_secs: u64,
        correlation_id: Option<String>,
    },
    #[error("Partner Center answered {status}: {message}")]
    Upstream {
        status: u16,
        code: Option<String>,
        message: String,
        correlation_id: Option<String>,
    },
    #[error("Could not reach Partner Center: {0}")]
    Unreachable(String),
    #[error("Internal error: {0}")]
    Internal(String),
    /// Errors of the server-function transport itself (serialisation, network in the browser).
    #[error("Request failed: {0}")]
    Transport(String),
}

impl AppError {
    pub fn status_code(&self) -> u16 {
        match self {
            AppError::Unauthenticated
            | AppError::SignInRequired { .. }
            | AppError::MfaRequired { .. } => 401,
            AppError::SignInUnavailable { .. } => 503,
            AppError::SignInMisconfigured { .. } => 500,
            AppError::Forbidden { .. } => 403,
            AppError::NotFound { .. } => 404,
            AppError::InvalidInput(_) => 400,
            AppError::TooLarge => 413,
            AppError::Throttled { .. } => 429,
            AppError::Upstream { status, .. } if *status >= 500 => 502,
            AppError::Upstream { .. } => 502,
            AppError::Unreachable(_) => 504,
            AppError::Internal(_) | AppError::Transport(_) => 500,
        }
    }

    /// The MS-CorrelationId to quote to Microsoft support, when the error came from upstream.
    pub fn correlation_id(&self) -> Option<&str> {
        match self {
            AppError::Forbidden { correlation_id, .. }
            | AppError::Throttled { correlation_id, .. }
            | AppError::Upstream { correlation_id, .. }
            | AppError::MfaRequired { correlation_id } => correlation_id.as_deref(),
            _ => None,
        }
    }

    /// True when the fix is to sign in (again).
    pub fn needs_sign_in(&self) -> bool {
        matches!(
            self,
            AppError::Unauthenticated
                | AppError::SignInRequired { .. }
                | AppError::MfaRequired { .. }
        )
    }

    /// Partner Center's 403 does not say which GDAP role is missing: a refusal gets `needed`
    /// in front of the service's own words. Other errors pass through.
    pub fn explain_forbidden(self, needed: &str) -> AppError {
        match self {
            AppError::Forbidden {
                message,
                correlation_id,
            } => AppError::Forbidden {
                message: format!("{needed} (Partner Center: {message})"),
                correlation_id,
            },
            other => other,
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        // On the server these are the caller's arguments that do not parse: bad input, not a
        // fault of ours. (In the browser the same kinds describe an unreadable answer.)
        #[cfg(feature = "ssr")]
        if let ServerFnErrorErr::Args(message)
        | ServerFnErrorErr::Deserialization(message)
        | ServerFnErrorErr::MissingArg(message) = &value
        {
            if message.contains("length limit exceeded") {
                return AppError::TooLarge;
            }
            return AppError::InvalidInput(format!("the request could not be read: {message}"));
        }
        AppError::Transport(value.to_string())
    }
}
