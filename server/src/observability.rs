//! What an operator reads: the log subscriber (human-readable or JSON lines), the access log
//! with request ids, and the Prometheus endpoint on its own address. Metric names and recording
//! live in `app::ssr::telemetry`.

use app::ssr::config::LogFormat;
use app::ssr::state::AppState;
use app::ssr::telemetry::{self, RequestSpan};
use axum::extract::{MatchedPath, State};
use axum::http::{header, Request, Response, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::io::IsTerminal;
use std::sync::OnceLock;
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

/// The process's Prometheus recorder: the `metrics` recorder is global to the process, so it
/// is installed once, by the first dashboard that asks (tests start several in one process and
/// read differences).
pub fn prometheus() -> Result<PrometheusHandle, String> {
    static HANDLE: OnceLock<Result<PrometheusHandle, String>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Suffix("_seconds".into()),
                    &telemetry::DURATION_BUCKETS,
                )
                .and_then(PrometheusBuilder::install_recorder)
                .map_err(|e| format!("cannot install the metrics recorder: {e}"))?;
            telemetry::describe();
            Ok(handle)
        })
        .clone()
}

#[derive(Clone)]
struct Scrape {
    handle: PrometheusHandle,
    state: AppState,
}

/// The metrics listener's whole router: `/metrics` and nothing else.
pub fn metrics_router(handle: PrometheusHandle, state: AppState) -> Router {
    // Histograms are kept as they are recorded until folded in; do it regularly rather than
    // only at scrapes, which may be rare.
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(5));
        loop {
            every.tick().await;
            upkeep.run_upkeep();
        }
    });
    Router::new()
        .route("/metrics", get(render))
        .with_state(Scrape { handle, state })
}

async fn render(State(scrape): State<Scrape>) -> impl IntoResponse {
    match scrape.state.tokens.signed_in_count().await {
        Ok(count) => telemetry::signed_in_credentials(count),
        Err(error) => tracing::warn!(%error, "metrics: could not count the stored sign-ins"),
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        scrape.handle.render(),
    )
}
