//! The Partner Center REST endpoints (base `/_sim/partnercenter/v1`): directory roles, role
//! members, customer users, application consents and removing DAP.

use std::time::Instant;

use axum::extract::rejection::PathRejection;
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use http::{HeaderMap, Method, StatusCode};
use serde::Serialize;
use serde_json::{Map, Value};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::auth::{field, RawBody};
use crate::config::PARTNER_CENTER_AUDIENCE;
use crate::data::{role_template, Directory, DirectoryRole};
use crate::errors::{ApiError, Host};
use crate::idempotency::{Replay, StoredResponse};
use crate::partner::{PartnerUser, CONSENT_ROLES, READ_ROLES, ROLE_WRITE_ROLES};
use crate::pipeline::RequestIds;
use crate::store::{ApplicationGrant, Consent, Store};
use crate::Simulator;

type ApiResult = Result<Response, ApiError>;

/// Page size of the users list when the client sends no `size`.
const DEFAULT_USER_PAGE: usize = 100;
const MAX_USER_PAGE: usize = 500;
const CONTINUATION_HEADER: &str = "MS-ContinuationToken";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Attributes {
    object_type: &'static str,
}

impl Attributes {
    fn of(object_type: &'static str) -> Self {
        Self { object_type }
    }
}

#[derive(Serialize)]
struct LinkHeader {
    key: &'static str,
    value: String,
}

#[derive(Serialize)]
struct Link {
    uri: String,
    method: &'static str,
    headers: Vec<LinkHeader>,
}

impl Link {
    fn get(uri: String) -> Self {
        Self {
            uri,
            method: "GET",
            headers: Vec::new(),
        }
    }
}

#[derive(Serialize)]
struct Links {
    #[serde(rename = "self")]
    this: Link,
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<Link>,
}

/// Partner Center's collection envelope.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Collection<T> {
    total_count: usize,
    items: Vec<T>,
    links: Links,
    attributes: Attributes,
}

impl<T> Collection<T> {
    fn new(items: Vec<T>, self_uri: String, next: Option<Link>) -> Self {
        Self {
            total_count: items.len(),
            items,
            links: Links {
                this: Link::get(self_uri),
                next,
            },
            attributes: Attributes::of("Collection"),
        }
    }
}

#[derive(Serialize)]
struct RoleItem {
    name: &'static str,
    id: Uuid,
    attributes: Attributes,
}

impl RoleItem {
    fn of(role: &DirectoryRole) -> Self {
        Self {
            name: role.template.name,
            id: role.template.id,
            attributes: Attributes::of("DirectoryRole"),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UserMemberItem {
    display_name: String,
    user_principal_name: String,
    role_id: Uuid,
    id: Uuid,
    attributes: Attributes,
}

#[derive(Serialize)]
struct SelfLink {
    #[serde(rename = "self")]
    this: Link,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CustomerUserItem {
    id: Uuid,
    user_principal_name: String,
    first_name: String,
    last_name: String,
    display_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    usage_location: Option<&'static str>,
    user_domain_type: &'static str,
    state: &'static str,
    links: SelfLink,
    attributes: Attributes,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CompanyProfile {
    tenant_id: Uuid,
    domain: String,
    company_name: String,
    attributes: Attributes,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CustomerResource {
    id: Uuid,
    company_profile: CompanyProfile,
    relationship_to_partner: &'static str,
    allow_delegated_access: bool,
    links: SelfLink,
    attributes: Attributes,
}

/// The path parameters, or a 400 when they cannot be read.
fn path_params<T>(path: Result<Path<T>, PathRejection>) -> Result<T, ApiError> {
    path.map(|Path(p)| p)
        .map_err(|e| ApiError::bad_request(format!("The request path is not valid: {e}.")))
}

/// A GUID path segment, or a 400 naming the parameter.
fn guid(name: &str, value: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(value)
        .map_err(|_| ApiError::bad_request(format!("The {name} '{value}' is not a valid GUID.")))
}

fn customer_directory<'a>(
    store: &'a mut Store,
    customer: &Uuid,
) -> Result<&'a mut Directory, ApiError> {
    store
        .directory(customer)
        .ok_or_else(|| ApiError::tenant_not_found(&customer.to_string()))
}

fn require(user: &PartnerUser, roles: &[Uuid], action: &str) -> Result<(), ApiError> {
    user.require_any(roles, action)
        .map_err(ApiError::role_forbidden)
}

impl Simulator {
    fn pc_caller(&self, headers: &HeaderMap) -> Result<&'static PartnerUser, ApiError> {
        self.authenticate(headers, PARTNER_CENTER_AUDIENCE, Host::PartnerCenter)
    }

    /// Runs a write once per `MS-RequestId`: a repeated id gets the stored response and
    /// changes nothing. Only successful writes are stored; a failed one may be retried.
    fn idempotent(
        &self,
        ids: &RequestIds,
        method: &Method,
        path: &str,
        write: impl FnOnce(&mut Store) -> Result<StoredResponse, ApiError>,
    ) -> ApiResult {
        let mut store = self.inner.store.lock();
        match store.writes.replay(&ids.request_id, method.as_str(), path) {
            Replay::Stored(stored) => return Ok(stored.into_response()),
            Replay::Mismatch {
                method: first_method,
                path: first_path,
            } => {
                return Err(ApiError::bad_request(format!(
                    "MS-RequestId {} was already used for {first_method} {first_path}; send a \
                     new MS-RequestId for a different operation.",
                    ids.request_id
                )))
            }
            Replay::Fresh => {}
        }
        let stored = write(&mut store)?;
        store
            .writes
            .applied(&ids.request_id, method.as_str(), path, stored.clone());
        Ok(stored.into_response())
    }

    /// Counts a consent call against the application's per-second limit.
    fn consent_rate_limit(&self, application: &Uuid) -> Result<(), ApiError> {
        let result = self
            .inner
            .consent_limiter
            .lock()
            .check(&application.to_string(), Instant::now());
        result.map_err(|retry_after| {
            self.inner
                .counters
                .throttled
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            ApiError::throttled(retry_after)
        })
    }
}

/// `GET customers/{cid}/directoryroles`
pub(crate) async fn list_roles(
    State(sim): State<Simulator>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let caller = sim.pc_caller(&headers)?;
    let customer = guid("customer-tenant-id", &path_params(path)?)?;
    let mut store = sim.inner.store.lock();
    let directory = customer_directory(&mut store, &customer)?;
    require(caller, READ_ROLES, "read directory roles")?;
    let items = directory.roles.iter().map(RoleItem::of).collect();
    let uri = format!("/customers/{customer}/directoryroles");
    Ok(Json(Collection::new(items, uri, None)).into_response())
}

/// `GET customers/{cid}/users/{uid}/directoryroles`
pub(crate) async fn user_roles(
    State(sim): State<Simulator>,
    headers: HeaderMap,
    path: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult {
    let caller = sim.pc_caller(&headers)?;
    let (customer, user) = path_params(path)?;
    let customer = guid("customer-tenant-id", &customer)?;
    let user = guid("user-id", &user)?;
    let mut store = sim.inner.store.lock();
    let directory = customer_directory(&mut store, &customer)?;
    require(caller, READ_ROLES, "read directory roles")?;
    if directory.user(&user).is_none() {
        return Err(ApiError::user_not_found(&customer, &user));
    }
    let items = directory
        .roles
        .iter()
        .filter(|r| r.members.contains(&user))
        .map(RoleItem::of)
        .collect();
    let uri = format!("/customers/{customer}/users/{user}/directoryroles");
    Ok(Json(Collection::new(items, uri, None)).into_response())
}

/// `GET customers/{cid}/directoryroles/{role}/usermembers`. A known role template that is not
/// activated in the tenant has no members.
pub(crate) async fn list_members(
    State(sim): State<Simulator>,
    headers: HeaderMap,
    path: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult {
    let caller = sim.pc_caller(&headers)?;
    let (customer, role) = path_params(path)?;
    let customer = guid("customer-tenant-id", &customer)?;
    let role = guid("role-id", &role)?;
    let mut store = sim.inner.store.lock();
    let directory = customer_directory(&mut store, &customer)?;
    if role_template(&role).is_none() {
        return Err(ApiError::not_found(format!(
            "The directory role {role} was not found."
        )));
    }
    require(caller, READ_ROLES, "read role members")?;
    let items = directory
        .role(&role)
        .map(|r| {
            r.members
                .iter()
                .filter_map(|m| directory.user(m))
                .map(|u| UserMemberItem {
                    display_name: u.display_name.clone(),
                    user_principal_name: u.user_principal_name.clone(),
                    role_id: role,
                    id: u.id,
                    attributes: Attributes::of("UserMember"),
                })
                .collect()
        })
        .unwrap_or_default();
    let uri = format!("/customers/{customer}/directoryroles/{role}/usermembers");
    Ok(Json(Collection::new(items, uri, None)).into_response())
}

/// `GET customers/{cid}/users`, paged with `size` and `MS-ContinuationToken` like Partner Center.
pub(crate) async fn list_users(
    State(sim): State<Simulator>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let caller = sim.pc_caller(&headers)?;
    let customer = guid("customer-tenant-id", &path_params(path)?)?;
    let mut size = DEFAULT_USER_PAGE;
    let mut seek_next = false;
    for (name, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        if name.eq_ignore_ascii_case("size") {
            size = value
                .parse::<usize>()
                .ok()
                .filter(|s| (1..=MAX_USER_PAGE).contains(s))
                .ok_or_else(|| {
                    ApiError::invalid_property(format!(
                        "The size '{value}' is invalid: use an integer from 1 to {MAX_USER_PAGE}."
                    ))
                })?;
        } else if name.eq_ignore_ascii_case("seekOperation") {
            seek_next = value.eq_ignore_ascii_case("next");
            if !seek_next {
                return Err(ApiError::invalid_property(format!(
                    "The seekOperation '{value}' is not supported; use Next."
                )));
            }
        }
    }
    let offset = if seek_next {
        let token = headers
            .get(CONTINUATION_HEADER)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "seekOperation=Next requires the {CONTINUATION_HEADER} header from the \
                     previous page's next link."
                ))
            })?;
        decode_continuation(token).ok_or_else(|| {
            ApiError::bad_request(format!("The {CONTINUATION_HEADER} is not valid."))
        })?
    } else {
        0
    };

    let mut store = sim.inner.store.lock();
    let directory = customer_directory(&mut store, &customer)?;
    require(caller, READ_ROLES, "read users")?;
    let page: Vec<CustomerUserItem> = directory
        .users
        .iter()
        .skip(offset)
        .take(size)
        .map(|u| CustomerUserItem {
            id: u.id,
            user_principal_name: u.user_principal_name.clone(),
            first_name: u.first_name.clone(),
            last_name: u.last_name.clone(),
            display_name: u.display_name.clone(),
            usage_location: u.usage_location,
            user_domain_type: "none",
            state: "active",
            links: SelfLink {
                this: Link::get(format!("/customers/{customer}/users/{}", u.id)),
            },
            attributes: Attributes::of("CustomerUser"),
        })
        .collect();
    let next_offset = offset + page.len();
    let next = (next_offset < directory.users.len()).then(|| Link {
        uri: format!("/customers/{customer}/users?size={size}&seekOperation=Next"),
        method: "GET",
        headers: vec![LinkHeader {
            key: CONTINUATION_HEADER,
            value: STANDARD.encode(format!("users:{next_offset}")),
        }],
    });
    let uri = format!("/customers/{customer}/users");
    Ok(Json(Collection::new(page, uri, next)).into_response())
}

fn decode_continuation(token: &str) -> Option<usize> {
    let bytes = STANDARD.decode(token.trim()).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    text.strip_prefix("users:")?.parse().ok()
}

/// A required non-empty string property.
fn required_string<'a>(body: &'a Map<String, Value>, name: &str) -> Result<&'a str, ApiError> {
    match field(body, name) {
        None | Some(Value::Null) => Err(ApiError::bad_request(format!(
            "The property '{name}' is required."
        ))),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.as_str()),
        Some(_) => Err(ApiError::invalid_property(format!(
            "The property '{name}' must be a non-empty string."
        ))),
    }
}

/// `POST customers/{cid}/directoryroles/{role}/usermembers`. Adding to a known role template
/// that is not yet activated activates it (as Entra does).
pub(crate) async fn add_member(
    State(sim): State<Simulator>,
    Extension(ids): Extension<RequestIds>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    path: Result<Path<(String, String)>, PathRejection>,
    body: RawBody,
) -> ApiResult {
    let caller = sim.pc_caller(&headers)?;
    let (customer, role) = path_params(path)?;
    let customer = guid("customer-tenant-id", &customer)?;
    let role = guid("role-id", &role)?;
    let body = body.json_object(Host::PartnerCenter)?;
    let user = guid("Id", required_string(&body, "Id")?)?;
    required_string(&body, "DisplayName")?;
    required_string(&body, "UserPrincipalName")?;
    match field(&body, "Attributes") {
        Some(Value::Object(attributes)) => match field(attributes, "ObjectType") {
            Some(Value::String(t)) if t.eq_ignore_ascii_case("UserMember") => {}
            _ => {
                return Err(ApiError::invalid_property(
                    "Attributes.ObjectType must be \"UserMember\".",
                ))
            }
        },
        _ => {
            return Err(ApiError::bad_request(
                "The property 'Attributes' is required: {\"ObjectType\": \"UserMember\"}.",
            ))
        }
    }

    sim.idempotent(&ids, &Method::POST, uri.path(), |store| {
        let directory = customer_directory(store, &customer)?;
        let template = role_template(&role).ok_or_else(|| {
            ApiError::not_found(format!("The directory role {role} was not found."))
        })?;
        require(caller, ROLE_WRITE_ROLES, "add a member to a directory role")?;
        let member = directory
            .user(&user)
            .ok_or_else(|| ApiError::user_not_found(&customer, &user))?
            .clone();
        if directory.role(&role).is_none() {
            directory.roles.push(DirectoryRole {
                template,
                members: Vec::new(),
            });
        }
        let Some(entry) = directory.role_mut(&role) else {
            return Err(ApiError::not_found(format!(
                "The directory role {role} was not found."
            )));
        };
        if entry.members.contains(&user) {
            return Err(ApiError::conflict(format!(
                "The user {} is already a member of the role {}.",
                member.user_principal_name, template.name
            )));
        }
        entry.members.push(user);
        let item = UserMemberItem {
            display_name: member.display_name,
            user_principal_name: member.user_principal_name,
            role_id: role,
            id: user,
            attributes: Attributes::of("UserMember"),
        };
        Ok(StoredResponse {
            status: StatusCode::CREATED,
            body: serde_json::to_value(item).ok(),
        })
    })
}

/// `DELETE customers/{cid}/directoryroles/{role}/usermembers/{uid}`
pub(crate) async fn remove_member(
    State(sim): State<Simulator>,
    Extension(ids): Extension<RequestIds>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    path: Result<Path<(String, String, String)>, PathRejection>,
) -> ApiResult {
    let caller = sim.pc_caller(&headers)?;
    let (customer, role, user) = path_params(path)?;
    let customer = guid("customer-tenant-id", &customer)?;
    let role = guid("role-id", &role)?;
    let user = guid("user-id", &user)?;
    sim.idempotent(&ids, &Method::DELETE, uri.path(), |store| {
        let directory = customer_directory(store, &customer)?;
        let template = role_template(&role).ok_or_else(|| {
            ApiError::not_found(format!("The directory role {role} was not found."))
        })?;
        require(
            caller,
            ROLE_WRITE_ROLES,
            "remove a member from a directory role",
        )?;
        if directory.user(&user).is_none() {
            return Err(ApiError::user_not_found(&customer, &user));
        }
        let removed = directory.role_mut(&role).is_some_and(|r| {
            let before = r.members.len();
            r.members.retain(|m| *m != user);
            r.members.len() != before
        });
        if !removed {
            return Err(ApiError::not_found(format!(
                "The user {user} is not a member of the role {}.",
                template.name
            )));
        }
        Ok(StoredResponse {
            status: StatusCode::NO_CONTENT,
            body: None,
        })
    })
}

/// Validates an application-consent body.
fn parse_consent(body: &Map<String, Value>) -> Result<Consent, ApiError> {
    let application_id = guid("applicationId", required_string(body, "applicationId")?)?;
    let display_name = match field(body, "displayName") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            return Err(ApiError::invalid_property(
                "The property 'displayName' must be a string.",
            ))
        }
    };
    let grants = match field(body, "applicationGrants") {
        Some(Value::Array(grants)) if !grants.is_empty() => grants,
        Some(Value::Array(_)) => {
            return Err(ApiError::invalid_property(
                "The property 'applicationGrants' must contain at least one grant.",
            ))
        }
        None | Some(Value::Null) => {
            return Err(ApiError::bad_request(
                "The property 'applicationGrants' is required.",
            ))
        }
        Some(_) => {
            return Err(ApiError::invalid_property(
                "The property 'applicationGrants' must be an array.",
            ))
        }
    };
    let mut application_grants = Vec::with_capacity(grants.len());
    for (i, grant) in grants.iter().enumerate() {
        let Value::Object(grant) = grant else {
            return Err(ApiError::invalid_property(format!(
                "applicationGrants[{i}] must be an object."
            )));
        };
        let resource = required_string(grant, "enterpriseApplicationId")
            .map_err(|e| ApiError::bad_request(format!("applicationGrants[{i}]: {}", e.message)))?;
        let enterprise_application_id = guid("enterpriseApplicationId", resource)?;
        let scope = required_string(grant, "scope")
            .map_err(|e| ApiError::bad_request(format!("applicationGrants[{i}]: {}", e.message)))?;
        if scope.split(',').any(|s| s.trim().is_empty()) {
            return Err(ApiError::invalid_property(format!(
                "applicationGrants[{i}].scope '{scope}' must be a comma-separated list of \
                 non-empty scopes."
            )));
        }
        application_grants.push(ApplicationGrant {
            enterprise_application_id,
            scope: scope.to_owned(),
        });
    }
    Ok(Consent {
        application_id,
        display_name,
        application_grants,
    })
}

/// `POST customers/{cid}/applicationconsents`
pub(crate) async fn add_consent(
    State(sim): State<Simulator>,
    Extension(ids): Extension<RequestIds>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    body: RawBody,
) -> ApiResult {
    let caller = sim.pc_caller(&headers)?;
    let customer = guid("customer-tenant-id", &path_params(path)?)?;
    let consent = parse_consent(&body.json_object(Host::PartnerCenter)?)?;
    sim.consent_rate_limit(&consent.application_id)?;
    sim.idempotent(&ids, &Method::POST, uri.path(), |store| {
        if store.customer(&customer).is_none() {
            return Err(ApiError::tenant_not_found(&customer.to_string()));
        }
        require(caller, CONSENT_ROLES, "grant application consent")?;
        if store.consent(&customer, &consent.application_id).is_some() {
            return Err(ApiError::conflict(format!(
                "Permission entry already exists for application {} in customer tenant \
                 {customer}.",
                consent.application_id
            )));
        }
        let body = serde_json::to_value(&consent).ok();
        store.add_consent(customer, consent);
        Ok(StoredResponse {
            status: StatusCode::CREATED,
            body,
        })
    })
}

/// `DELETE customers/{cid}/applicationconsents/{application-id}`
pub(crate) async fn remove_consent(
    State(sim): State<Simulator>,
    Extension(ids): Extension<RequestIds>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    path: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult {
    let caller = sim.pc_caller(&headers)?;
    let (customer, application) = path_params(path)?;
    let customer = guid("customer-tenant-id", &customer)?;
    let application = guid("application-id", &application)?;
    sim.consent_rate_limit(&application)?;
    sim.idempotent(&ids, &Method::DELETE, uri.path(), |store| {
        if store.customer(&customer).is_none() {
            return Err(ApiError::tenant_not_found(&customer.to_string()));
        }
        require(caller, CONSENT_ROLES, "remove application consent")?;
        if !store.remove_consent(&customer, &application) {
            return Err(ApiError::not_found(format!(
                "No consent for application {application} exists in customer tenant {customer}."
            )));
        }
        Ok(StoredResponse {
            status: StatusCode::OK,
            body: None,
        })
    })
}

/// `PATCH customers/{cid}` with `{"AllowDelegatedAccess": false, "attributes": {"objectType":
/// "Customer"}}`: removes DAP. Only admin agents may change the relationship.
pub(crate) async fn patch_customer(
    State(sim): State<Simulator>,
    Extension(ids): Extension<RequestIds>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    body: RawBody,
) -> ApiResult {
    let caller = sim.pc_caller(&headers)?;
    let customer = guid("customer-tenant-id", &path_params(path)?)?;
    let body = body.json_object(Host::PartnerCenter)?;
    validate_remove_dap(&body)?;
    sim.idempotent(&ids, &Method::PATCH, uri.path(), |store| {
        if store.customer(&customer).is_none() {
            return Err(ApiError::tenant_not_found(&customer.to_string()));
        }
        if !caller.admin_agent {
            return Err(ApiError::insufficient_privileges(format!(
                "The caller {} has insufficient privileges: removing delegated admin access \
                 requires the Partner Center admin agent role.",
                caller.upn
            )));
        }
        let Some(updated) = store.remove_dap(&customer, OffsetDateTime::now_utc()) else {
            return Err(ApiError::tenant_not_found(&customer.to_string()));
        };
        let resource = CustomerResource {
            id: customer,
            company_profile: CompanyProfile {
                tenant_id: customer,
                domain: updated.domain(),
                company_name: updated.display_name.clone(),
                attributes: Attributes::of("CustomerCompanyProfile"),
            },
            relationship_to_partner: "reseller",
            allow_delegated_access: updated.dap_enabled,
            links: SelfLink {
                this: Link::get(format!("/customers/{customer}")),
            },
            attributes: Attributes::of("Customer"),
        };
        Ok(StoredResponse {
            status: StatusCode::OK,
            body: serde_json::to_value(resource).ok(),
        })
    })
}

/// The only supported customer update is removing DAP; anything else is a 400.
fn validate_remove_dap(body: &Map<String, Value>) -> Result<(), ApiError> {
    const EXPECTED: &str = "The only supported update is {\"AllowDelegatedAccess\": false, \
                            \"attributes\": {\"objectType\": \"Customer\"}}.";
    for key in body.keys() {
        if !key.eq_ignore_ascii_case("AllowDelegatedAccess")
            && !key.eq_ignore_ascii_case("attributes")
        {
            return Err(ApiError::invalid_property(format!(
                "The property '{key}' cannot be updated. {EXPECTED}"
            )));
        }
    }
    match field(body, "AllowDelegatedAccess") {
        Some(Value::Bool(false)) => {}
        Some(Value::Bool(true)) => {
            return Err(ApiError::invalid_property(format!(
                "Delegated admin access cannot be re-enabled. {EXPECTED}"
            )))
        }
        _ => return Err(ApiError::bad_request(EXPECTED)),
    }
    match field(body, "attributes") {
        Some(Value::Object(attributes)) => match field(attributes, "objectType") {
            Some(Value::String(t)) if t.eq_ignore_ascii_case("Customer") => Ok(()),
            _ => Err(ApiError::invalid_property(format!(
                "attributes.objectType must be \"Customer\". {EXPECTED}"
            ))),
        },
        _ => Err(ApiError::bad_request(EXPECTED)),
    }
}
