//! The simulator's own endpoints: index page, state for tests, fault settings, refresh-token
//! revocation, and the API-shaped answers for unknown API paths and methods.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use axum::extract::{OriginalUri, RawQuery, State};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use http::{HeaderMap, Method, StatusCode};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use crate::auth::{field, RawBody};
use crate::errors::{ApiError, Host};
use crate::faults::FaultConfig;
use crate::html;
use crate::idempotency::WriteRecord;
use crate::pipeline::RequestIds;
use crate::store::Consent;
use crate::timefmt::format_ticks;
use crate::Simulator;

/// `GET /_sim/`
pub(crate) async fn index(State(sim): State<Simulator>) -> Html<String> {
    Html(html::index_page(&sim.inner.config))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CustomerState<'a> {
    customer_tenant_id: Uuid,
    organization_display_name: &'a str,
    dap_enabled: bool,
    last_sign_in_date_time: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CountersView {
    authorization_code_grants: u64,
    refresh_token_grants: u64,
    throttled: u64,
    injected_faults: u64,
    api_calls: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StateView<'a> {
    customers: Vec<CustomerState<'a>>,
    consents: &'a BTreeMap<Uuid, Vec<Consent>>,
    role_members: BTreeMap<Uuid, BTreeMap<Uuid, &'a [Uuid]>>,
    writes: BTreeMap<&'a str, &'a WriteRecord>,
    counters: CountersView,
}

fn control_error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({"error": message.into()}))).into_response()
}

/// `GET /_sim/state[?customer=<id>...]`: everything tests assert on. Directories appear once
/// generated; `customer` parameters force generating (and listing) those customers'.
pub(crate) async fn state(State(sim): State<Simulator>, RawQuery(query): RawQuery) -> Response {
    let mut forced = Vec::new();
    for (name, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        if name == "customer" {
            match Uuid::parse_str(&value) {
                Ok(id) => forced.push(id),
                Err(_) => {
                    return control_error(
                        StatusCode::BAD_REQUEST,
                        format!("customer '{value}' is not a GUID"),
                    )
                }
            }
        }
    }
    let counters = &sim.inner.counters;
    let counters = CountersView {
        authorization_code_grants: counters.authorization_code_grants.load(Ordering::Relaxed),
        refresh_token_grants: counters.refresh_token_grants.load(Ordering::Relaxed),
        throttled: counters.throttled.load(Ordering::Relaxed),
        injected_faults: counters.injected_faults.load(Ordering::Relaxed),
        api_calls: counters.api_calls.load(Ordering::Relaxed),
    };
    let mut store = sim.inner.store.lock();
    for id in &forced {
        store.directory(id);
    }
    let view = StateView {
        customers: store
            .customers()
            .iter()
            .map(|c| CustomerState {
                customer_tenant_id: c.tenant_id,
                organization_display_name: &c.display_name,
                dap_enabled: c.dap_enabled,
                last_sign_in_date_time: c.last_sign_in.map(format_ticks),
            })
            .collect(),
        consents: store.consents(),
        role_members: store
            .materialised()
            .map(|(id, directory)| {
                let roles = directory
                    .roles
                    .iter()
                    .map(|r| (r.template.id, r.members.as_slice()))
                    .collect();
                (*id, roles)
            })
            .collect(),
        writes: store
            .writes
            .records()
            .iter()
            .map(|(k, v)| (k.as_str(), v))
            .collect(),
        counters,
    };
    Json(view).into_response()
}

/// `GET /_sim/faults`
pub(crate) async fn get_faults(State(sim): State<Simulator>) -> Json<FaultConfig> {
    Json(sim.inner.faults.read().clone())
}

/// `PUT /_sim/faults`: replaces the fault settings (missing fields take their defaults).
pub(crate) async fn put_faults(State(sim): State<Simulator>, body: RawBody) -> Response {
    let Ok(bytes) = body.0 else {
        return control_error(StatusCode::PAYLOAD_TOO_LARGE, "body too large");
    };
    let faults: FaultConfig = match serde_json::from_slice(&bytes) {
        Ok(f) => f,
        Err(e) => {
            return control_error(
                StatusCode::BAD_REQUEST,
                format!("invalid fault configuration: {e}"),
            )
        }
    };
    if let Err(e) = faults.validate() {
        return control_error(StatusCode::BAD_REQUEST, e);
    }
    *sim.inner.faults.write() = faults.clone();
    Json(faults).into_response()
}

/// `POST /_sim/refresh-tokens/revoke` with `{"upn": "..."}`.
pub(crate) async fn revoke(State(sim): State<Simulator>, body: RawBody) -> Response {
    let body = match body.json_object(Host::PartnerCenter) {
        Ok(b) => b,
        Err(e) => return control_error(e.status, e.message),
    };
    let Some(upn) = field(&body, "upn").and_then(|v| v.as_str()) else {
        return control_error(StatusCode::BAD_REQUEST, "expected {\"upn\": \"...\"}");
    };
    match sim.revoke_refresh_tokens(upn) {
        Some(revoked) => Json(json!({"upn": upn, "revoked": revoked})).into_response(),
        None => control_error(StatusCode::NOT_FOUND, format!("no demo user '{upn}'")),
    }
}

/// Any unknown path under an API base: a 404 in that API's shape.
pub(crate) async fn api_not_found(OriginalUri(uri): OriginalUri) -> ApiError {
    ApiError::not_found(format!("The resource '{}' does not exist.", uri.path()))
        .on(Host::of_path(uri.path()))
}

/// A known path called with an unsupported method. API paths answer in their shape with the
/// usual id headers (this fallback runs outside the API pipeline).
pub(crate) async fn method_not_allowed(
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Response {
    let path = uri.path();
    if !crate::pipeline::is_api_path(path) {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    let mut response = ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "405",
        format!("The method {method} is not supported on '{path}'."),
    )
    .on(Host::of_path(path))
    .into_response();
    RequestIds::from_headers(&headers).apply(response.headers_mut());
    response
}
