//! Security headers: a Content-Security-Policy with a fresh nonce per page (the one on the
//! hydration scripts), frame-ancestors 'none', nosniff and Referrer-Policy on every response;
//! and the simulator, which exists only in demo mode.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Options, TestServer, ADMIN_UPN};

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn nonce_of(policy: &str) -> String {
    let start = policy.find("'nonce-").unwrap() + "'nonce-".len();
    let end = policy[start..].find('\'').unwrap() + start;
    policy[start..end].to_string()
}

#[tokio::test]
async fn pages_carry_a_per_response_nonce_and_every_response_the_security_headers() {
    let server = TestServer::start().await;
    let (client, _) = server.sign_in(ADMIN_UPN).await;
    let mut nonces = Vec::new();
    for path in [
        "/customers",
        "/customers",
        "/jobs",
        "/reviews",
        "/no-such-page",
    ] {
        let response = client.get(server.url(path)).send().await.unwrap();
        let headers = response.headers().clone();
        let policy = headers["content-security-policy"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(
            policy.contains("frame-ancestors 'none'"),
            "{path}: {policy}"
        );
        assert!(policy.contains("object-src 'none'"));
        assert!(!policy.contains("unsafe-inline"), "{policy}");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["referrer-policy"], "same-origin");
        let nonce = nonce_of(&policy);
        assert!(nonce.len() >= 16);
        let html = response.text().await.unwrap();
        // Every inline script carries this response's nonce.
        let scripts = html.matches("<script").count();
        assert!(scripts > 0, "{path}");
        assert_eq!(
            html.matches(&format!("nonce=\"{nonce}\"")).count(),
            scripts,
            "{path}: every script has the nonce"
        );
        nonces.push(nonce);
    }
    assert_ne!(nonces[0], nonces[1], "a fresh nonce per response");

    // JSON, CSV and server-function answers: nothing may load or frame them.
    let json = server.call(&client, "jobs").await;
    let policy = json.headers()["content-security-policy"].to_str().unwrap();
    assert!(policy.starts_with("default-src 'none'"), "{policy}");
    assert_eq!(json.headers()["x-content-type-options"], "nosniff");
    let csv = client
        .get(server.url("/customers/export.csv"))
        .send()
        .await
        .unwrap();
    assert!(csv.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));
}

#[tokio::test]
async fn the_simulator_does_not_exist_outside_demo_mode() {
    let server = TestServer::start_with(Options {
        configured: true,
        ..Options::default()
    })
    .await;
    assert!(!server.state.config.is_demo());
    // The simulator answers on its own port (the test's "Microsoft")...
    let state = reqwest::get(server.sim_url("/_sim/state")).await.unwrap();
    assert_eq!(state.status(), 200);
    // ...and nothing of it on the dashboard's.
    let tenant = simulator::PARTNER_TENANT_ID;
    let client = no_redirects();
    for path in [
        "/_sim".to_string(),
        "/_sim/".to_string(),
        "/_sim/state".to_string(),
        "/_sim/faults".to_string(),
        format!("/_sim/login/{tenant}/v2.0/.well-known/openid-configuration"),
        format!("/_sim/login/{tenant}/oauth2/v2.0/authorize?login_hint={ADMIN_UPN}"),
        "/_sim/partnercenter/v1/customers".to_string(),
    ] {
        let response = client.get(server.url(&path)).send().await.unwrap();
        assert_eq!(response.status(), 404, "{path}");
    }
    let revoke = client
        .post(server.url("/_sim/refresh-tokens/revoke"))
        .header("Origin", &server.base)
        .form(&[("upn", ADMIN_UPN)])
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status(), 404);
    // Sign-in works, through the simulator as the configured authority.
    let (client, _) = server.sign_in(ADMIN_UPN).await;
    assert_eq!(server.call(&client, "jobs").await.status(), 200);
}
