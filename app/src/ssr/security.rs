//! Requests that change state must come from our own pages: a POST whose Origin (or, without
//! one, Sec-Fetch-Site) says another site sent it is refused before it reaches a handler. The
//! Origin is compared with the configured public URL only: the Host header is the client's to
//! choose (DNS rebinding sends any name to us), so it proves nothing.
//! Every response carries the security headers; pages get a Content-Security-Policy with a
//! per-response nonce that Leptos puts on its hydration scripts. Nothing rendered per admin is
//! cached (pages, server-function answers, downloads); static assets are.

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
    let refused = match origin {
        Some(origin) => origin != allowed.0,
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

/// What the response headers depend on in the configuration.
#[derive(Clone, Copy, Debug)]
pub struct BrowserPolicy {
    /// The public URL is https: browsers are told to use nothing else (HSTS).
    pub https: bool,
}

const HSTS: &str = "max-age=31536000; includeSubDomains";

/// Static files: the wasm and scripts under /pkg and the public files, same for everyone.
fn is_static_asset(path: &str, headers: &axum::http::HeaderMap) -> bool {
    if path.starts_with("/pkg/") {
        return true;
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    [
        "image/",
        "font/",
        "text/css",
        "text/javascript",
        "application/javascript",
        "application/wasm",
    ]
    .iter()
    .any(|prefix| content_type.starts_with(prefix))
}

const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// A site file named by cargo-leptos' `hash-files`: `/pkg/<name>.<hash>.<ext>`, the hash being
/// an MD5 in unpadded base64url (22 characters).
fn is_content_hashed(path: &str) -> bool {
    let Some(file) = path.strip_prefix("/pkg/") else {
        return false;
    };
    let mut parts = file.rsplit('.');
    let (Some(_extension), Some(hash), Some(name)) = (parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    !name.is_empty()
        && !file.contains('/')
        && hash.len() == 22
        && hash
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

pub async fn security_headers(
    State(policy): State<BrowserPolicy>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_string();
    let mut response = next.run(request).await;
    // A missing file's answer is the (personal) not-found page: not a static file.
    let found = response.status().is_success() || response.status() == StatusCode::NOT_MODIFIED;
    let static_asset = found && is_static_asset(&path, response.headers());
    let headers = response.headers_mut();
    // A shared computer's back button or a proxy must not show another admin's pages or
    // exports: everything but static files is no-store, whatever a handler set.
    if !static_asset {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    } else if is_content_hashed(&path) {
        // Its name changes with its content: a browser never needs to ask again.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE));
    }
    if policy.https {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_static_files_may_be_cached() {
        let with_type = |content_type: &'static str| {
            let mut headers = axum::http::HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            headers
        };
        let none = axum::http::HeaderMap::new();
        assert!(is_static_asset("/pkg/csp-dashboard.wasm", &none));
        assert!(is_static_asset("/favicon.svg", &with_type("image/svg+xml")));
        assert!(!is_static_asset(
            "/customers",
            &with_type("text/html; charset=utf-8")
        ));
        assert!(!is_static_asset(
            "/api/jobs",
            &with_type("application/json")
        ));
        assert!(!is_static_asset(
            "/customers/export.csv",
            &with_type("text/csv")
        ));
        assert!(!is_static_asset("/login", &none));
    }

    #[test]
    fn only_content_hashed_site_files_are_immutable() {
        assert!(is_content_hashed(
            "/pkg/csp-dashboard.Zm9vYmFyYmF6cXV4cXV1eA.wasm"
        ));
        assert!(is_content_hashed(
            "/pkg/csp-dashboard.a-b_c0123456789abcdefg.css"
        ));
        for path in [
            "/pkg/csp-dashboard.wasm",
            "/pkg/csp-dashboard.short.js",
            "/pkg/.Zm9vYmFyYmF6cXV4cXV1eA.js",
            "/pkg/sub/x.Zm9vYmFyYmF6cXV4cXV1eA.js",
            "/pkg/csp-dashboard.Zm9vYmFyYmF6cXV4cXV1e!.js",
            "/favicon.Zm9vYmFyYmF6cXV4cXV1eA.svg",
            "/customers",
        ] {
            assert!(!is_content_hashed(path), "{path}");
        }
    }
}
