//! Requests that change state must come from our own pages: a POST whose Origin (or, without
//! one, Sec-Fetch-Site) says another site sent it is refused before it reaches a handler.
//! Every response carries the security headers; pages get a Content-Security-Policy with a
//! per-response nonce that Leptos puts on its hydration scripts.

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
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

/// Where forms may post or be redirected after posting: this origin, and the sign-in authority
/// (sign-out ends there).
#[derive(Clone, Debug)]
pub struct PagePolicy {
    form_targets: String,
}

impl PagePolicy {
    pub fn new(authority: &Url) -> Self {
        let authority = authority.origin().ascii_serialization();
        PagePolicy {
            form_targets: format!("'self' {authority}"),
        }
    }

    /// The policy of one HTML page. WebAssembly needs 'wasm-unsafe-eval' to compile; no inline
    /// script runs without the nonce.
    pub fn with_nonce(&self, nonce: &str) -> String {
        format!(
            "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
             style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
             base-uri 'none'; form-action {}; frame-ancestors 'none'",
            self.form_targets
        )
    }
}

/// Everything but pages (JSON, CSV, redirects, errors) needs no content at all.
const NON_PAGE_POLICY: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'";

/// Called while a page renders (the nonce is in the reactive context): sets the page's policy.
pub fn set_page_policy() {
    use leptos::prelude::use_context;
    let (Some(nonce), Some(policy), Some(response)) = (
        leptos::nonce::use_nonce(),
        use_context::<PagePolicy>(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) else {
        return;
    };
    if let Ok(value) = HeaderValue::from_str(&policy.with_nonce(&nonce)) {
        response.insert_header(header::CONTENT_SECURITY_POLICY, value);
    }
}

pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(NON_PAGE_POLICY));
    response
}
