//! Requests that change state must come from our own pages: a POST whose Origin (or, without
//! one, Sec-Fetch-Site) says another site sent it is refused before it reaches a handler.

use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use url::Url;

#[derive(Clone)]
pub struct AllowedOrigin(pub String);

impl AllowedOrigin {
    pub fn from_public_url(url: &Url) -> Self {
        AllowedOrigin(url.origin().ascii_serialization())
    }
}

pub async fn reject_cross_origin(
    State(allowed): State<AllowedOrigin>,
    request: Request,
    next: Next,
) -> Response {
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        return next.run(request).await;
    }
    let headers = request.headers();
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    let same_host_origin = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(|host| (format!("http://{host}"), format!("https://{host}")));
    let allowed_here = |origin: &str| {
        origin == allowed.0
            || same_host_origin
                .as_ref()
                .is_some_and(|(http, https)| origin == http || origin == https)
    };
    let refused = match origin {
        Some(origin) => !allowed_here(origin),
        None => headers
            .get("sec-fetch-site")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|site| site == "cross-site"),
    };
    if refused {
        tracing::warn!(origin = origin.unwrap_or("-"), path = %request.uri().path(), "cross-origin write refused");
        return (
            StatusCode::FORBIDDEN,
            "Cross-origin requests are not accepted.",
        )
            .into_response();
    }
    next.run(request).await
}
