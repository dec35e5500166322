//! What the logs' spans carry about a request: the admin by object id (never a token, never the
//! UPN).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tracing::Span;

/// The request's span (the access log's), kept in the request's extensions: layers inside it
/// (the session layer) open spans of their own, so the current span of a handler is not it.
#[derive(Clone)]
pub struct RequestSpan {
    pub span: Span,
    /// A page's server functions each check the admin: the first names them (a span field
    /// recorded again is written again).
    admin_named: Arc<AtomicBool>,
}

impl RequestSpan {
    pub fn new(span: Span) -> Self {
        RequestSpan {
            span,
            admin_named: Arc::default(),
        }
    }
}

/// The request's span, from `extensions` or from the server function's context.
fn request_span(extensions: Option<&http::Extensions>) -> Option<RequestSpan> {
    let from_context = || {
        leptos::prelude::use_context::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<RequestSpan>().cloned())
    };
    extensions
        .and_then(|extensions| extensions.get::<RequestSpan>().cloned())
        .or_else(from_context)
}

/// The object id of an admin's `tenant:object-id` key: how logs name the admin.
pub fn object_id(user_key: &str) -> &str {
    user_key.rsplit(':').next().unwrap_or(user_key)
}

/// Names the admin in the request's span (from `extensions`, or the server function's
/// context), whose access-log line then carries it; outside a request, in the current span (a
/// job's, a report's).
pub fn record_admin(extensions: Option<&http::Extensions>, user_key: &str) {
    match request_span(extensions) {
        Some(request) => {
            if !request.admin_named.swap(true, Ordering::Relaxed) {
                request
                    .span
                    .record("admin", tracing::field::display(object_id(user_key)));
            }
        }
        None => {
            Span::current().record("admin", tracing::field::display(object_id(user_key)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_admin_is_named_by_object_id() {
        assert_eq!(
            object_id("4b6f1c2d-8e9a-4f01-b234-56789abcdef0:0c1d2e3f-0000-4000-8000-000000000001"),
            "0c1d2e3f-0000-4000-8000-000000000001"
        );
    }
}
