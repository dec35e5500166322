//! The simulator's own endpoints: index page, state for tests, fault settings, refresh-token
//! revocation, GDAP changes at run time, and the API-shaped answers for unknown API paths and
//! methods.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use http::{HeaderMap, Method, StatusCode};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use crate::auth::{field, RawBody};
use crate::errors::{ApiError, Host};
use crate::faults::FaultConfig;
use crate::gdap::{evaluate, GdapWorld, Relationship};
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
    graph_calls: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StateView<'a> {
    customers: Vec<CustomerState<'a>>,
    consents: &'a BTreeMap<Uuid, Vec<Consent>>,
    role_members: BTreeMap<Uuid, BTreeMap<Uuid, &'a [Uuid]>>,
    writes: BTreeMap<&'a str, &'a WriteRecord>,
    counters: CountersView,
    /// Each customer's GDAP relationships (with their `accessAssignments`) and the coverage the
    /// reference's rules give them now: the truth tests compare the dashboard with.
    gdap: BTreeMap<Uuid, GdapState>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GdapState {
    /// `covered`, `partial`, `at_risk` or `none`.
    expected_coverage: &'static str,
    /// How the customer was seeded.
    scenario: String,
    relationships: Vec<serde_json::Value>,
}

fn gdap_state(world: &GdapWorld, customers: &[crate::data::Customer]) -> BTreeMap<Uuid, GdapState> {
    let now = time::OffsetDateTime::now_utc();
    let mut by_customer: std::collections::HashMap<Uuid, Vec<&Relationship>> =
        std::collections::HashMap::new();
    for r in &world.relationships {
        by_customer.entry(r.customer_tenant_id).or_default().push(r);
    }
    customers
        .iter()
        .map(|c| {
            let relationships = by_customer.remove(&c.tenant_id).unwrap_or_default();
            let state = GdapState {
                expected_coverage: evaluate(&relationships, now).name(),
                scenario: world
                    .scenarios
                    .get(&c.tenant_id)
                    .map(|s| s.name())
                    .unwrap_or_default(),
                relationships: relationships
                    .iter()
                    .map(|r| {
                        let mut value = r.to_json();
                        if let Some(map) = value.as_object_mut() {
                            map.insert(
                                "accessAssignments".into(),
                                r.assignments.iter().map(|a| a.to_json()).collect(),
                            );
                        }
                        value
                    })
                    .collect(),
            };
            (c.tenant_id, state)
        })
        .collect()
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
        graph_calls: counters.graph_calls.load(Ordering::Relaxed),
    };
    let mut store = sim.inner.store.lock();
    for id in &forced {
        store.directory(id);
    }
    let gdap = gdap_state(&sim.gdap(&store), store.customers());
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
        gdap,
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

/// The customer's expected coverage after a change, for the control answers.
fn coverage_after(world: &GdapWorld, customer: &Uuid) -> &'static str {
    evaluate(
        &world.of_customer(customer),
        time::OffsetDateTime::now_utc(),
    )
    .name()
}

/// `POST /_sim/gdap/relationships/{id}/terminate`: the relationship ends now, as when the
/// partner or the customer terminates it.
pub(crate) async fn terminate_relationship(
    State(sim): State<Simulator>,
    Path(id): Path<String>,
) -> Response {
    let store = sim.inner.store.lock();
    let mut world = sim.gdap(&store);
    let now = time::OffsetDateTime::now_utc();
    let Some(relationship) = world.relationship_mut(&id) else {
        return control_error(StatusCode::NOT_FOUND, format!("no relationship '{id}'"));
    };
    relationship.status = "terminated";
    relationship.end = Some(now);
    relationship.last_modified = now;
    let customer = relationship.customer_tenant_id;
    Json(json!({
        "relationship": id,
        "status": "terminated",
        "customerTenantId": customer,
        "expectedCoverage": coverage_after(&world, &customer),
    }))
    .into_response()
}

/// `POST /_sim/gdap/relationships/{id}/accessAssignments/{assignment}/delete`: the access
/// assignment is deleted (its status becomes `deleted`).
pub(crate) async fn delete_assignment(
    State(sim): State<Simulator>,
    Path((id, assignment)): Path<(String, String)>,
) -> Response {
    let store = sim.inner.store.lock();
    let mut world = sim.gdap(&store);
    let now = time::OffsetDateTime::now_utc();
    let Some(relationship) = world.relationship_mut(&id) else {
        return control_error(StatusCode::NOT_FOUND, format!("no relationship '{id}'"));
    };
    let Some(found) = relationship
        .assignments
        .iter_mut()
        .find(|a| a.id.to_string() == assignment)
    else {
        return control_error(
            StatusCode::NOT_FOUND,
            format!("no access assignment '{assignment}' in relationship '{id}'"),
        );
    };
    found.status = "deleted";
    found.last_modified = now;
    let customer = relationship.customer_tenant_id;
    Json(json!({
        "relationship": id,
        "accessAssignment": assignment,
        "status": "deleted",
        "customerTenantId": customer,
        "expectedCoverage": coverage_after(&world, &customer),
    }))
    .into_response()
}

/// `PUT /_sim/app-roles` with `{"upn": "...", "roles": ["Dashboard.Read", ...]}`: the user's
/// app roles in id tokens issued from now on (at the next sign-in or refresh).
pub(crate) async fn put_app_roles(State(sim): State<Simulator>, body: RawBody) -> Response {
    let body = match body.json_object(Host::PartnerCenter) {
        Ok(b) => b,
        Err(e) => return control_error(e.status, e.message),
    };
    let upn = field(&body, "upn").and_then(|v| v.as_str());
    let roles: Option<Vec<String>> =
        field(&body, "roles")
            .and_then(|v| v.as_array())
            .and_then(|items| {
                items
                    .iter()
                    .map(|r| r.as_str().map(str::to_owned))
                    .collect()
            });
    let (Some(upn), Some(roles)) = (upn, roles) else {
        return control_error(
            StatusCode::BAD_REQUEST,
            "expected {\"upn\": \"...\", \"roles\": [\"...\"]}",
        );
    };
    if sim.set_app_roles(upn, roles.clone()) {
        Json(json!({"upn": upn, "roles": roles})).into_response()
    } else {
        control_error(StatusCode::NOT_FOUND, format!("no demo user '{upn}'"))
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
