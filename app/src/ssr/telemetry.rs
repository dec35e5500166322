//! The dashboard's metrics and what its log spans carry, in one place.
//!
//! Metrics: their names, what they count, and the helpers that record them. Prometheus reads
//! them on `DASHBOARD_METRICS_ADDR` (the server crate installs the recorder there); without it
//! nothing is installed and every helper here costs next to nothing. Label values are bounded:
//! an API, an operation name with ids replaced by `{id}`, an HTTP status, a job kind or item
//! state, an outcome; never a URL, a tenant or a user.
//!
//! Spans: the admin by object id (never a token, never the UPN) and Partner Center's
//! MS-CorrelationId.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tracing::Span;

/// Upstream calls answered (or not: `status="transport"`), by API, operation and status.
pub const UPSTREAM_REQUESTS: &str = "dashboard_upstream_requests_total";
/// How long each upstream call took, by API and operation.
pub const UPSTREAM_DURATION: &str = "dashboard_upstream_request_duration_seconds";
/// Upstream answers 429 (throttled), by API and operation.
pub const UPSTREAM_THROTTLED: &str = "dashboard_upstream_throttled_total";
/// Calls sent again after a transient failure (429, 5xx, a lost connection), by API.
pub const UPSTREAM_RETRIES: &str = "dashboard_upstream_retries_total";
/// The wait before each retry, by API and by what set it: `retry_after` when the service's
/// `Retry-After` did (its sum is the time spent obeying it), else `backoff`.
pub const UPSTREAM_RETRY_WAIT: &str = "dashboard_upstream_retry_wait_seconds";
/// How long each consent call waited for its turn under the per-application rate limit.
pub const CONSENT_RATE_LIMIT_WAIT: &str = "dashboard_consent_rate_limit_wait_seconds";
/// Bulk-job items that reached a final state, by job kind and state.
pub const JOB_ITEMS: &str = "dashboard_job_items_total";
/// Customer syncs, by outcome (`ok`, `failed`).
pub const SYNC_DURATION: &str = "dashboard_sync_duration_seconds";
/// Runs of privileged-role reports on this instance, by outcome (`finished`, `stopped`,
/// `failed`): a report taken over by another instance has a run on each.
pub const REPORT_DURATION: &str = "dashboard_report_duration_seconds";
/// Admins with a stored sign-in (refresh token) right now, read at each scrape.
pub const SIGNED_IN_CREDENTIALS: &str = "dashboard_signed_in_credentials";

/// Every metric above (the Grafana dashboard's test checks it names no other).
pub const ALL: [&str; 10] = [
    UPSTREAM_REQUESTS,
    UPSTREAM_DURATION,
    UPSTREAM_THROTTLED,
    UPSTREAM_RETRIES,
    UPSTREAM_RETRY_WAIT,
    CONSENT_RATE_LIMIT_WAIT,
    JOB_ITEMS,
    SYNC_DURATION,
    REPORT_DURATION,
    SIGNED_IN_CREDENTIALS,
];

/// Every histogram's buckets, in seconds: from a fast API call to a long sync.
pub const DURATION_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];

/// Says what each metric is (the `# HELP` lines); call once the recorder is installed.
pub fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(
        UPSTREAM_REQUESTS,
        "Upstream calls by API, operation and HTTP status (transport: no answer)"
    );
    describe_histogram!(
        UPSTREAM_DURATION,
        Unit::Seconds,
        "Duration of upstream calls"
    );
    describe_counter!(UPSTREAM_THROTTLED, "Upstream answers 429 (throttled)");
    describe_counter!(
        UPSTREAM_RETRIES,
        "Upstream calls retried after a transient failure"
    );
    describe_histogram!(
        UPSTREAM_RETRY_WAIT,
        Unit::Seconds,
        "Wait before each retry; reason=retry_after when the service's Retry-After set it"
    );
    describe_histogram!(
        CONSENT_RATE_LIMIT_WAIT,
        Unit::Seconds,
        "Wait of each consent call for its turn under the per-application rate limit"
    );
    describe_counter!(JOB_ITEMS, "Bulk-job items that reached a final state");
    describe_histogram!(SYNC_DURATION, Unit::Seconds, "Duration of customer syncs");
    describe_histogram!(
        REPORT_DURATION,
        Unit::Seconds,
        "Duration of privileged-role report runs on this instance"
    );
    describe_gauge!(
        SIGNED_IN_CREDENTIALS,
        "Admins with a stored sign-in (refresh token)"
    );
}

/// The upstream services.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// Partner Center and the Partner Customer Administration API.
    PartnerCenter,
    /// Microsoft Graph.
    Graph,
    /// The sign-in authority's token endpoint.
    Token,
}

impl Api {
    pub fn as_str(self) -> &'static str {
        match self {
            Api::PartnerCenter => "partner_center",
            Api::Graph => "graph",
            Api::Token => "token",
        }
    }
}

/// A bounded name for a call: the method and the path under whichever of `bases` it is under,
/// every segment that is not a plain word (ids, GUIDs, numbers) replaced by `{id}`:
/// `POST customers/{id}/applicationconsents`.
pub fn operation(method: &str, url: &url::Url, bases: &[&url::Url]) -> String {
    let path = url.path();
    let relative = bases
        .iter()
        .filter(|base| base.origin() == url.origin())
        .find_map(|base| path.strip_prefix(base.path().trim_end_matches('/')))
        .unwrap_or(path);
    let segments: Vec<&str> = relative
        .split('/')
        .filter(|segment| !segment.is_empty())
        .map(|segment| {
            let word = segment.len() <= 40 && segment.bytes().all(|b| b.is_ascii_alphabetic());
            if word {
                segment
            } else {
                "{id}"
            }
        })
        .collect();
    format!("{method} {}", segments.join("/"))
}

/// One upstream HTTP call sent at `started`: counted by its status (`transport` when nothing
/// came back), which is returned.
pub fn upstream_answer(
    api: Api,
    operation: &str,
    sent: &reqwest::Result<reqwest::Response>,
    started: std::time::Instant,
) -> Option<u16> {
    let status = sent.as_ref().ok().map(|r| r.status().as_u16());
    let label = status.map_or_else(|| "transport".to_string(), |s| s.to_string());
    upstream_call(api, operation, &label, started.elapsed());
    status
}

/// One upstream call answered with `status` after `elapsed`.
pub fn upstream_call(api: Api, operation: &str, status: &str, elapsed: Duration) {
    let (api, operation, status) = (api.as_str(), operation.to_string(), status.to_string());
    metrics::counter!(UPSTREAM_REQUESTS, "api" => api, "operation" => operation.clone(), "status" => status.clone())
        .increment(1);
    metrics::histogram!(UPSTREAM_DURATION, "api" => api, "operation" => operation.clone())
        .record(elapsed.as_secs_f64());
    if status == "429" {
        metrics::counter!(UPSTREAM_THROTTLED, "api" => api, "operation" => operation).increment(1);
    }
}

/// A call about to be sent again after `wait`; `asked` is the service's `Retry-After`.
pub fn retry(api: Api, wait: Duration, asked: Option<Duration>) {
    let reason = if asked.is_some_and(|asked| asked >= wait) {
        "retry_after"
    } else {
        "backoff"
    };
    metrics::counter!(UPSTREAM_RETRIES, "api" => api.as_str()).increment(1);
    metrics::histogram!(UPSTREAM_RETRY_WAIT, "api" => api.as_str(), "reason" => reason)
        .record(wait.as_secs_f64());
}

/// A consent call waited `wait` for its turn.
pub fn consent_rate_limit_wait(wait: Duration) {
    metrics::histogram!(CONSENT_RATE_LIMIT_WAIT).record(wait.as_secs_f64());
}

/// `count` items of a `kind` job reached `state` (done, failed, held, cancelled).
pub fn job_items(kind: &'static str, state: &'static str, count: u64) {
    metrics::counter!(JOB_ITEMS, "kind" => kind, "state" => state).increment(count);
}

/// A customer sync ended after `elapsed`.
pub fn sync_finished(elapsed: Duration, ok: bool) {
    let outcome = if ok { "ok" } else { "failed" };
    metrics::histogram!(SYNC_DURATION, "outcome" => outcome).record(elapsed.as_secs_f64());
}

/// A report run on this instance ended after `elapsed` (`finished`, `stopped` or `failed`).
pub fn report_run(elapsed: Duration, outcome: &'static str) {
    metrics::histogram!(REPORT_DURATION, "outcome" => outcome).record(elapsed.as_secs_f64());
}

/// The number of admins with a stored sign-in.
pub fn signed_in_credentials(count: u64) {
    metrics::gauge!(SIGNED_IN_CREDENTIALS).set(count as f64);
}

/// The request's span (the access log's), kept in the request's extensions: layers inside it
/// (the session layer) open spans of their own, so the current span of a handler is not it.
#[derive(Clone)]
pub struct RequestSpan {
    pub span: Span,
    /// A page's server functions each check the admin, and each call of an operation carries
    /// its correlation id: the first names them (a span field recorded again is written again).
    admin_named: Arc<AtomicBool>,
    correlation_named: Arc<AtomicBool>,
}

impl RequestSpan {
    pub fn new(span: Span) -> Self {
        RequestSpan {
            span,
            admin_named: Arc::default(),
            correlation_named: Arc::default(),
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

/// Records a Partner Center MS-CorrelationId in the request's span (the first: the calls of
/// one operation share it). Job items carry theirs from the start.
pub fn record_correlation_id(correlation_id: &dyn std::fmt::Display) {
    if let Some(request) = request_span(None) {
        if !request.correlation_named.swap(true, Ordering::Relaxed) {
            let correlation_id = tracing::field::display(correlation_id);
            request.span.record("ms_correlation_id", correlation_id);
        }
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on a broken assumption"
)]
mod tests {
    use super::*;
    use url::Url;

    #[test]
    fn operations_name_the_call_without_ids() {
        let pc = Url::parse("https://api.partnercenter.microsoft.com/v1").unwrap();
        let admin = Url::parse("https://admin.example.com/CustomerServiceAdminApi/Web/v1").unwrap();
        let bases = [&pc, &admin];
        let url = |s: &str| Url::parse(s).unwrap();
        assert_eq!(
            operation(
                "POST",
                &url("https://api.partnercenter.microsoft.com/v1/customers/4b6f1c2d-8e9a-4f01-b234-56789abcdef0/applicationconsents"),
                &bases
            ),
            "POST customers/{id}/applicationconsents"
        );
        assert_eq!(
            operation(
                "GET",
                &url("https://admin.example.com/CustomerServiceAdminApi/Web/v1/delegatedAdminCustomers?$top=300&$skip=600"),
                &bases
            ),
            "GET delegatedAdminCustomers"
        );
        let graph = Url::parse("https://graph.microsoft.com/v1.0").unwrap();
        assert_eq!(
            operation(
                "GET",
                &url("https://graph.microsoft.com/v1.0/tenantRelationships/delegatedAdminRelationships/4b6f1c2d-8e9a-4f01-b234-56789abcdef0-4b6f1c2d-8e9a-4f01-b234-56789abcdef1/accessAssignments"),
                &[&graph]
            ),
            "GET tenantRelationships/delegatedAdminRelationships/{id}/accessAssignments"
        );
    }

    #[test]
    fn the_admin_is_named_by_object_id() {
        assert_eq!(
            object_id("4b6f1c2d-8e9a-4f01-b234-56789abcdef0:0c1d2e3f-0000-4000-8000-000000000001"),
            "0c1d2e3f-0000-4000-8000-000000000001"
        );
    }
}
