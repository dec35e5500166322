//! What every API call goes through before its handler: request/correlation ids, counting,
//! the write log's receipt, added latency and fault injection; and on the way out the
//! `MS-RequestId`, `MS-CorrelationId`, `MS-CV` and `MS-ServerId` headers (Microsoft Graph:
//! `request-id` and `client-request-id`, also inside its error bodies).

use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use rand::RngCore;
use uuid::Uuid;

use crate::errors::{ApiError, Host};
use crate::faults::{drop_connection, FaultDecision};
use crate::Simulator;

pub(crate) const MS_REQUEST_ID: HeaderName = HeaderName::from_static("ms-requestid");
pub(crate) const MS_CORRELATION_ID: HeaderName = HeaderName::from_static("ms-correlationid");
const MS_CV: HeaderName = HeaderName::from_static("ms-cv");
const MS_SERVER_ID: HeaderName = HeaderName::from_static("ms-serverid");
/// A fixed front-end id, as Partner Center reports the serving instance.
const SERVER_ID: &str = "101112202";

/// The ids of one API call: the client's when it sent usable ones, else generated.
#[derive(Clone, Debug)]
pub(crate) struct RequestIds {
    pub request_id: String,
    pub correlation_id: String,
}

impl RequestIds {
    pub(crate) fn from_headers(headers: &HeaderMap) -> Self {
        Self {
            request_id: usable(headers, &MS_REQUEST_ID),
            correlation_id: usable(headers, &MS_CORRELATION_ID),
        }
    }

    /// Sets the response headers every Partner Center response carries.
    pub(crate) fn apply(&self, headers: &mut HeaderMap) {
        for (name, value) in [
            (MS_REQUEST_ID, self.request_id.as_str()),
            (MS_CORRELATION_ID, self.correlation_id.as_str()),
        ] {
            if let Ok(value) = HeaderValue::from_str(value) {
                headers.insert(name, value);
            }
        }
        let mut cv = [0u8; 12];
        rand::thread_rng().fill_bytes(&mut cv);
        if let Ok(value) = HeaderValue::from_str(&format!("{}.0", STANDARD_NO_PAD.encode(cv))) {
            headers.insert(MS_CV, value);
        }
        headers.insert(MS_SERVER_ID, HeaderValue::from_static(SERVER_ID));
    }
}

/// The header's value when it is a plausible id (visible ASCII, at most 128 characters),
/// otherwise a new GUID, as the service generates one when none is sent.
fn usable(headers: &HeaderMap, name: &HeaderName) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.chars().all(|c| c.is_ascii_graphic()))
        .map_or_else(|| Uuid::new_v4().to_string(), str::to_owned)
}

/// Whether a path belongs to one of the simulated APIs (as opposed to sign-in and controls).
pub(crate) fn is_api_path(path: &str) -> bool {
    path.starts_with("/_sim/partnercenter/")
        || path.starts_with("/_sim/pcsvcadmin/")
        || path.starts_with(crate::graph::GRAPH_PREFIX)
}

const REQUEST_ID: HeaderName = HeaderName::from_static("request-id");
const CLIENT_REQUEST_ID: HeaderName = HeaderName::from_static("client-request-id");

/// Graph's ids of one call: its own `request-id`, and the caller's `client-request-id` echoed
/// (a new one when the caller sent none usable).
#[derive(Clone, Debug)]
pub(crate) struct GraphIds {
    pub request_id: String,
    pub client_request_id: String,
}

impl GraphIds {
    fn from_headers(headers: &HeaderMap) -> Self {
        Self {
            request_id: Uuid::new_v4().to_string(),
            client_request_id: usable(headers, &CLIENT_REQUEST_ID),
        }
    }

    fn apply(&self, headers: &mut HeaderMap) {
        for (name, value) in [
            (REQUEST_ID, self.request_id.as_str()),
            (CLIENT_REQUEST_ID, self.client_request_id.as_str()),
        ] {
            if let Ok(value) = HeaderValue::from_str(value) {
                headers.insert(name, value);
            }
        }
    }
}

/// Puts the call's ids into a Graph error body's `innerError`, as Graph reports them there.
async fn with_graph_ids(response: Response, ids: &GraphIds) -> Response {
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, crate::auth::BODY_LIMIT * 16)
        .await
        .unwrap_or_default();
    let mut value: serde_json::Value = match serde_json::from_slice(&bytes) {
        Ok(value) => value,
        Err(_) => return Response::from_parts(parts, axum::body::Body::from(bytes)),
    };
    if let Some(inner) = value
        .get_mut("error")
        .and_then(|e| e.get_mut("innerError"))
        .and_then(|i| i.as_object_mut())
    {
        inner.insert("request-id".into(), ids.request_id.clone().into());
        inner.insert(
            "client-request-id".into(),
            ids.client_request_id.clone().into(),
        );
    }
    let bytes = serde_json::to_vec(&value).unwrap_or_else(|_| bytes.to_vec());
    parts.headers.remove(http::header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

fn is_write(method: &Method) -> bool {
    matches!(
        *method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    )
}

/// Middleware of the API routes (Partner Center and admin API).
pub(crate) async fn api_pipeline(
    State(sim): State<Simulator>,
    mut request: Request,
    next: Next,
) -> Response {
    if !is_api_path(request.uri().path()) {
        return next.run(request).await;
    }
    let ids = RequestIds::from_headers(request.headers());
    let graph_ids = Host::of_path(request.uri().path())
        .eq(&Host::Graph)
        .then(|| GraphIds::from_headers(request.headers()));
    let path = request.uri().path().to_owned();
    let inner = &sim.inner;
    inner.counters.api_calls.fetch_add(1, Ordering::Relaxed);
    if graph_ids.is_some() {
        inner.counters.graph_calls.fetch_add(1, Ordering::Relaxed);
    }
    if is_write(request.method()) {
        inner
            .store
            .lock()
            .writes
            .receive(&ids.request_id, request.method().as_str(), &path);
    }

    let faults = inner.faults.read().clone();
    // `path_contains` limits every fault, the added latency included.
    if faults.latency_ms > 0 && faults.applies_to(&path) {
        tokio::time::sleep(Duration::from_millis(faults.latency_ms)).await;
    }
    let decision = if faults.max_faults.is_some() {
        // Counted down under the write lock, so concurrent calls never inject more than asked.
        let mut current = inner.faults.write();
        let decision = current.decide(&path, &mut rand::thread_rng());
        if matches!(decision, FaultDecision::Error(_)) {
            if let Some(left) = current.max_faults.as_mut() {
                *left = left.saturating_sub(1);
            }
        }
        decision
    } else {
        faults.decide(&path, &mut rand::thread_rng())
    };

    let mut response = match decision {
        FaultDecision::Error(status) => {
            inner
                .counters
                .injected_faults
                .fetch_add(1, Ordering::Relaxed);
            ApiError::injected(status, faults.retry_after)
                .on(Host::of_path(&path))
                .into_response()
        }
        FaultDecision::Pass | FaultDecision::Drop => {
            request.extensions_mut().insert(ids.clone());
            next.run(request).await
        }
    };
    match &graph_ids {
        Some(graph_ids) => {
            if !response.status().is_success() {
                response = with_graph_ids(response, graph_ids).await;
            }
            graph_ids.apply(response.headers_mut());
        }
        None => ids.apply(response.headers_mut()),
    }
    if decision == FaultDecision::Drop {
        inner
            .counters
            .injected_faults
            .fetch_add(1, Ordering::Relaxed);
        response = drop_connection(response).await;
    }
    response
}
