//! Bearer-token authentication of API calls, and the request body extractor they share.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use http::{header, HeaderMap, StatusCode};

use crate::errors::{ApiError, Host};
use crate::partner::PartnerUser;
use crate::Simulator;

/// Largest accepted request body.
pub(crate) const BODY_LIMIT: usize = 64 * 1024;

/// Seconds since the Unix epoch (token times).
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Simulator {
    /// The demo user behind a valid access token for `audience`, or a 401 in `host`'s shape.
    pub(crate) fn authenticate(
        &self,
        headers: &HeaderMap,
        audience: &str,
        host: Host,
    ) -> Result<&'static PartnerUser, ApiError> {
        let unauthorized = |message: String| ApiError::unauthorized(audience, message).on(host);
        let value = headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| {
                unauthorized(format!(
                    "The Authorization header is missing: send 'Bearer <access token>' with a \
                     token for audience {audience}."
                ))
            })?
            .to_str()
            .map_err(|_| unauthorized("The Authorization header is not valid text.".to_owned()))?;
        let token = match value.trim().split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
            _ => {
                return Err(unauthorized(
                    "The Authorization header must use the Bearer scheme.".to_owned(),
                ))
            }
        };
        let config = &self.inner.config;
        let claims = self
            .inner
            .keys
            .verify_access(token, &config.authority(), audience, unix_now())
            .map_err(unauthorized)?;
        if claims.appid != config.client_id {
            return Err(unauthorized(format!(
                "The access token was issued to application {}, not a registered one.",
                claims.appid
            )));
        }
        // Partner Center refuses App+User tokens of a sign-in without MFA, whatever the API.
        if !claims.amr.iter().any(|method| method == "mfa") {
            return Err(ApiError::mfa_required(audience).on(host));
        }
        uuid::Uuid::parse_str(&claims.oid)
            .ok()
            .and_then(|oid| PartnerUser::by_object_id(&oid))
            .ok_or_else(|| unauthorized("The access token's user is unknown.".to_owned()))
    }
}

/// The raw request body, read up to [`BODY_LIMIT`]; `Err` when it is larger or unreadable.
/// Never rejects, so each handler answers in its own host's error shape.
pub(crate) struct RawBody(pub Result<Bytes, ()>);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = std::convert::Infallible;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(
            axum::body::to_bytes(request.into_body(), BODY_LIMIT)
                .await
                .map_err(|_| ()),
        ))
    }
}

impl RawBody {
    /// The body parsed as a JSON object, or a 400/413 in `host`'s shape.
    pub(crate) fn json_object(
        self,
        host: Host,
    ) -> Result<serde_json::Map<String, serde_json::Value>, ApiError> {
        let bytes = self.0.map_err(|()| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "413",
                format!("The request body is larger than {BODY_LIMIT} bytes."),
            )
            .on(host)
        })?;
        match serde_json::from_slice::<serde_json::Value>(&bytes) {
            Ok(serde_json::Value::Object(map)) => Ok(map),
            Ok(_) => Err(ApiError::bad_request("The request body must be a JSON object.").on(host)),
            Err(e) => Err(ApiError::bad_request(format!(
                "The request body is not valid JSON: {e}."
            ))
            .on(host)),
        }
    }
}

/// A property of a JSON object, matching the name in any casing (Partner Center accepts both
/// `Id` and `id`).
pub(crate) fn field<'a>(
    object: &'a serde_json::Map<String, serde_json::Value>,
    name: &str,
) -> Option<&'a serde_json::Value> {
    object
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}
