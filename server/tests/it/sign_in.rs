//! Sign-in, sessions and server functions, over HTTP against the in-process simulator.

use crate::common;

use app::error::AppError;
use common::{TestServer, ADMIN_UPN};
use std::time::Duration;

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[tokio::test]
async fn scripted_sign_in_with_login_hint_reaches_the_customers() {
    let server = TestServer::start().await;
    let (client, page) = server.sign_in(ADMIN_UPN).await;
    let html = page.text().await.unwrap();

    let state = server.sim_state().await;
    let customers = state["customers"].as_array().unwrap();
    assert_eq!(customers.len(), 300);
    let dap = customers
        .iter()
        .filter(|c| c["dapEnabled"].as_bool().unwrap())
        .count();
    assert!(
        html.contains(&format!("data-all=\"300\" data-dap=\"{dap}\"")),
        "the summary counts every customer and the DAP ones"
    );
    assert_eq!(html.matches("data-tenant-id=").count(), 50, "first page");
    assert!(
        html.contains("Avery Admin"),
        "the header shows the signed-in name"
    );
    assert!(html.contains(ADMIN_UPN), "the header shows the UPN");

    // Every customer is rendered on the server when the page is large enough.
    let html = client
        .get(server.url("/customers?per_page=500"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(html.matches("data-tenant-id=").count(), 300);
    for customer in customers {
        let id = customer["customerTenantId"].as_str().unwrap();
        assert!(html.contains(id), "customer {id} missing");
    }
    // Upstream text is rendered as text: no raw tag from an organisation name reaches the page.
    for customer in customers {
        let name = customer["organizationDisplayName"].as_str().unwrap();
        if name.contains('<') {
            assert!(
                !html.contains(name),
                "raw HTML from {name:?} reached the page"
            );
            assert!(
                html.contains(&escape_html(name))
                    || html.contains(&escape_html(name).replace('\'', "&#39;"))
            );
        }
    }
}

#[tokio::test]
async fn the_session_cookie_is_http_only_lax_and_renewed_at_sign_in() {
    let server = TestServer::start().await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let login = client
        .get(server.url(&format!("/login?login_hint={ADMIN_UPN}")))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 303);
    let cookie = login.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(
        !cookie.contains("Secure"),
        "plain http must not set Secure: {cookie}"
    );
    let before = cookie.split(';').next().unwrap().to_string();

    let authorize = login.headers()["location"].to_str().unwrap().to_string();
    let to_callback = client.get(&authorize).send().await.unwrap();
    assert_eq!(to_callback.status(), 302, "login_hint skips the login page");
    let callback = to_callback.headers()["location"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        callback.starts_with(&server.url("/auth/callback")),
        "{callback}"
    );

    let done = client
        .get(&callback)
        .header("Cookie", &before)
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 303);
    assert_eq!(done.headers()["location"], "/customers");
    let after = done.headers()["set-cookie"].to_str().unwrap();
    let after = after.split(';').next().unwrap();
    assert_ne!(before, after, "the session id changes at sign-in");

    // The old id no longer signs anybody in.
    let stale = server
        .call(&reqwest::Client::builder().build().unwrap(), "sync_status")
        .await;
    assert_eq!(stale.status(), 401);
}

#[tokio::test]
async fn server_functions_answer_401_without_a_session() {
    let server = TestServer::start().await;
    let response = server.call(&server.browser(), "sync_status").await;
    assert_eq!(response.status(), 401);
    let error: AppError = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert_eq!(error, AppError::Unauthenticated);

    // The page itself shows a sign-in prompt instead of data.
    let page = server
        .browser()
        .get(server.url("/customers"))
        .send()
        .await
        .unwrap();
    let html = page.text().await.unwrap();
    assert!(html.contains("Sign in with Microsoft"), "{html}");
    assert!(!html.contains("data-tenant-id="));
}

#[tokio::test]
async fn a_cross_origin_post_to_a_server_function_is_rejected() {
    let server = TestServer::start().await;
    let (client, _) = server.sign_in(ADMIN_UPN).await;
    let response = client
        .post(server.url("/api/sync_status"))
        .header("Origin", "https://evil.example.com")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);

    let response = client
        .post(server.url("/api/sync_status"))
        .header("Sec-Fetch-Site", "cross-site")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);

    let logout = client
        .post(server.url("/logout"))
        .header("Origin", "https://evil.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(
        logout.status(),
        403,
        "sign-out cannot be forced from another site"
    );

    // The same call from our own origin works.
    assert_eq!(server.call_upstream(&client).await.status(), 200);
}

#[tokio::test]
async fn access_tokens_are_refreshed_after_they_expire() {
    let server = TestServer::start_with(common::Options {
        token_lifetime: Duration::from_secs(2),
        ..Default::default()
    })
    .await;
    let (client, _) = server.sign_in(ADMIN_UPN).await;
    let grants =
        |state: &serde_json::Value| state["counters"]["refreshTokenGrants"].as_u64().unwrap();
    let first = server.call_upstream(&client).await;
    assert_eq!(first.status(), 200);
    let after_first = grants(&server.sim_state().await);
    let cached = server.call_upstream(&client).await;
    assert_eq!(cached.status(), 200);
    let after_cached = grants(&server.sim_state().await);
    assert_eq!(
        after_cached, after_first,
        "a valid access token is reused, not redeemed again"
    );

    tokio::time::sleep(Duration::from_millis(2500)).await;
    let later = server.call_upstream(&client).await;
    assert_eq!(later.status(), 200, "{}", later.text().await.unwrap());
    assert!(
        grants(&server.sim_state().await) > after_cached,
        "an expired access token is refreshed with the stored refresh token"
    );
}

#[tokio::test]
async fn a_revoked_refresh_token_asks_for_a_new_sign_in() {
    let server = TestServer::start_with(common::Options {
        token_lifetime: Duration::from_secs(1),
        ..Default::default()
    })
    .await;
    let (client, _) = server.sign_in(ADMIN_UPN).await;
    let revoke = reqwest::Client::new()
        .post(server.url("/_sim/refresh-tokens/revoke"))
        .json(&serde_json::json!({ "upn": ADMIN_UPN }))
        .send()
        .await
        .unwrap();
    assert!(revoke.status().is_success());
    tokio::time::sleep(Duration::from_millis(1200)).await;

    let response = server.call_upstream(&client).await;
    assert_eq!(response.status(), 401);
    let error: AppError = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    match error {
        AppError::SignInRequired { reason } => assert!(reason.contains("AADSTS50173"), "{reason}"),
        other => panic!("expected SignInRequired, got {other:?}"),
    }
}

#[tokio::test]
async fn refused_and_forged_sign_ins_end_on_a_clear_page() {
    let server = TestServer::start().await;
    let client = server.browser();

    // Consent declined at the authority.
    let page = client
        .get(server.url("/auth/callback?error=access_denied&error_description=AADSTS65004%3A+User+declined+to+consent"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.url().path(), "/signin-error");
    let html = page.text().await.unwrap();
    assert!(html.contains("Sign-in did not complete"));
    assert!(html.contains("AADSTS65004"), "{html}");

    // A callback whose state does not match the sign-in under way.
    let start = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let login = start.get(server.url("/login")).send().await.unwrap();
    assert_eq!(login.status(), 303);
    let forged = start
        .get(server.url("/auth/callback?code=made-up&state=not-the-right-one"))
        .send()
        .await
        .unwrap();
    let location = forged.headers()["location"].to_str().unwrap();
    assert!(
        location.starts_with("/signin-error?error=state_mismatch"),
        "{location}"
    );

    // A callback with no sign-in under way at all.
    let orphan = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(server.url("/auth/callback?code=x&state=y"))
        .send()
        .await
        .unwrap();
    let location = orphan.headers()["location"].to_str().unwrap();
    assert!(
        location.starts_with("/signin-error?error=no_sign_in_in_progress"),
        "{location}"
    );
}

#[tokio::test]
async fn sign_out_ends_the_session_and_forgets_the_refresh_token() {
    let server = TestServer::start().await;
    let (client, _) = server.sign_in(ADMIN_UPN).await;
    let user_key = server.user_key(ADMIN_UPN);
    let stored: i64 =
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM user_credentials WHERE user_key = $1")
            .bind(&user_key)
            .fetch_one(&server.state.storage.pool)
            .await
            .unwrap();
    assert_eq!(stored, 1);
    let sealed: String =
        sqlx::query_scalar("SELECT refresh_token_sealed FROM user_credentials WHERE user_key = $1")
            .bind(&user_key)
            .fetch_one(&server.state.storage.pool)
            .await
            .unwrap();
    assert!(!sealed.is_empty());

    let logout = client
        .post(server.url("/logout"))
        .header("Origin", &server.base)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 200);
    assert_eq!(logout.url().path(), "/");
    assert_eq!(server.call_upstream(&client).await.status(), 401);
    let stored: i64 =
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM user_credentials WHERE user_key = $1")
            .bind(&user_key)
            .fetch_one(&server.state.storage.pool)
            .await
            .unwrap();
    assert_eq!(stored, 0);
}

#[tokio::test]
async fn healthz_answers_when_the_database_does() {
    let server = TestServer::start().await;
    let response = reqwest::get(server.url("/healthz")).await.unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn unknown_pages_are_404() {
    let server = TestServer::start().await;
    let response = reqwest::get(server.url("/no-such-page")).await.unwrap();
    assert_eq!(response.status(), 404);
}
