//! Error bodies in the shapes each simulated host uses (reference "Errors"):
//! Partner Center `{"code","description","data","source"}`, the admin API's OData
//! `{"error":{...}}`, Microsoft Graph's `{"error":{"code","message","innerError"}}`, the
//! throttling body `{"statusCode","message"}` and Entra's token errors.

use axum::response::{IntoResponse, Response};
use axum::Json;
use http::{header, HeaderValue, StatusCode};
use serde::Serialize;
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::timefmt::format_entra;

/// Partner Center fills `source` with the name of the failing front end.
const SOURCE: &str = "PartnerFD";
/// Partner Center caps descriptions at 1024 characters.
const MAX_DESCRIPTION: usize = 1024;

/// Which API answered: decides the error body shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Host {
    PartnerCenter,
    AdminApi,
    Graph,
}

impl Host {
    /// The host an API path belongs to.
    pub(crate) fn of_path(path: &str) -> Self {
        if path.starts_with("/_sim/pcsvcadmin/") {
            Host::AdminApi
        } else if path.starts_with(crate::graph::GRAPH_PREFIX) {
            Host::Graph
        } else {
            Host::PartnerCenter
        }
    }
}

/// An API error; rendered in the shape of its host. Codes are the documented Partner Center
/// ones; where the documentation names none (409, 5xx) the status number is used.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub host: Host,
    pub status: StatusCode,
    pub code: String,
    pub message: String,
    pub www_authenticate: Option<String>,
    /// Seconds; Graph may ask for fractions (`2.128`), so they are kept.
    pub retry_after: Option<f64>,
    /// The admin API renders `code` as is instead of the OData name of the status.
    pub keep_code: bool,
}

/// Partner Center's code for a token issued without multi-factor authentication.
pub(crate) const MFA_REQUIRED_CODE: &str = "10001";
/// Partner Center's words for it.
pub(crate) const MFA_REQUIRED_MESSAGE: &str = "Authentication failed. MFA required.";

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            host: Host::PartnerCenter,
            status,
            code: code.to_owned(),
            message: message.into(),
            www_authenticate: None,
            retry_after: None,
            keep_code: false,
        }
    }

    /// Renders this error for another host.
    pub(crate) fn on(mut self, host: Host) -> Self {
        self.host = host;
        self
    }

    /// 400 800002: missing or malformed input.
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "800002", message)
    }

    /// 400 3000: a property has an invalid value.
    pub(crate) fn invalid_property(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "3000", message)
    }

    /// 401 800001 with a bearer challenge.
    pub(crate) fn unauthorized(realm: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        // Header values must be visible ASCII; quotes would end the quoted-string.
        let quoted = |text: &str| -> String {
            text.chars()
                .map(|c| match c {
                    '"' | '\\' => '\'',
                    c if c == ' ' || c.is_ascii_graphic() => c,
                    _ => '?',
                })
                .collect()
        };
        let challenge = format!(
            "Bearer realm=\"{}\", error=\"invalid_token\", error_description=\"{}\"",
            quoted(realm),
            quoted(&message)
        );
        Self {
            www_authenticate: Some(challenge),
            ..Self::new(StatusCode::UNAUTHORIZED, "800001", message)
        }
    }

    /// 401 10001: an App+User token without `mfa` in its `amr` (mandatory since 2026-04-01).
    pub(crate) fn mfa_required(realm: &str) -> Self {
        Self {
            code: MFA_REQUIRED_CODE.to_owned(),
            keep_code: true,
            ..Self::unauthorized(realm, MFA_REQUIRED_MESSAGE)
        }
    }

    /// 403 900150: the caller's GDAP roles do not allow the operation.
    pub(crate) fn role_forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "900150", message)
    }

    /// 403 900308: insufficient privileges (e.g. not an admin agent).
    pub(crate) fn insufficient_privileges(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "900308", message)
    }

    /// 404 1000: generic not found.
    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "1000", message)
    }

    /// 404 60002: user object id not found.
    pub(crate) fn user_not_found(customer: &Uuid, user: &Uuid) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "60002",
            format!("User object id {user} not found in customer tenant {customer}."),
        )
    }

    /// 404 60003: tenant not found.
    pub(crate) fn tenant_not_found(customer: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "60003",
            format!("The customer tenant {customer} was not found (tenant not found)."),
        )
    }

    /// 409 conflict.
    pub(crate) fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "409", message)
    }

    /// 429 with `Retry-After` and the throttling body.
    pub(crate) fn throttled(retry_after_secs: u64) -> Self {
        let secs = retry_after_secs.max(1);
        Self {
            retry_after: Some(secs as f64),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "429",
                format!("Rate limit is exceeded. Try again in {secs} seconds."),
            )
        }
    }

    /// An error answered by the fault injector; `retry_after` (seconds, possibly fractional)
    /// replaces the default `Retry-After: 1` of a 429 and is also sent with a 503.
    pub(crate) fn injected(status: StatusCode, retry_after: Option<f64>) -> Self {
        if status == StatusCode::TOO_MANY_REQUESTS {
            let mut error = Self::throttled(1);
            if let Some(secs) = retry_after {
                error.retry_after = Some(secs);
                error.message = format!("Rate limit is exceeded. Try again in {secs} seconds.");
            }
            return error;
        }
        let reason = status.canonical_reason().unwrap_or("Error");
        let message = if status.is_server_error() {
            format!(
                "{reason}: the partner API service or one of its dependencies failed to fulfill \
                 the request (injected fault). Callers can retry the request."
            )
        } else {
            format!("{reason} (injected fault).")
        };
        let mut error = Self::new(status, status.as_str(), message);
        if status == StatusCode::SERVICE_UNAVAILABLE {
            error.retry_after = retry_after;
        }
        error
    }
}

/// Microsoft Graph error code for a status.
fn graph_code(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "BadRequest",
        401 => "InvalidAuthenticationToken",
        403 => "Authorization_RequestDenied",
        404 => "ResourceNotFound",
        405 => "MethodNotAllowed",
        413 => "RequestEntityTooLarge",
        429 => "TooManyRequests",
        500 => "InternalServerError",
        502 => "BadGateway",
        503 => "ServiceUnavailable",
        504 => "GatewayTimeout",
        s if s >= 500 => "ServerError",
        _ => "Error",
    }
}

/// OData error code for a status (admin API host).
fn odata_code(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        409 => "conflict",
        413 => "RequestEntityTooLarge",
        429 => "TooManyRequests",
        500 => "InternalServerError",
        502 => "BadGateway",
        503 => "ServiceUnavailable",
        504 => "GatewayTimeout",
        s if s >= 500 => "ServerError",
        _ => "Error",
    }
}

fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => text[..i].to_owned(),
        None => text.to_owned(),
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = if self.host == Host::Graph {
            // Graph answers throttling in its own shape too. The request ids of `innerError`
            // are filled in by the pipeline, which knows them.
            json!({
                "error": {
                    "code": graph_code(self.status),
                    "message": self.message,
                    "innerError": {
                        "date": crate::timefmt::format_graph(OffsetDateTime::now_utc()),
                    }
                }
            })
        } else if self.status == StatusCode::TOO_MANY_REQUESTS {
            json!({"statusCode": 429, "message": self.message})
        } else {
            match self.host {
                Host::PartnerCenter => json!({
                    "code": self.code,
                    "description": truncate(&self.message, MAX_DESCRIPTION),
                    "data": [],
                    "source": SOURCE,
                }),
                Host::AdminApi | Host::Graph => json!({
                    "error": {
                        "code": if self.keep_code { self.code.as_str() } else { odata_code(self.status) },
                        "message": self.message,
                        "target": null,
                        "details": [],
                        "innerError": null,
                    }
                }),
            }
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(challenge) = self.www_authenticate {
            if let Ok(value) = HeaderValue::from_str(&challenge) {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, value);
            }
        }
        if let Some(secs) = self.retry_after {
            // `{}` prints whole seconds without a fraction ("1"), others as given ("0.35").
            if let Ok(value) = HeaderValue::from_str(&format!("{secs}")) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        response
    }
}

/// An Entra token-endpoint error (`{"error","error_description":"AADSTS…",...}`).
#[derive(Debug)]
pub(crate) struct EntraError {
    pub status: StatusCode,
    pub error: &'static str,
    pub aadsts: u32,
    pub description: String,
}

#[derive(Serialize)]
struct EntraErrorBody {
    error: &'static str,
    error_description: String,
    error_codes: [u32; 1],
    timestamp: String,
    trace_id: String,
    correlation_id: String,
}

impl EntraError {
    /// 400 with the given OAuth error and AADSTS code.
    pub(crate) fn new(error: &'static str, aadsts: u32, description: impl Into<String>) -> Self {
        let status = if error == "invalid_client" {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::BAD_REQUEST
        };
        Self {
            status,
            error,
            aadsts,
            description: description.into(),
        }
    }

    /// The refusal a `token_error` fault names (see [`crate::faults::TOKEN_ERRORS`]).
    pub(crate) fn injected(name: &str) -> Self {
        match name {
            "temporarily_unavailable" => Self {
                status: StatusCode::SERVICE_UNAVAILABLE,
                ..Self::new(
                    "temporarily_unavailable",
                    90_033,
                    "A transient error has occurred. Please try again (injected fault).",
                )
            },
            "invalid_grant" => Self::new(
                "invalid_grant",
                700_082,
                "The refresh token has expired due to inactivity (injected fault).",
            ),
            "invalid_scope" => Self::new(
                "invalid_scope",
                70_011,
                "The provided value for the input parameter 'scope' is not valid (injected \
                 fault).",
            ),
            "invalid_client" => Self::new(
                "invalid_client",
                7_000_215,
                "Invalid client secret provided (injected fault).",
            ),
            "consent_missing" => Self::new(
                "invalid_grant",
                65_001,
                "The user or administrator has not consented to use the application (injected \
                 fault).",
            ),
            _ => Self {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                ..Self::new(
                    "server_error",
                    50_000,
                    "There was an error issuing a token or an issue with our sign-in service \
                     (injected fault).",
                )
            },
        }
    }

    /// `AADSTS900144`: a required parameter is missing.
    pub(crate) fn missing(parameter: &str) -> Self {
        Self::new(
            "invalid_request",
            900_144,
            format!("The request body must contain the following parameter: '{parameter}'."),
        )
    }

    /// The full `error_description`, Entra style.
    pub(crate) fn full_description(
        &self,
        trace: &Uuid,
        correlation: &Uuid,
        now: OffsetDateTime,
    ) -> String {
        format!(
            "AADSTS{}: {} Trace ID: {trace} Correlation ID: {correlation} Timestamp: {}",
            self.aadsts,
            self.description,
            format_entra(now)
        )
    }
}

impl IntoResponse for EntraError {
    fn into_response(self) -> Response {
        let trace = Uuid::new_v4();
        let correlation = Uuid::new_v4();
        let now = OffsetDateTime::now_utc();
        let body = EntraErrorBody {
            error: self.error,
            error_description: self.full_description(&trace, &correlation, now),
            error_codes: [self.aadsts],
            timestamp: format_entra(now),
            trace_id: trace.to_string(),
            correlation_id: correlation.to_string(),
        };
        let mut response = (self.status, Json(body)).into_response();
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on a broken assumption"
)]
mod tests {
    use super::*;

    async fn render(error: impl IntoResponse) -> (Response, serde_json::Value) {
        let response = error.into_response();
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        let json = serde_json::from_slice(&bytes).unwrap();
        (Response::from_parts(parts, axum::body::Body::empty()), json)
    }

    #[tokio::test]
    async fn each_host_has_its_shape() {
        let (_, pc) = render(ApiError::not_found("gone")).await;
        assert_eq!(
            pc,
            json!({"code": "1000", "description": "gone", "data": [], "source": "PartnerFD"})
        );
        let (_, odata) = render(ApiError::conflict("dup").on(Host::AdminApi)).await;
        assert_eq!(
            odata,
            json!({"error": {"code": "conflict", "message": "dup", "target": null,
                             "details": [], "innerError": null}})
        );
        let (response, throttled) = render(ApiError::throttled(0).on(Host::AdminApi)).await;
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        assert_eq!(throttled["statusCode"], 429);
        let (_, long) = render(ApiError::bad_request("é".repeat(2000))).await;
        assert_eq!(long["description"].as_str().unwrap().chars().count(), 1024);
    }

    #[tokio::test]
    async fn challenges_stay_valid_header_values() {
        let error = ApiError::unauthorized("aud", "bad \"token\" for Zoë\n");
        let (response, body) = render(error).await;
        let challenge = response.headers()[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap();
        assert_eq!(
            challenge,
            "Bearer realm=\"aud\", error=\"invalid_token\", error_description=\"bad 'token' for Zo??\""
        );
        assert_eq!(body["code"], "800001");
    }

    #[tokio::test]
    async fn entra_errors_carry_codes_and_ids() {
        let (response, body) = render(EntraError::new("invalid_client", 7_000_215, "bad")).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(body["error_codes"], json!([7000215]));
        assert!(body["error_description"]
            .as_str()
            .unwrap()
            .starts_with("AADSTS7000215: bad"));
        let (response, _) = render(EntraError::missing("code")).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    }
}
