//! Sign-in: discovery, the authorize endpoint, the token endpoint, refresh and revocation.

use std::time::Duration;

use axum::body::Body;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use http::{header, Method, Request, StatusCode};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{json, Value};

use super::*;
use crate::PARTNER_TENANT_ID;

fn authorize_query(extra: &[(&str, &str)], skip: &[&str]) -> String {
    let verifier = "v".repeat(50);
    let challenge = s256(&verifier);
    let mut pairs: Vec<(&str, &str)> = vec![
        ("client_id", DEMO_CLIENT_ID),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", PC_SCOPE),
        ("state", "state-<&>\"1"),
        ("nonce", "n"),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
    ];
    pairs.retain(|(k, _)| !skip.contains(k));
    pairs.extend_from_slice(extra);
    form(&pairs)
}

#[tokio::test]
async fn discovery_and_jwks_verify_issued_tokens() {
    let t = TestSim::small();
    let authority = format!("{BASE}/_sim/login/{PARTNER_TENANT_ID}/v2.0");
    let d = t
        .get(
            &format!(
                "{}/v2.0/.well-known/openid-configuration",
                t.authority_path()
            ),
            None,
        )
        .await
        .json();
    assert_eq!(d["issuer"], authority);
    assert_eq!(t.sim.config().authority(), authority);
    assert_eq!(
        d["authorization_endpoint"],
        format!("{BASE}/_sim/login/{PARTNER_TENANT_ID}/oauth2/v2.0/authorize")
    );
    assert_eq!(
        d["token_endpoint"],
        format!("{BASE}/_sim/login/{PARTNER_TENANT_ID}/oauth2/v2.0/token")
    );
    assert_eq!(d["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(d["response_types_supported"], json!(["code"]));
    for key in [
        "end_session_endpoint",
        "id_token_signing_alg_values_supported",
        "scopes_supported",
        "subject_types_supported",
        "token_endpoint_auth_methods_supported",
    ] {
        assert!(d.get(key).is_some(), "{key}");
    }
    let organizations = t
        .get(
            "/_sim/login/organizations/v2.0/.well-known/openid-configuration",
            None,
        )
        .await;
    assert_eq!(organizations.status, StatusCode::OK);
    let unknown = t
        .get(
            "/_sim/login/contoso.com/v2.0/.well-known/openid-configuration",
            None,
        )
        .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);

    let jwks_path = d["jwks_uri"]
        .as_str()
        .unwrap()
        .strip_prefix(BASE)
        .unwrap()
        .to_owned();
    let jwks = t.get(&jwks_path, None).await.json();
    let key = &jwks["keys"][0];
    assert_eq!(
        (key["kty"].as_str(), key["use"].as_str()),
        (Some("EC"), Some("sig"))
    );
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(key.clone()).unwrap();
    let decoding = DecodingKey::from_jwk(&jwk).unwrap();

    let tokens = t.sign_in(ADMIN, PC_SCOPE).await;
    assert_eq!(tokens.body["token_type"], "Bearer");
    assert!(tokens.body["expires_in"].as_u64().unwrap() > 3000);
    assert!(tokens.body["ext_expires_in"].is_u64());
    assert!(tokens.body["scope"]
        .as_str()
        .unwrap()
        .contains("user_impersonation"));

    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_audience(&[DEMO_CLIENT_ID]);
    validation.set_issuer(&[&authority]);
    let id =
        jsonwebtoken::decode::<Value>(tokens.id_token.as_ref().unwrap(), &decoding, &validation)
            .unwrap();
    assert_eq!(id.header.kid.as_deref(), key["kid"].as_str());
    let c = id.claims;
    assert_eq!(c["nonce"], "n-1");
    assert_eq!(c["preferred_username"], ADMIN);
    assert_eq!(c["tid"], PARTNER_TENANT_ID);
    assert_eq!(c["ver"], "2.0");
    assert_eq!(c["amr"], json!(["pwd", "mfa"]));
    for claim in ["exp", "iat", "nbf", "sub", "oid", "name"] {
        assert!(c.get(claim).is_some(), "{claim}");
    }

    validation.set_audience(&[PARTNER_CENTER_AUDIENCE]);
    let access = jsonwebtoken::decode::<Value>(&tokens.access_token, &decoding, &validation)
        .unwrap()
        .claims;
    assert_eq!(access["upn"], ADMIN);
    assert_eq!(access["appid"], DEMO_CLIENT_ID);
    assert_eq!(access["scp"], "user_impersonation");
    assert_eq!(access["amr"], json!(["pwd", "mfa"]));
    assert_eq!(access["oid"], c["oid"]);
}

#[tokio::test]
async fn authorize_shows_the_account_picker_and_validates_the_request() {
    let t = TestSim::small();
    let path = format!("{}/oauth2/v2.0/authorize", t.authority_path());

    // No login_hint: the page, listing the demo users, with the params carried escaped.
    let page = t
        .get(&format!("{path}?{}", authorize_query(&[], &[])), None)
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    for user in t.sim.demo_users() {
        assert!(html.contains(&user.upn));
    }
    assert!(html.contains("value=\"state-&lt;&amp;&gt;&quot;1\""));
    assert!(html.contains("Cancel"));

    // Unknown login_hint: the page with a notice.
    let page = t
        .get(
            &format!(
                "{path}?{}",
                authorize_query(&[("login_hint", "nobody@x.com")], &[])
            ),
            None,
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().contains("nobody@x.com"));

    // Choosing an account posts back with login_hint: a code and the state, unchanged.
    let body = authorize_query(&[("login_hint", READER)], &[]);
    let chosen = t.post_form(&path, body).await;
    assert_eq!(chosen.status, StatusCode::FOUND);
    assert!(chosen.header("location").unwrap().starts_with(REDIRECT));
    let params = chosen.location_params();
    assert!(param(&params, "code").is_some());
    assert_eq!(param(&params, "state"), Some("state-<&>\"1"));

    // Cancel.
    let cancelled = t
        .post_form(&path, authorize_query(&[("cancel", "1")], &[]))
        .await;
    let params = cancelled.location_params();
    assert_eq!(param(&params, "error"), Some("access_denied"));
    assert!(param(&params, "error_description")
        .unwrap()
        .starts_with("AADSTS65004"));
    assert_eq!(param(&params, "state"), Some("state-<&>\"1"));

    // Unknown client and foreign redirect: error pages, no redirect.
    let bad_client = t
        .get(
            &format!(
                "{path}?{}",
                authorize_query(
                    &[("client_id", "00000000-0000-0000-0000-000000000001")],
                    &["client_id"]
                )
            ),
            None,
        )
        .await;
    assert_eq!(bad_client.status, StatusCode::BAD_REQUEST);
    assert!(bad_client.text().contains("AADSTS700016"));
    assert!(bad_client.header("location").is_none());
    let bad_redirect = t
        .get(
            &format!(
                "{path}?{}",
                authorize_query(
                    &[("redirect_uri", "https://evil.example/cb")],
                    &["redirect_uri"]
                )
            ),
            None,
        )
        .await;
    assert_eq!(bad_redirect.status, StatusCode::BAD_REQUEST);
    assert!(bad_redirect.text().contains("AADSTS50011"));

    // Missing PKCE or a plain challenge: redirected back with invalid_request and the state.
    for (extra, skip) in [
        (vec![], vec!["code_challenge"]),
        (
            vec![("code_challenge_method", "plain")],
            vec!["code_challenge_method"],
        ),
    ] {
        let response = t
            .get(&format!("{path}?{}", authorize_query(&extra, &skip)), None)
            .await;
        assert_eq!(response.status, StatusCode::FOUND);
        let params = response.location_params();
        assert_eq!(param(&params, "error"), Some("invalid_request"));
        assert!(param(&params, "error_description")
            .unwrap()
            .starts_with("AADSTS"));
        assert_eq!(param(&params, "state"), Some("state-<&>\"1"));
    }
    // A scope without openid, and an unknown resource.
    for scope in [
        "offline_access",
        "openid https://management.azure.com/.default",
    ] {
        let response = t
            .get(
                &format!(
                    "{path}?{}",
                    authorize_query(&[("scope", scope)], &["scope"])
                ),
                None,
            )
            .await;
        let params = response.location_params();
        assert_eq!(param(&params, "error"), Some("invalid_scope"), "{scope}");
    }
}

#[tokio::test]
async fn code_redemption_enforces_pkce_single_use_and_redirect_uri() {
    let t = TestSim::small();
    let verifier = "right-verifier-0123456789-0123456789-0123456789";

    let code = t.authorize(ADMIN, PC_SCOPE, verifier).await;
    let wrong = t
        .redeem(
            &code,
            "wrong-verifier-0123456789-0123456789-012345678",
            REDIRECT,
        )
        .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    let body = wrong.json();
    assert_eq!(body["error"], "invalid_grant");
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .starts_with("AADSTS501481"));
    assert_eq!(body["error_codes"], json!([501481]));
    for key in ["timestamp", "trace_id", "correlation_id"] {
        assert!(body[key].is_string(), "{key}");
    }

    let mismatch = t
        .redeem(&code, verifier, "http://127.0.0.1:9999/other")
        .await;
    assert_eq!(mismatch.status, StatusCode::BAD_REQUEST);
    assert_eq!(mismatch.json()["error"], "invalid_grant");

    let ok = t.redeem(&code, verifier, REDIRECT).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text());
    let tokens = tokens(ok.json());
    assert!(tokens.refresh_token.is_some());
    assert!(tokens.id_token.is_some());

    let reused = t.redeem(&code, verifier, REDIRECT).await;
    assert_eq!(reused.status, StatusCode::BAD_REQUEST);
    let body = reused.json();
    assert_eq!(body["error"], "invalid_grant");
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .starts_with("AADSTS54005"));

    let unknown = t.redeem("not-a-code", verifier, REDIRECT).await;
    assert_eq!(unknown.json()["error"], "invalid_grant");

    assert_eq!(t.state().await["counters"]["authorizationCodeGrants"], 1);
}

#[tokio::test]
async fn refresh_token_serves_the_second_audience_and_rotates() {
    let t = TestSim::small();
    let first = t.sign_in(ADMIN, PC_SCOPE).await;
    let rt = first.refresh_token.unwrap();

    let admin = t
        .refresh(&rt, &format!("{ADMIN_API_AUDIENCE}/.default"))
        .await;
    assert_eq!(admin.status, StatusCode::OK, "{}", admin.text());
    let admin = tokens(admin.json());
    let rotated = admin.refresh_token.clone().unwrap();
    assert_ne!(rotated, rt);
    assert!(
        admin.id_token.is_some(),
        "the grant included openid: Entra returns an id token at refresh"
    );

    // The admin token works on the admin API; the PC token does not.
    let list = t.get(ADMIN_LIST, Some(&admin.access_token)).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text());
    let denied = t.get(ADMIN_LIST, Some(&first.access_token)).await;
    assert_eq!(denied.status, StatusCode::UNAUTHORIZED);

    // The old refresh token stays valid until its own expiry; the new one works too.
    let again = t
        .refresh(
            &rt,
            "openid https://api.partnercenter.microsoft.com/.default",
        )
        .await;
    assert_eq!(again.status, StatusCode::OK);
    assert!(again.json()["id_token"].is_string());
    assert_eq!(t.refresh(&rotated, PC_SCOPE).await.status, StatusCode::OK);

    let bad = t.refresh(&rt, "https://unknown.example.com/.default").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let body = bad.json();
    assert_eq!(body["error"], "invalid_scope");
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .starts_with("AADSTS70011"));

    assert_eq!(t.state().await["counters"]["refreshTokenGrants"], 3);
}

#[tokio::test]
async fn revoked_and_expired_refresh_tokens_fail_with_entra_codes() {
    let t = TestSim::small();
    let rt = t.sign_in(READER, PC_SCOPE).await.refresh_token.unwrap();
    let revoke = t
        .call(
            Method::POST,
            "/_sim/refresh-tokens/revoke",
            None,
            Some(json!({"upn": READER})),
            None,
        )
        .await;
    assert_eq!(revoke.status, StatusCode::OK);
    assert_eq!(revoke.json()["revoked"], 1);
    let refused = t.refresh(&rt, PC_SCOPE).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    let body = refused.json();
    assert_eq!(body["error"], "invalid_grant");
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .starts_with("AADSTS50173"));
    let unknown = t
        .call(
            Method::POST,
            "/_sim/refresh-tokens/revoke",
            None,
            Some(json!({"upn": "nobody@x"})),
            None,
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);

    let mut cfg = config(10);
    cfg.refresh_token_lifetime = Duration::ZERO;
    let t = TestSim::new(cfg);
    let rt = t.sign_in(ADMIN, PC_SCOPE).await.refresh_token.unwrap();
    let expired = t.refresh(&rt, PC_SCOPE).await;
    let body = expired.json();
    assert_eq!(body["error"], "invalid_grant");
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .starts_with("AADSTS700082"));
}

#[tokio::test]
async fn client_secret_is_required_when_configured() {
    let mut cfg = config(10);
    cfg.client_secret = Some("s3cret value".to_owned());
    let t = TestSim::new(cfg);
    let verifier = "x".repeat(43);
    let token_path = format!("{}/oauth2/v2.0/token", t.authority_path());

    let code = t.authorize(ADMIN, PC_SCOPE, &verifier).await;
    let missing = t.redeem(&code, &verifier, REDIRECT).await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    assert_eq!(missing.json()["error"], "invalid_client");

    let wrong = t
        .post_form(
            &token_path,
            form(&[
                ("grant_type", "authorization_code"),
                ("client_id", DEMO_CLIENT_ID),
                ("client_secret", "nope"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", &verifier),
            ]),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.json()["error_description"]
        .as_str()
        .unwrap()
        .starts_with("AADSTS7000215"));

    // HTTP Basic, with the parts form-encoded.
    let basic = STANDARD.encode(format!("{DEMO_CLIENT_ID}:s3cret%20value"));
    let ok = t
        .send(
            Request::post(&token_path)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(header::AUTHORIZATION, format!("Basic {basic}"))
                .body(Body::from(form(&[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", REDIRECT),
                    ("code_verifier", &verifier),
                ])))
                .unwrap(),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text());
}

#[tokio::test]
async fn token_endpoint_rejects_bad_requests_without_panicking() {
    let t = TestSim::small();
    let token_path = format!("{}/oauth2/v2.0/token", t.authority_path());
    let cases = [
        (String::new(), "invalid_request"),
        (form(&[("client_id", DEMO_CLIENT_ID)]), "invalid_request"),
        (
            form(&[("client_id", DEMO_CLIENT_ID), ("grant_type", "password")]),
            "unsupported_grant_type",
        ),
        (
            form(&[
                ("client_id", "someone-else"),
                ("grant_type", "refresh_token"),
            ]),
            "unauthorized_client",
        ),
        (
            form(&[
                ("client_id", DEMO_CLIENT_ID),
                ("grant_type", "refresh_token"),
                ("refresh_token", "garbage"),
            ]),
            "invalid_grant",
        ),
        ("%%%&&&==\u{0}".to_owned(), "invalid_request"),
    ];
    for (body, error) in cases {
        let response = t.post_form(&token_path, body.clone()).await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(response.json()["error"], error, "{body}");
    }
}
