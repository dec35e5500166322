//! HTTP-level tests: real requests through the router (`tower::ServiceExt::oneshot`), the way
//! the dashboard calls the simulator.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on a broken assumption"
)]

mod admin;
mod graph;
mod oidc;
mod partner_center;
mod sim;
mod token_endpoint;

use axum::body::{Body, Bytes};
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use http::{header, HeaderMap, Method, Request, StatusCode};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tower::ServiceExt;
use url::Url;

use crate::{SimConfig, Simulator, ADMIN_API_AUDIENCE, DEMO_CLIENT_ID, PARTNER_CENTER_AUDIENCE};

pub(crate) const BASE: &str = "http://sim.test";
pub(crate) const ADMIN: &str = "avery.admin@northwind-partner.onmicrosoft.com";
pub(crate) const READER: &str = "riley.reader@northwind-partner.onmicrosoft.com";
pub(crate) const REDIRECT: &str = "http://127.0.0.1:8400/auth/callback";
pub(crate) const PC_SCOPE: &str =
    "openid profile offline_access https://api.partnercenter.microsoft.com/user_impersonation";
pub(crate) const PC: &str = "/_sim/partnercenter/v1";
pub(crate) const ADMIN_LIST: &str =
    "/_sim/pcsvcadmin/CustomerServiceAdminApi/Web/v1/delegatedAdminCustomers";

pub(crate) fn config(customers: usize) -> SimConfig {
    let mut config = SimConfig::demo(Url::parse(BASE).unwrap());
    config.customers = customers;
    config
}

pub(crate) struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl TestResponse {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}), status {}: {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The query parameters of the `Location` header.
    pub fn location_params(&self) -> Vec<(String, String)> {
        let location = self.header("location").expect("a Location header");
        Url::parse(location)
            .unwrap()
            .query_pairs()
            .into_owned()
            .collect()
    }
}

pub(crate) fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

pub(crate) struct Tokens {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub id_token: Option<String>,
    pub body: Value,
}

pub(crate) fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

pub(crate) fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// A simulator and its router.
pub(crate) struct TestSim {
    pub sim: Simulator,
    pub router: Router,
}

impl TestSim {
    pub fn new(config: SimConfig) -> Self {
        let sim = Simulator::new(config);
        let router = sim.router();
        Self { sim, router }
    }

    pub fn small() -> Self {
        Self::new(config(60))
    }

    pub async fn send(&self, request: Request<Body>) -> TestResponse {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        TestResponse {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        request_id: Option<&str>,
    ) -> TestResponse {
        let mut builder = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        if let Some(id) = request_id {
            builder = builder.header("MS-RequestId", id);
        }
        let body = match body {
            Some(json) => {
                builder = builder.header(header::CONTENT_TYPE, "application/json");
                Body::from(json.to_string())
            }
            None => Body::empty(),
        };
        self.send(builder.body(body).unwrap()).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> TestResponse {
        self.call(Method::GET, path, token, None, None).await
    }

    pub async fn post_form(&self, path: &str, body: String) -> TestResponse {
        self.send(
            Request::post(path)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(body))
                .unwrap(),
        )
        .await
    }

    pub fn authority_path(&self) -> String {
        format!("/_sim/login/{}", crate::PARTNER_TENANT_ID)
    }

    /// Runs authorize with `login_hint` and returns the code.
    pub async fn authorize(&self, upn: &str, scope: &str, verifier: &str) -> String {
        let query = form(&[
            ("client_id", DEMO_CLIENT_ID),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
            ("scope", scope),
            ("state", "st-1"),
            ("nonce", "n-1"),
            ("code_challenge", &s256(verifier)),
            ("code_challenge_method", "S256"),
            ("login_hint", upn),
        ]);
        let response = self
            .get(
                &format!("{}/oauth2/v2.0/authorize?{query}", self.authority_path()),
                None,
            )
            .await;
        assert_eq!(response.status, StatusCode::FOUND, "{}", response.text());
        let params = response.location_params();
        assert_eq!(param(&params, "state"), Some("st-1"));
        param(&params, "code").unwrap().to_owned()
    }

    pub async fn redeem(&self, code: &str, verifier: &str, redirect: &str) -> TestResponse {
        self.post_form(
            &format!("{}/oauth2/v2.0/token", self.authority_path()),
            form(&[
                ("grant_type", "authorization_code"),
                ("client_id", DEMO_CLIENT_ID),
                ("code", code),
                ("redirect_uri", redirect),
                ("code_verifier", verifier),
            ]),
        )
        .await
    }

    pub async fn refresh(&self, refresh_token: &str, scope: &str) -> TestResponse {
        self.post_form(
            &format!("{}/oauth2/v2.0/token", self.authority_path()),
            form(&[
                ("grant_type", "refresh_token"),
                ("client_id", DEMO_CLIENT_ID),
                ("refresh_token", refresh_token),
                ("scope", scope),
            ]),
        )
        .await
    }

    /// Full sign-in (authorize + code redemption).
    pub async fn sign_in(&self, upn: &str, scope: &str) -> Tokens {
        let verifier = "a-verifier-that-is-long-enough-0123456789-abcdef";
        let code = self.authorize(upn, scope, verifier).await;
        let response = self.redeem(&code, verifier, REDIRECT).await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.text());
        tokens(response.json())
    }

    /// A Partner Center access token for `upn`.
    pub async fn pc_token(&self, upn: &str) -> String {
        self.sign_in(upn, PC_SCOPE).await.access_token
    }

    /// An admin API access token for `upn`.
    pub async fn admin_token(&self, upn: &str) -> String {
        let scope = format!("openid offline_access {ADMIN_API_AUDIENCE}/.default");
        self.sign_in(upn, &scope).await.access_token
    }

    pub async fn state(&self) -> Value {
        let response = self.get("/_sim/state", None).await;
        assert_eq!(response.status, StatusCode::OK);
        response.json()
    }

    /// The first customers' tenant ids, in generation order.
    pub fn customer_ids(&self) -> Vec<String> {
        self.sim
            .inner
            .store
            .lock()
            .customers()
            .iter()
            .map(|c| c.tenant_id.to_string())
            .collect()
    }
}

pub(crate) fn tokens(body: Value) -> Tokens {
    Tokens {
        access_token: body["access_token"].as_str().unwrap().to_owned(),
        refresh_token: body["refresh_token"].as_str().map(str::to_owned),
        id_token: body["id_token"].as_str().map(str::to_owned),
        body,
    }
}

/// Asserts the Partner Center error shape and returns its code.
pub(crate) fn pc_error_code(response: &TestResponse) -> String {
    let body = response.json();
    assert!(body["description"].is_string(), "{body}");
    assert_eq!(body["data"], Value::Array(vec![]), "{body}");
    assert!(body["source"].is_string(), "{body}");
    body["code"].as_str().unwrap().to_owned()
}

/// Asserts the OData error shape and returns its message.
pub(crate) fn odata_error_message(response: &TestResponse) -> String {
    let body = response.json();
    let error = &body["error"];
    assert!(error["code"].is_string(), "{body}");
    assert!(error.get("target").is_some(), "{body}");
    assert!(error["details"].is_array(), "{body}");
    error["message"].as_str().unwrap().to_owned()
}

#[test]
fn audiences_are_the_documented_ones() {
    assert_eq!(
        PARTNER_CENTER_AUDIENCE,
        "https://api.partnercenter.microsoft.com"
    );
    assert_eq!(
        ADMIN_API_AUDIENCE,
        "https://api.partnercustomeradministration.microsoft.com"
    );
}
