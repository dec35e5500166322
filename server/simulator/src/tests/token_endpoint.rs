//! The token endpoint's faults, app roles re-read at refresh, and sign-in without MFA.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use http::{Method, StatusCode};
use serde_json::{json, Value};

use super::*;
use crate::FaultConfig;

/// The claims of a JWT, unverified (the issuing tests verify signatures elsewhere).
fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

#[tokio::test]
async fn token_error_fault_refuses_grants_until_lifted() {
    let t = TestSim::small();
    let rt = t.sign_in(ADMIN, PC_SCOPE).await.refresh_token.unwrap();
    let cases = [
        (
            "temporarily_unavailable",
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "AADSTS90033",
        ),
        (
            "server_error",
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "AADSTS50000",
        ),
        (
            "invalid_grant",
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "AADSTS700082",
        ),
        (
            "invalid_scope",
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "AADSTS70011",
        ),
        (
            "invalid_client",
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "AADSTS7000215",
        ),
        (
            "consent_missing",
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "AADSTS65001",
        ),
    ];
    for (fault, status, error, code) in cases {
        let put = t
            .call(
                Method::PUT,
                "/_sim/faults",
                None,
                Some(json!({ "token_error": fault })),
                None,
            )
            .await;
        assert_eq!(put.status, StatusCode::OK, "{}", put.text());
        let refused = t.refresh(&rt, PC_SCOPE).await;
        assert_eq!(refused.status, status, "{fault}: {}", refused.text());
        let body = refused.json();
        assert_eq!(body["error"], error, "{fault}");
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .starts_with(code),
            "{fault}: {body}"
        );
    }
    let unknown = t
        .call(
            Method::PUT,
            "/_sim/faults",
            None,
            Some(json!({ "token_error": "made_up" })),
            None,
        )
        .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);

    t.sim.set_faults(FaultConfig::default());
    let after = t.refresh(&rt, PC_SCOPE).await;
    assert_eq!(after.status, StatusCode::OK, "{}", after.text());
}

#[tokio::test]
async fn refresh_returns_an_id_token_with_the_current_app_roles() {
    let t = TestSim::small();
    let first = t.sign_in(ADMIN, PC_SCOPE).await;
    assert_eq!(
        claims(&first.id_token.unwrap())["roles"],
        json!(["Dashboard.Read", "Dashboard.Operate", "DapReview.Approve"])
    );
    let rt = first.refresh_token.unwrap();

    let changed = t
        .call(
            Method::PUT,
            "/_sim/app-roles",
            None,
            Some(json!({"upn": ADMIN, "roles": ["Dashboard.Read"]})),
            None,
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.text());

    // The dashboard asks for the resource only; the grant's openid still brings an id token.
    let refreshed = t
        .refresh(
            &rt,
            "https://api.partnercenter.microsoft.com/.default offline_access",
        )
        .await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.text());
    let id = claims(refreshed.json()["id_token"].as_str().unwrap());
    assert_eq!(id["roles"], json!(["Dashboard.Read"]));
    assert!(id.get("nonce").is_none(), "no nonce at refresh: {id}");
    assert_eq!(id["tid"], crate::PARTNER_TENANT_ID);

    let unknown = t
        .call(
            Method::PUT,
            "/_sim/app-roles",
            None,
            Some(json!({"upn": "nobody@x", "roles": []})),
            None,
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let malformed = t
        .call(
            Method::PUT,
            "/_sim/app-roles",
            None,
            Some(json!({"upn": ADMIN, "roles": "Dashboard.Read"})),
            None,
        )
        .await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
}

/// Signs in with `sim_mfa=false` on the authorize request, as the page's box does.
async fn sign_in_without_mfa(t: &TestSim, scope: &str) -> Tokens {
    let verifier = "a-verifier-that-is-long-enough-0123456789-abcdef";
    let query = form(&[
        ("client_id", DEMO_CLIENT_ID),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", scope),
        ("state", "st-1"),
        ("nonce", "n-1"),
        ("code_challenge", &s256(verifier)),
        ("code_challenge_method", "S256"),
        ("login_hint", ADMIN),
        ("sim_mfa", "false"),
    ]);
    let response = t
        .get(
            &format!("{}/oauth2/v2.0/authorize?{query}", t.authority_path()),
            None,
        )
        .await;
    assert_eq!(response.status, StatusCode::FOUND, "{}", response.text());
    let code = param(&response.location_params(), "code")
        .unwrap()
        .to_owned();
    let redeemed = t.redeem(&code, verifier, REDIRECT).await;
    assert_eq!(redeemed.status, StatusCode::OK, "{}", redeemed.text());
    tokens(redeemed.json())
}

#[tokio::test]
async fn tokens_of_a_sign_in_without_mfa_are_refused_by_both_apis() {
    let t = TestSim::small();
    let customer = t.customer_ids()[0].clone();
    let roles = format!("{PC}/customers/{customer}/directoryroles");

    let signed_in = sign_in_without_mfa(&t, PC_SCOPE).await;
    assert_eq!(claims(&signed_in.access_token)["amr"], json!(["pwd"]));
    assert_eq!(
        claims(signed_in.id_token.as_ref().unwrap())["amr"],
        json!(["pwd"])
    );
    let refused = t.get(&roles, Some(&signed_in.access_token)).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(pc_error_code(&refused), "10001");
    assert_eq!(
        refused.json()["description"],
        "Authentication failed. MFA required."
    );
    assert!(refused.header("www-authenticate").is_some());

    // A token redeemed from that sign-in's refresh token has no MFA either.
    let admin = t
        .refresh(
            signed_in.refresh_token.as_ref().unwrap(),
            &format!("{ADMIN_API_AUDIENCE}/.default"),
        )
        .await;
    let admin = tokens(admin.json());
    let refused = t.get(ADMIN_LIST, Some(&admin.access_token)).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        odata_error_message(&refused),
        "Authentication failed. MFA required."
    );
    assert_eq!(refused.json()["error"]["code"], "10001");

    // The same user with MFA is served.
    let with_mfa = t.pc_token(ADMIN).await;
    assert_eq!(claims(&with_mfa)["amr"], json!(["pwd", "mfa"]));
    assert_eq!(t.get(&roles, Some(&with_mfa)).await.status, StatusCode::OK);
}

#[tokio::test]
async fn the_sign_in_page_offers_a_sign_in_without_mfa() {
    let t = TestSim::small();
    let verifier = "v".repeat(50);
    let query = form(&[
        ("client_id", DEMO_CLIENT_ID),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", PC_SCOPE),
        ("state", "s"),
        ("nonce", "n"),
        ("code_challenge", &s256(&verifier)),
        ("code_challenge_method", "S256"),
    ]);
    let page = t
        .get(
            &format!("{}/oauth2/v2.0/authorize?{query}", t.authority_path()),
            None,
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    assert!(
        html.contains("type=\"checkbox\" name=\"sim_mfa\" value=\"false\""),
        "{html}"
    );

    // Ticking the box posts sim_mfa=false with the chosen account.
    let posted = t
        .post_form(
            &format!("{}/oauth2/v2.0/authorize", t.authority_path()),
            format!(
                "{query}&{}",
                form(&[("login_hint", ADMIN), ("sim_mfa", "false")])
            ),
        )
        .await;
    assert_eq!(posted.status, StatusCode::FOUND, "{}", posted.text());
    let code = param(&posted.location_params(), "code").unwrap().to_owned();
    let redeemed = tokens(t.redeem(&code, &verifier, REDIRECT).await.json());
    assert_eq!(claims(&redeemed.access_token)["amr"], json!(["pwd"]));
}
