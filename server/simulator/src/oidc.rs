//! The Entra ID authority of the partner tenant: discovery, JWKS, the authorize endpoint with
//! an account picker, and the token endpoint (authorization code with PKCE, refresh token).

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::extract::{Path, RawQuery, State};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use rand::RngCore;
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use url::Url;

use crate::auth::{unix_now, RawBody};
use crate::config::{
    ADMIN_API_AUDIENCE, GRAPH_AUDIENCE, PARTNER_CENTER_AUDIENCE, PARTNER_TENANT_ID,
};
use crate::errors::EntraError;
use crate::html;
use crate::partner::{PartnerUser, PARTNER_DOMAIN, PARTNER_NAME};
use crate::timefmt::format_entra;
use crate::tokens::{AccessClaims, IdClaims};
use crate::Simulator;

/// Authorization codes are single-use and valid this long.
const CODE_LIFETIME: Duration = Duration::from_secs(60);
/// Stores are pruned of expired entries when they grow past this.
const PRUNE_ABOVE: usize = 10_000;
const OIDC_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];
/// `amr` of a sign-in with and without multi-factor authentication.
const AMR_MFA: [&str; 2] = ["pwd", "mfa"];
const AMR_PASSWORD_ONLY: [&str; 1] = ["pwd"];

/// Well-known application ids, accepted in place of the resource URL in scopes.
const PARTNER_CENTER_APP_ID: &str = "fa3d9a0c-3fb0-42cc-9193-47c7ecd2edbd";
const ADMIN_API_APP_ID: &str = "2832473f-ec63-45fb-976f-5d45a7d4bb91";
const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";

struct AuthCode {
    client_id: String,
    redirect_uri: String,
    code_challenge: String,
    scope: String,
    nonce: Option<String>,
    user: &'static PartnerUser,
    /// Whether the user completed multi-factor authentication (`amr` of the tokens).
    mfa: bool,
    issued: Instant,
    redeemed: bool,
}

struct RefreshRecord {
    user: &'static PartnerUser,
    client_id: String,
    /// The scope of the original sign-in (decides id tokens and the default resource).
    scope: String,
    /// Tokens redeemed from it carry the authentication methods of the original sign-in.
    mfa: bool,
    issued_at: OffsetDateTime,
    expires: Instant,
    revoked_at: Option<OffsetDateTime>,
}

/// Codes and refresh tokens issued so far.
#[derive(Default)]
pub(crate) struct OidcState {
    codes: HashMap<String, AuthCode>,
    refresh_tokens: HashMap<String, RefreshRecord>,
    /// App roles changed at run time (`PUT /_sim/app-roles`), by user object id; they replace
    /// the demo user's assignment in id tokens issued from then on, as a new assignment in
    /// Entra shows at the next token.
    app_roles: HashMap<uuid::Uuid, Vec<String>>,
}

/// A resource (API) tokens can be issued for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Resource {
    PartnerCenter,
    AdminApi,
    Graph,
}

impl Resource {
    fn audience(self) -> &'static str {
        match self {
            Resource::PartnerCenter => PARTNER_CENTER_AUDIENCE,
            Resource::AdminApi => ADMIN_API_AUDIENCE,
            Resource::Graph => GRAPH_AUDIENCE,
        }
    }

    /// The resource named by a scope's prefix (its URL or application id).
    fn parse(text: &str) -> Option<Self> {
        let text = text.trim_end_matches('/');
        [Resource::PartnerCenter, Resource::AdminApi, Resource::Graph]
            .into_iter()
            .find(|r| {
                let app_id = match r {
                    Resource::PartnerCenter => PARTNER_CENTER_APP_ID,
                    Resource::AdminApi => ADMIN_API_APP_ID,
                    Resource::Graph => GRAPH_APP_ID,
                };
                text.eq_ignore_ascii_case(r.audience()) || text.eq_ignore_ascii_case(app_id)
            })
    }

    /// The delegated permission a known permission name or `.default` stands for.
    fn permission(self, name: &str) -> Option<String> {
        let default = match self {
            Resource::PartnerCenter => "user_impersonation",
            Resource::AdminApi => "PartnerCustomerDelegatedAdministration.ReadWrite.All",
            Resource::Graph => "User.Read",
        };
        if name.eq_ignore_ascii_case(".default") || name.eq_ignore_ascii_case(default) {
            Some(default.to_owned())
        } else if self == Resource::Graph && !name.is_empty() {
            // Graph has hundreds of permissions; any name is accepted.
            Some(name.to_owned())
        } else {
            None
        }
    }
}

/// A parsed `scope` parameter.
#[derive(Debug)]
struct ScopeRequest {
    oidc: Vec<String>,
    resource: Resource,
    permissions: Vec<String>,
}

impl ScopeRequest {
    /// The first resource scope decides the audience; scopes of other resources are consented
    /// but not part of this token (Entra issues one resource per token).
    fn parse(scope: &str) -> Result<Self, EntraError> {
        let mut oidc = Vec::new();
        let mut resource: Option<Resource> = None;
        let mut permissions: Vec<String> = Vec::new();
        for item in scope.split_whitespace() {
            if let Some(o) = OIDC_SCOPES.iter().find(|o| o.eq_ignore_ascii_case(item)) {
                if !oidc.iter().any(|x| x == o) {
                    oidc.push((*o).to_owned());
                }
                continue;
            }
            let (this, name) = match item.rfind('/') {
                Some(i) => {
                    let prefix = &item[..i];
                    let name = &item[i + 1..];
                    let r = Resource::parse(prefix).ok_or_else(|| invalid_scope(item))?;
                    (r, name)
                }
                None => (Resource::Graph, item),
            };
            let permission = this.permission(name).ok_or_else(|| invalid_scope(item))?;
            match resource {
                None => {
                    resource = Some(this);
                    permissions.push(permission);
                }
                Some(r) if r == this && !permissions.contains(&permission) => {
                    permissions.push(permission)
                }
                Some(_) => {}
            }
        }
        let resource = resource.unwrap_or(Resource::Graph);
        if permissions.is_empty() {
            permissions.push(resource.permission(".default").unwrap_or_default());
        }
        Ok(Self {
            oidc,
            resource,
            permissions,
        })
    }

    fn has(&self, oidc_scope: &str) -> bool {
        self.oidc.iter().any(|s| s == oidc_scope)
    }

    /// The `scope` of the token response.
    fn granted(&self) -> String {
        let mut parts: Vec<String> = self
            .permissions
            .iter()
            .map(|p| match self.resource {
                Resource::Graph => p.clone(),
                r => format!("{}/{p}", r.audience()),
            })
            .collect();
        parts.extend(self.oidc.iter().cloned());
        parts.join(" ")
    }
}

fn invalid_scope(item: &str) -> EntraError {
    EntraError::new(
        "invalid_scope",
        70_011,
        format!(
            "The provided value for the input parameter 'scope' is not valid. The scope '{item}' \
             does not name a resource known in this tenant (known: {PARTNER_CENTER_AUDIENCE}, \
             {ADMIN_API_AUDIENCE}, {GRAPH_AUDIENCE})."
        ),
    )
}

/// Whether a tenant path segment names the partner tenant.
fn known_tenant(tenant: &str) -> bool {
    [PARTNER_TENANT_ID, "organizations", "common", PARTNER_DOMAIN]
        .iter()
        .any(|t| t.eq_ignore_ascii_case(tenant))
}

fn unknown_tenant(tenant: &str) -> EntraError {
    EntraError::new(
        "invalid_request",
        90_002,
        format!("Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID."),
    )
}

fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Redirect URIs the app registration accepts: http(s) loopback on any port (native and
/// development clients), or anything under the simulator's own base URL.
fn allowed_redirect(base: &Url, candidate: &str) -> Option<Url> {
    let url = Url::parse(candidate).ok()?;
    if url.fragment().is_some() || !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip == Ipv4Addr::LOCALHOST,
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    if loopback || (url.origin() == base.origin() && url.path().starts_with(base.path())) {
        Some(url)
    } else {
        None
    }
}

/// A 302 to `target` with extra query parameters.
fn redirect(target: &Url, pairs: &[(&str, &str)]) -> Response {
    let mut url = target.clone();
    {
        let mut query = url.query_pairs_mut();
        for (k, v) in pairs {
            query.append_pair(k, v);
        }
    }
    let mut response = StatusCode::FOUND.into_response();
    if let Ok(location) = HeaderValue::from_str(url.as_str()) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn html_error(status: StatusCode, message: String) -> Response {
    (status, Html(html::error_page(&message))).into_response()
}

/// `GET {authority}/.well-known/openid-configuration`
pub(crate) async fn discovery(
    State(sim): State<Simulator>,
    Path(tenant): Path<String>,
) -> Response {
    if !known_tenant(&tenant) {
        return unknown_tenant(&tenant).into_response();
    }
    let config = &sim.inner.config;
    let login = format!("{}/_sim/login/{tenant}", config.origin());
    Json(json!({
        "issuer": config.authority(),
        "authorization_endpoint": format!("{login}/oauth2/v2.0/authorize"),
        "token_endpoint": format!("{login}/oauth2/v2.0/token"),
        "jwks_uri": format!("{login}/discovery/v2.0/keys"),
        "end_session_endpoint": format!("{login}/oauth2/v2.0/logout"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "scopes_supported": OIDC_SCOPES,
        "subject_types_supported": ["pairwise"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic", "none"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "nonce", "oid", "tid",
                             "name", "preferred_username", "ver", "amr"],
        "tenant_id": PARTNER_TENANT_ID,
    }))
    .into_response()
}

/// `GET {login}/discovery/v2.0/keys`
pub(crate) async fn jwks(State(sim): State<Simulator>, Path(tenant): Path<String>) -> Response {
    if !known_tenant(&tenant) {
        return unknown_tenant(&tenant).into_response();
    }
    Json(json!({"keys": [sim.inner.keys.jwk()]})).into_response()
}

/// `GET {login}/oauth2/v2.0/logout`: back to a valid `post_logout_redirect_uri`, else a page.
pub(crate) async fn logout(State(sim): State<Simulator>, RawQuery(query): RawQuery) -> Response {
    let params: HashMap<String, String> =
        url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let target = params
        .get("post_logout_redirect_uri")
        .and_then(|uri| allowed_redirect(&sim.inner.config.base_url, uri));
    match target {
        Some(url) => {
            let state: Vec<(&str, &str)> = params
                .get("state")
                .map(|s| vec![("state", s.as_str())])
                .unwrap_or_default();
            redirect(&url, &state)
        }
        None => Html(html::signed_out_page()).into_response(),
    }
}

/// `GET|POST {login}/oauth2/v2.0/authorize`
pub(crate) async fn authorize(
    State(sim): State<Simulator>,
    Path(tenant): Path<String>,
    method: Method,
    RawQuery(query): RawQuery,
    body: RawBody,
) -> Response {
    let raw = if method == Method::POST {
        match body.0 {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(()) => {
                return html_error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "AADSTS90015: The request is too large.".to_owned(),
                )
            }
        }
    } else {
        query.unwrap_or_default()
    };
    let params: Vec<(String, String)> = url::form_urlencoded::parse(raw.as_bytes())
        .into_owned()
        .collect();
    sim.authorize_request(&tenant, &params)
}

impl Simulator {
    fn authorize_request(&self, tenant: &str, params: &[(String, String)]) -> Response {
        let config = &self.inner.config;
        let get = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        if !known_tenant(tenant) {
            return html_error(
                StatusCode::BAD_REQUEST,
                format!("AADSTS90002: Tenant '{tenant}' not found."),
            );
        }
        let Some(client_id) = get("client_id") else {
            return html_error(
                StatusCode::BAD_REQUEST,
                "AADSTS900144: The request body must contain the following parameter: \
                 'client_id'."
                    .to_owned(),
            );
        };
        if client_id != config.client_id {
            return html_error(
                StatusCode::BAD_REQUEST,
                format!(
                    "AADSTS700016: Application with identifier '{client_id}' was not found in \
                     the directory '{PARTNER_NAME}'. This can happen if the application has not \
                     been installed by the administrator of the tenant or consented to by any \
                     user in the tenant. You may have sent your authentication request to the \
                     wrong tenant."
                ),
            );
        }
        let redirect_uri = get("redirect_uri").unwrap_or_default();
        let Some(target) = allowed_redirect(&config.base_url, redirect_uri) else {
            return html_error(
                StatusCode::BAD_REQUEST,
                format!(
                    "AADSTS50011: The redirect URI '{redirect_uri}' specified in the request \
                     does not match the redirect URIs configured for the application \
                     '{client_id}'. Allowed: http(s) loopback addresses on any port, or URLs \
                     under {}.",
                    config.origin()
                ),
            );
        };

        let state = get("state");
        let fail = |error: &str, description: String| {
            let mut pairs = vec![
                ("error", error),
                ("error_description", description.as_str()),
            ];
            if let Some(state) = state {
                pairs.push(("state", state));
            }
            redirect(&target, &pairs)
        };
        if get("cancel").is_some() {
            return fail(
                "access_denied",
                "AADSTS65004: User declined to consent to access the app.".to_owned(),
            );
        }
        match get("response_type") {
            Some("code") => {}
            Some(other) => {
                return fail(
                    "unsupported_response_type",
                    format!(
                        "AADSTS700054: response_type '{other}' is not enabled for the \
                         application; use 'code'."
                    ),
                )
            }
            None => {
                return fail(
                    "invalid_request",
                    "AADSTS900144: The request body must contain the following parameter: \
                     'response_type'."
                        .to_owned(),
                )
            }
        }
        if let Some(mode) = get("response_mode") {
            if mode != "query" {
                return fail(
                    "invalid_request",
                    format!(
                        "AADSTS900352: response_mode '{mode}' is not supported by the \
                         simulator; use 'query'."
                    ),
                );
            }
        }
        let scope = get("scope").unwrap_or_default();
        if !scope.split_whitespace().any(|s| s == "openid") {
            return fail(
                "invalid_scope",
                "AADSTS70011: The provided value for the input parameter 'scope' is not valid: \
                 it must contain 'openid'."
                    .to_owned(),
            );
        }
        if let Err(e) = ScopeRequest::parse(scope) {
            return fail(e.error, format!("AADSTS{}: {}", e.aadsts, e.description));
        }
        let Some(challenge) = get("code_challenge") else {
            return fail(
                "invalid_request",
                "AADSTS9002325: Proof Key for Code Exchange is required: send code_challenge \
                 and code_challenge_method=S256."
                    .to_owned(),
            );
        };
        if get("code_challenge_method") != Some("S256") {
            return fail(
                "invalid_request",
                "AADSTS9002326: code_challenge_method must be 'S256'.".to_owned(),
            );
        }
        if challenge.len() != 43 || URL_SAFE_NO_PAD.decode(challenge).is_err() {
            return fail(
                "invalid_request",
                "AADSTS501491: Invalid size of Code_Challenge parameter: send the base64url \
                 SHA-256 of the code_verifier (43 characters)."
                    .to_owned(),
            );
        }
        if state.is_none_or(str::is_empty) {
            return fail(
                "invalid_request",
                "AADSTS900144: The request must contain 'state' (the simulator requires it to \
                 catch CSRF bugs)."
                    .to_owned(),
            );
        }
        let nonce = get("nonce").filter(|n| !n.is_empty());
        if nonce.is_none() {
            return fail(
                "invalid_request",
                "AADSTS900144: The request must contain 'nonce' (the simulator requires it so \
                 id tokens can be bound to the request)."
                    .to_owned(),
            );
        }

        // The sign-in page's "without MFA" box, or `sim_mfa=false` on the authorize URL.
        let mfa = get("sim_mfa") != Some("false");
        let notice = match get("login_hint").filter(|h| !h.trim().is_empty()) {
            Some(hint) => match PartnerUser::by_upn(hint) {
                Some(user) => {
                    let code = random_token(32);
                    let mut oidc = self.inner.oidc.lock();
                    if oidc.codes.len() > PRUNE_ABOVE {
                        oidc.codes
                            .retain(|_, c| c.issued.elapsed() < CODE_LIFETIME * 10);
                    }
                    oidc.codes.insert(
                        code.clone(),
                        AuthCode {
                            client_id: client_id.to_owned(),
                            redirect_uri: redirect_uri.to_owned(),
                            code_challenge: challenge.to_owned(),
                            scope: scope.to_owned(),
                            nonce: nonce.map(str::to_owned),
                            user,
                            mfa,
                            issued: Instant::now(),
                            redeemed: false,
                        },
                    );
                    drop(oidc);
                    let mut pairs = vec![("code", code.as_str())];
                    if let Some(state) = state {
                        pairs.push(("state", state));
                    }
                    return redirect(&target, &pairs);
                }
                None => Some(format!(
                    "The account '{hint}' does not exist in {PARTNER_NAME}. Pick one of the \
                     demo accounts below."
                )),
            },
            None => None,
        };
        let mut response = Html(html::login_page(params, notice.as_deref())).into_response();
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

/// The token endpoint's success body.
#[derive(Serialize)]
struct TokenResponse {
    token_type: &'static str,
    scope: String,
    expires_in: u64,
    ext_expires_in: u64,
    access_token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id_token: Option<String>,
}

/// `POST {login}/oauth2/v2.0/token`
pub(crate) async fn token(
    State(sim): State<Simulator>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: RawBody,
) -> Response {
    let (latency, drop) = {
        let faults = sim.inner.faults.read();
        (faults.token_latency_ms, faults.token_drop)
    };
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    let response = match sim.token_request(&tenant, &headers, body) {
        Ok(response) => {
            let mut response = Json(response).into_response();
            let h = response.headers_mut();
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
            response
        }
        Err(e) => e.into_response(),
    };
    if drop {
        sim.inner
            .counters
            .injected_faults
            .fetch_add(1, Ordering::Relaxed);
        return crate::faults::drop_connection(response).await;
    }
    response
}

/// HTTP Basic client credentials (RFC 6749 §2.3.1: each part form-urlencoded).
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unescape = |s: &str| -> String {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Some((unescape(id), unescape(secret)))
}

impl Simulator {
    fn token_request(
        &self,
        tenant: &str,
        headers: &HeaderMap,
        body: RawBody,
    ) -> Result<TokenResponse, EntraError> {
        if !known_tenant(tenant) {
            return Err(unknown_tenant(tenant));
        }
        let injected = self.inner.faults.read().token_error.clone();
        if let Some(name) = injected {
            self.inner
                .counters
                .injected_faults
                .fetch_add(1, Ordering::Relaxed);
            return Err(EntraError::injected(&name));
        }
        let bytes = body.0.map_err(|()| {
            EntraError::new("invalid_request", 90_015, "The request body is too large.")
        })?;
        let mut params: HashMap<String, String> = HashMap::new();
        for (k, v) in url::form_urlencoded::parse(&bytes) {
            params
                .entry(k.into_owned())
                .or_insert_with(|| v.into_owned());
        }
        let param = |name: &str| {
            params
                .get(name)
                .map(String::as_str)
                .filter(|v| !v.is_empty())
        };

        let config = &self.inner.config;
        let basic = basic_credentials(headers);
        let client_id = param("client_id")
            .map(str::to_owned)
            .or_else(|| basic.as_ref().map(|(id, _)| id.clone()))
            .ok_or_else(|| EntraError::missing("client_id"))?;
        if client_id != config.client_id {
            return Err(EntraError::new(
                "unauthorized_client",
                700_016,
                format!(
                    "Application with identifier '{client_id}' was not found in the directory \
                     '{PARTNER_NAME}'."
                ),
            ));
        }
        if let Some(expected) = &config.client_secret {
            let provided = param("client_secret")
                .map(str::to_owned)
                .or_else(|| basic.as_ref().map(|(_, s)| s.clone()));
            match provided {
                None => {
                    return Err(EntraError::new(
                        "invalid_client",
                        7_000_218,
                        "The request body must contain the following parameter: \
                         'client_assertion' or 'client_secret'.",
                    ))
                }
                Some(secret) if secret != *expected => {
                    return Err(EntraError::new(
                        "invalid_client",
                        7_000_215,
                        format!(
                            "Invalid client secret provided. Ensure the secret being sent in \
                             the request is the client secret value, not the client secret ID, \
                             for a secret added to app '{client_id}'."
                        ),
                    ))
                }
                Some(_) => {}
            }
        }

        match param("grant_type") {
            Some("authorization_code") => self.redeem_code(&client_id, &param),
            Some("refresh_token") => self.redeem_refresh_token(&client_id, &param),
            Some(other) => Err(EntraError::new(
                "unsupported_grant_type",
                70_003,
                format!(
                    "The app requested an unsupported grant type '{other}'; the simulator \
                     supports authorization_code and refresh_token."
                ),
            )),
            None => Err(EntraError::missing("grant_type")),
        }
    }

    fn redeem_code<'p>(
        &self,
        client_id: &str,
        param: &impl Fn(&str) -> Option<&'p str>,
    ) -> Result<TokenResponse, EntraError> {
        let code = param("code").ok_or_else(|| EntraError::missing("code"))?;
        let redirect_uri =
            param("redirect_uri").ok_or_else(|| EntraError::missing("redirect_uri"))?;
        let verifier =
            param("code_verifier").ok_or_else(|| EntraError::missing("code_verifier"))?;

        let (user, scope, nonce, mfa) = {
            let mut oidc = self.inner.oidc.lock();
            let entry = oidc.codes.get_mut(code).ok_or_else(|| {
                EntraError::new(
                    "invalid_grant",
                    70_000,
                    "The provided value for the 'code' parameter is not valid.",
                )
            })?;
            if entry.redeemed {
                return Err(EntraError::new(
                    "invalid_grant",
                    54_005,
                    "OAuth2 Authorization code was already redeemed, please retry with a new \
                     valid code or use an existing refresh token.",
                ));
            }
            if entry.issued.elapsed() > CODE_LIFETIME {
                return Err(EntraError::new(
                    "invalid_grant",
                    70_008,
                    "The provided authorization code or refresh token has expired due to \
                     inactivity. Send a new interactive authorization request for this user and \
                     resource.",
                ));
            }
            if entry.client_id != client_id {
                return Err(EntraError::new(
                    "invalid_grant",
                    70_000,
                    "The authorization code was issued to a different client.",
                ));
            }
            if entry.redirect_uri != redirect_uri {
                return Err(EntraError::new(
                    "invalid_grant",
                    500_112,
                    format!(
                        "The reply address '{redirect_uri}' does not match the reply address \
                         '{}' provided when requesting Authorization code.",
                        entry.redirect_uri
                    ),
                ));
            }
            if s256(verifier) != entry.code_challenge {
                return Err(EntraError::new(
                    "invalid_grant",
                    501_481,
                    "The Code_Verifier does not match the code_challenge supplied in the \
                     authorization request.",
                ));
            }
            entry.redeemed = true;
            (
                entry.user,
                entry.scope.clone(),
                entry.nonce.clone(),
                entry.mfa,
            )
        };

        let request = ScopeRequest::parse(param("scope").unwrap_or(&scope))?;
        let original = ScopeRequest::parse(&scope)?;
        let refresh_scope = original.has("offline_access").then_some(scope.as_str());
        let response = self.issue(
            user,
            client_id,
            &request,
            original.has("openid"),
            nonce,
            refresh_scope,
            mfa,
        )?;
        self.inner
            .counters
            .authorization_code_grants
            .fetch_add(1, Ordering::Relaxed);
        Ok(response)
    }

    fn redeem_refresh_token<'p>(
        &self,
        client_id: &str,
        param: &impl Fn(&str) -> Option<&'p str>,
    ) -> Result<TokenResponse, EntraError> {
        let token = param("refresh_token").ok_or_else(|| EntraError::missing("refresh_token"))?;
        let (user, scope, mfa) = {
            let oidc = self.inner.oidc.lock();
            let record = oidc.refresh_tokens.get(token).ok_or_else(|| {
                EntraError::new(
                    "invalid_grant",
                    9_002_313,
                    "Invalid request. Request is malformed or invalid: the refresh token is not \
                     known (the simulator forgets tokens when it restarts).",
                )
            })?;
            if let Some(revoked) = record.revoked_at {
                return Err(EntraError::new(
                    "invalid_grant",
                    50_173,
                    format!(
                        "The provided grant has expired due to it being revoked, a fresh auth \
                         token is needed. The user might have changed or reset their password. \
                         The grant was issued on '{}' and the TokensValidFrom date (before which \
                         tokens are not valid) for this user is '{}'.",
                        format_entra(record.issued_at),
                        format_entra(revoked)
                    ),
                ));
            }
            if Instant::now() >= record.expires {
                let idle = OffsetDateTime::now_utc() - record.issued_at;
                return Err(EntraError::new(
                    "invalid_grant",
                    700_082,
                    format!(
                        "The refresh token has expired due to inactivity. The token was issued \
                         on {} and was inactive for {}.{:02}:{:02}:{:02}.",
                        format_entra(record.issued_at),
                        idle.whole_days(),
                        idle.whole_hours() % 24,
                        idle.whole_minutes() % 60,
                        idle.whole_seconds() % 60
                    ),
                ));
            }
            if record.client_id != client_id {
                return Err(EntraError::new(
                    "invalid_grant",
                    70_000,
                    "Provided grant is invalid or malformed: the refresh token was issued to a \
                     different client.",
                ));
            }
            (record.user, record.scope.clone(), record.mfa)
        };
        let original = ScopeRequest::parse(&scope)?;
        let request = match param("scope") {
            Some(requested) => ScopeRequest::parse(requested)?,
            None => ScopeRequest::parse(&scope)?,
        };
        // Entra returns an id token at refresh when the grant includes `openid`, carrying the
        // user's current app roles: that is how a relying party sees a changed assignment.
        let id_token = request.has("openid") || original.has("openid");
        let response = self.issue(user, client_id, &request, id_token, None, Some(&scope), mfa)?;
        self.inner
            .counters
            .refresh_token_grants
            .fetch_add(1, Ordering::Relaxed);
        Ok(response)
    }

    /// Signs the tokens of one grant and, when `refresh_scope` is set, stores a new refresh
    /// token (the presented one stays valid until its own expiry, as in Entra).
    #[allow(
        clippy::too_many_arguments,
        reason = "one call per grant type; a struct would only rename them"
    )]
    fn issue(
        &self,
        user: &'static PartnerUser,
        client_id: &str,
        request: &ScopeRequest,
        id_token: bool,
        nonce: Option<String>,
        refresh_scope: Option<&str>,
        mfa: bool,
    ) -> Result<TokenResponse, EntraError> {
        let config = &self.inner.config;
        let keys = &self.inner.keys;
        let now = unix_now();
        let lifetime = config.access_token_lifetime.as_secs();
        let exp = now + lifetime;
        let amr: Vec<String> = if mfa {
            AMR_MFA.iter().map(|s| (*s).to_owned()).collect()
        } else {
            AMR_PASSWORD_ONLY.iter().map(|s| (*s).to_owned()).collect()
        };
        let oid = user.object_id.to_string();
        let signing_failed = |e: String| {
            EntraError::new("server_error", 50_000, format!("Token signing failed: {e}"))
        };

        let access = AccessClaims {
            iss: config.authority(),
            aud: request.resource.audience().to_owned(),
            exp,
            iat: now,
            nbf: now,
            oid: oid.clone(),
            tid: PARTNER_TENANT_ID.to_owned(),
            upn: user.upn.to_owned(),
            name: user.display_name.to_owned(),
            scp: request.permissions.join(" "),
            appid: client_id.to_owned(),
            amr: amr.clone(),
        };
        let access_token = keys.sign(&access).map_err(signing_failed)?;

        let id_token = if id_token {
            let sub = URL_SAFE_NO_PAD.encode(Sha256::digest(format!("{oid}:{client_id}")));
            let claims = IdClaims {
                iss: config.authority(),
                aud: client_id.to_owned(),
                exp,
                iat: now,
                nbf: now,
                nonce,
                sub,
                oid,
                tid: self
                    .inner
                    .id_token_tenant
                    .read()
                    .clone()
                    .unwrap_or_else(|| PARTNER_TENANT_ID.to_owned()),
                name: user.display_name.to_owned(),
                preferred_username: user.upn.to_owned(),
                ver: "2.0".to_owned(),
                amr,
                roles: self.app_roles_of(user),
            };
            Some(keys.sign(&claims).map_err(signing_failed)?)
        } else {
            None
        };

        let refresh_token = refresh_scope.map(|scope| {
            let token = random_token(48);
            let mut oidc = self.inner.oidc.lock();
            if oidc.refresh_tokens.len() > PRUNE_ABOVE {
                let now = Instant::now();
                oidc.refresh_tokens.retain(|_, r| r.expires > now);
            }
            oidc.refresh_tokens.insert(
                token.clone(),
                RefreshRecord {
                    user,
                    client_id: client_id.to_owned(),
                    scope: scope.to_owned(),
                    mfa,
                    issued_at: OffsetDateTime::now_utc(),
                    expires: Instant::now() + config.refresh_token_lifetime,
                    revoked_at: None,
                },
            );
            token
        });

        Ok(TokenResponse {
            token_type: "Bearer",
            scope: request.granted(),
            expires_in: lifetime,
            ext_expires_in: lifetime,
            access_token,
            refresh_token,
            id_token,
        })
    }

    /// The app roles the user holds now: a run-time assignment, else the demo user's own.
    fn app_roles_of(&self, user: &PartnerUser) -> Vec<String> {
        self.inner
            .oidc
            .lock()
            .app_roles
            .get(&user.object_id)
            .cloned()
            .unwrap_or_else(|| user.app_roles.iter().map(|r| (*r).to_owned()).collect())
    }

    /// Replaces the user's app roles in tokens issued from now on; `false` when the user is
    /// unknown.
    pub fn set_app_roles(&self, upn: &str, roles: Vec<String>) -> bool {
        let Some(user) = PartnerUser::by_upn(upn) else {
            return false;
        };
        self.inner
            .oidc
            .lock()
            .app_roles
            .insert(user.object_id, roles);
        true
    }

    /// Revokes every refresh token of the user; `None` when the user is unknown.
    pub(crate) fn revoke_refresh_tokens(&self, upn: &str) -> Option<usize> {
        let user = PartnerUser::by_upn(upn)?;
        let now = OffsetDateTime::now_utc();
        let mut oidc = self.inner.oidc.lock();
        let mut count = 0;
        for record in oidc.refresh_tokens.values_mut() {
            if record.user.object_id == user.object_id && record.revoked_at.is_none() {
                record.revoked_at = Some(now);
                count += 1;
            }
        }
        Some(count)
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on a broken assumption"
)]
mod tests {
    use super::*;

    #[test]
    fn scopes_decide_the_audience() {
        let s = ScopeRequest::parse(
            "openid profile offline_access https://api.partnercenter.microsoft.com/user_impersonation",
        )
        .unwrap();
        assert_eq!(s.resource, Resource::PartnerCenter);
        assert_eq!(s.permissions, vec!["user_impersonation"]);
        assert!(s.has("offline_access"));
        assert_eq!(
            s.granted(),
            "https://api.partnercenter.microsoft.com/user_impersonation openid profile offline_access"
        );
        let s = ScopeRequest::parse(
            "https://api.partnercustomeradministration.microsoft.com/.default https://api.partnercenter.microsoft.com/.default",
        )
        .unwrap();
        assert_eq!(s.resource, Resource::AdminApi);
        assert_eq!(
            s.permissions,
            vec!["PartnerCustomerDelegatedAdministration.ReadWrite.All"]
        );
        let s = ScopeRequest::parse("fa3d9a0c-3fb0-42cc-9193-47c7ecd2edbd/.default").unwrap();
        assert_eq!(s.resource, Resource::PartnerCenter);
        let s = ScopeRequest::parse("openid offline_access").unwrap();
        assert_eq!(s.resource.audience(), GRAPH_AUDIENCE);
        let s = ScopeRequest::parse("openid User.Read").unwrap();
        assert_eq!(s.resource, Resource::Graph);
        let e = ScopeRequest::parse("https://management.azure.com/.default").unwrap_err();
        assert_eq!((e.error, e.aadsts), ("invalid_scope", 70_011));
        assert!(ScopeRequest::parse("https://api.partnercenter.microsoft.com/Foo.Bar").is_err());
    }

    #[test]
    fn redirect_uris_must_be_loopback_or_under_the_base() {
        let base = Url::parse("http://127.0.0.1:3000").unwrap();
        for ok in [
            "http://127.0.0.1:8080/callback",
            "http://localhost/auth/callback?x=1",
            "http://[::1]:9999/cb",
            "https://localhost:443/cb",
            "http://127.0.0.1:3000/auth/callback",
        ] {
            assert!(allowed_redirect(&base, ok).is_some(), "{ok}");
        }
        let public = Url::parse("https://dash.example.com/app").unwrap();
        assert!(allowed_redirect(&public, "https://dash.example.com/app/cb").is_some());
        for bad in [
            "https://evil.example.com/cb",
            "https://dash.example.com.evil.com/app/cb",
            "https://dash.example.com/other",
            "ftp://localhost/cb",
            "http://localhost/cb#frag",
            "not a url",
            "",
        ] {
            assert!(allowed_redirect(&public, bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let mut headers = HeaderMap::new();
        let value = format!("Basic {}", STANDARD.encode("my%20id:p%3Ass"));
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&value).unwrap(),
        );
        assert_eq!(
            basic_credentials(&headers),
            Some(("my id".to_owned(), "p:ss".to_owned()))
        );
    }
}
