//! What an operator reads: the log subscriber (human-readable or JSON lines) and the access log
//! with request ids.

use app::ssr::config::LogFormat;
use app::ssr::telemetry::RequestSpan;
use axum::extract::MatchedPath;
use axum::http::{Request, Response};
use axum::Router;
use std::io::IsTerminal;
use std::time::Duration;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use tracing::Span;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Log levels unless `RUST_LOG` says otherwise.
pub const DEFAULT_LOG_FILTER: &str = "info,sqlx=warn,tower_sessions=warn";

/// The access log's target: `RUST_LOG=access=off` silences it, `access=info` keeps only it.
pub const ACCESS_LOG_TARGET: &str = "access";

/// Installs the process's log subscriber, writing to standard output in `format`.
pub fn init_logging(format: LogFormat) -> Result<(), String> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| DEFAULT_LOG_FILTER.into());
    let registry = tracing_subscriber::registry().with(filter);
    let installed = match format {
        // Colours only on a terminal: not in files and collectors.
        LogFormat::Text => registry
            .with(tracing_subscriber::fmt::layer().with_ansi(std::io::stdout().is_terminal()))
            .try_init(),
        // One object per line: the event's fields at the top level, the request's (method,
        // route, request id, admin...) under "span".
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_span_list(false),
            )
            .try_init(),
    };
    installed.map_err(|e| format!("cannot install the logger: {e}"))
}

/// Every request gets an `x-request-id` (the caller's, or a new UUID), answered back, and
/// exactly one access-log line when its response starts: method, route, status, latency, and
/// the request's span fields (request id; the admin's object id and Partner Center's
/// MS-CorrelationId when a server function or download records them). Never the query string
/// (an authorization code travels in one), never a header.
pub fn access_log<S: Clone + Send + Sync + 'static>(router: Router<S>) -> Router<S> {
    router
        .layer(axum::middleware::map_request(keep_request_span))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_request(())
                .on_response(log_response)
                .on_failure(()),
        )
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}

fn request_span<B>(request: &Request<B>) -> Span {
    // The route's pattern (`/customers/{tenant_id}`); server functions share one pattern, so
    // their path names them; anything unrouted (files, 404s) by its path.
    let route = match request.extensions().get::<MatchedPath>() {
        Some(matched) if !matched.as_str().starts_with("/api/") => matched.as_str(),
        _ => request.uri().path(),
    };
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("-");
    tracing::info_span!(
        "request",
        method = %request.method(),
        route = %route,
        request_id = %request_id,
        admin = tracing::field::Empty,
        ms_correlation_id = tracing::field::Empty,
    )
}

/// Inside the trace layer the current span is the request's: kept for the handlers.
async fn keep_request_span(mut request: axum::extract::Request) -> axum::extract::Request {
    request
        .extensions_mut()
        .insert(RequestSpan::new(Span::current()));
    request
}

fn log_response<B>(response: &Response<B>, latency: Duration, _span: &Span) {
    let status = response.status().as_u16();
    // Milliseconds with microseconds kept.
    let latency_ms = latency.as_micros() as f64 / 1000.0;
    if response.status().is_server_error() {
        tracing::warn!(target: ACCESS_LOG_TARGET, status, latency_ms, "served");
    } else {
        tracing::info!(target: ACCESS_LOG_TARGET, status, latency_ms, "served");
    }
}
