//! The token broker fails safe: the stored credential goes only when the authority says the
//! grant is dead; outages and configuration refusals keep it and say what happened; a sign-out
//! during a renewal is not undone by the renewal; app roles are re-read at each refresh; and
//! Partner Center's refusal of a sign-in without MFA tells the admin what to do.

use crate::common;

use app::error::AppError;
use common::{TestServer, ADMIN_UPN};
use simulator::FaultConfig;
use std::time::Duration;

/// Access tokens live one second, so the next call after `expire` redeems the refresh token.
async fn server() -> TestServer {
    server_on(common::Db::Sqlite).await
}

async fn server_on(db: common::Db) -> TestServer {
    TestServer::start_with(common::Options {
        db,
        token_lifetime: Duration::from_secs(1),
        ..Default::default()
    })
    .await
}

async fn expire() {
    tokio::time::sleep(Duration::from_millis(1100)).await;
}

async fn stored_credentials(server: &TestServer) -> i64 {
    sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM user_credentials WHERE user_key = $1")
        .bind(server.user_key(ADMIN_UPN))
        .fetch_one(&server.state.storage.pool)
        .await
        .unwrap()
}

async fn error_of(response: reqwest::Response) -> (u16, AppError) {
    let status = response.status().as_u16();
    let body = response.text().await.unwrap();
    let error = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {status} {body}"));
    (status, error)
}

fn token_fault(name: &str) -> FaultConfig {
    FaultConfig {
        token_error: Some(name.into()),
        ..FaultConfig::default()
    }
}

#[tokio::test]
async fn an_unavailable_token_endpoint_keeps_the_credential_and_later_calls_work() {
    let server = server().await;
    let (client, _) = server.sign_in(ADMIN_UPN).await;
    for fault in ["temporarily_unavailable", "server_error"] {
        expire().await;
        server.simulator.set_faults(token_fault(fault));
        let (status, error) = error_of(server.call_upstream(&client).await).await;
        assert_eq!(status, 503, "{fault}: {error:?}");
        match &error {
            AppError::SignInUnavailable { reason } => {
                assert!(reason.contains(fault), "{reason}")
            }
            other => panic!("{fault}: expected SignInUnavailable, got {other:?}"),
        }
        assert!(
            !error.needs_sign_in(),
            "an outage is not a reason to sign in"
        );
        assert!(
            error.to_string().contains("Your sign-in is kept"),
            "{error}"
        );
        assert_eq!(stored_credentials(&server).await, 1, "{fault} keeps it");

        server.simulator.set_faults(FaultConfig::default());
        let later = server.call_upstream(&client).await;
        assert_eq!(later.status(), 200, "{}", later.text().await.unwrap());
    }
}

#[tokio::test]
async fn a_connection_lost_at_the_token_endpoint_keeps_the_credential() {
    let server = server().await;
    let (client, _) = server.sign_in(ADMIN_UPN).await;
    expire().await;
    server.simulator.set_faults(FaultConfig {
        token_drop: true,
        ..FaultConfig::default()
    });
    let (status, error) = error_of(server.call_upstream(&client).await).await;
    assert_eq!(status, 503, "{error:?}");
    assert!(
        matches!(error, AppError::SignInUnavailable { .. }),
        "{error:?}"
    );
    assert_eq!(stored_credentials(&server).await, 1);
    server.simulator.set_faults(FaultConfig::default());
    assert_eq!(server.call_upstream(&client).await.status(), 200);
}

#[tokio::test]
async fn a_dead_grant_deletes_the_credential_and_says_why() {
    let server = server().await;
    let (client, _) = server.sign_in(ADMIN_UPN).await;
    expire().await;
    server.simulator.set_faults(token_fault("invalid_grant"));
    let (status, error) = error_of(server.call_upstream(&client).await).await;
    assert_eq!(status, 401);
    match &error {
        AppError::SignInRequired { reason } => assert!(reason.contains("AADSTS700082"), "{reason}"),
        other => panic!("expected SignInRequired, got {other:?}"),
    }
    assert_eq!(stored_credentials(&server).await, 0);

    // Lifting the fault does not bring it back: the grant was dead.
    server.simulator.set_faults(FaultConfig::default());
    let (status, error) = error_of(server.call_upstream(&client).await).await;
    assert_eq!(status, 401);
    assert!(error.to_string().contains("AADSTS700082"), "{error}");
}

#[tokio::test]
async fn a_configuration_refusal_keeps_the_credential_and_does_not_ask_to_sign_in() {
    let server = server().await;
    let (client, _) = server.sign_in(ADMIN_UPN).await;
    for (fault, code) in [
        ("invalid_scope", "AADSTS70011"),
        ("invalid_client", "AADSTS7000215"),
        ("consent_missing", "AADSTS65001"),
    ] {
        expire().await;
        server.simulator.set_faults(token_fault(fault));
        let (status, error) = error_of(server.call_upstream(&client).await).await;
        assert_eq!(status, 500, "{fault}: {error:?}");
        assert!(
            matches!(error, AppError::SignInMisconfigured { .. }),
            "{fault}: {error:?}"
        );
        let text = error.to_string();
        assert!(text.contains(code), "{text}");
        assert!(!text.contains("Please sign in again"), "{text}");
        assert!(!error.needs_sign_in());
        assert_eq!(stored_credentials(&server).await, 1, "{fault} keeps it");
    }
    server.simulator.set_faults(FaultConfig::default());
    assert_eq!(server.call_upstream(&client).await.status(), 200);
}

#[tokio::test]
async fn signing_out_during_a_renewal_is_not_undone_by_it() {
    let server = server().await;
    let (client, _) = server.sign_in(ADMIN_UPN).await;
    expire().await;
    server.simulator.set_faults(FaultConfig {
        token_latency_ms: 1500,
        ..FaultConfig::default()
    });
    let renewal = {
        let (server_client, url, base) = (
            client.clone(),
            server.url("/api/customer_directory"),
            server.base.clone(),
        );
        let customer = server.sim_state().await["customers"][0]["customerTenantId"]
            .as_str()
            .unwrap()
            .to_string();
        tokio::spawn(async move {
            server_client
                .post(url)
                .header("Origin", base)
                .header("Accept", "application/json")
                .form(&[("customer_tenant_id", customer)])
                .send()
                .await
                .unwrap()
        })
    };
    tokio::time::sleep(Duration::from_millis(400)).await;
    let logout = client
        .post(server.url("/logout"))
        .header("Origin", &server.base)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 200);
    let _ = renewal.await.unwrap();
    server.simulator.set_faults(FaultConfig::default());
    assert_eq!(
        stored_credentials(&server).await,
        0,
        "the renewal's rotated refresh token must not bring the credential back"
    );
    // And no cached access token outlives the sign-out.
    let after = server
        .state
        .tokens
        .access_token(
            &server.user_key(ADMIN_UPN),
            &server.state.config.partner_center_audience,
        )
        .await;
    assert!(
        matches!(after, Err(AppError::SignInRequired { .. })),
        "{after:?}"
    );
}

#[tokio::test]
async fn a_credential_deleted_elsewhere_during_a_renewal_stays_deleted() {
    // Another instance signs the admin out (deletes the row) while this one is renewing.
    let server = server().await;
    let (client, _) = server.sign_in(ADMIN_UPN).await;
    expire().await;
    server.simulator.set_faults(FaultConfig {
        token_latency_ms: 1000,
        ..FaultConfig::default()
    });
    let tokens = server.state.tokens.clone();
    let (user_key, audience) = (
        server.user_key(ADMIN_UPN),
        server.state.config.partner_center_audience.clone(),
    );
    let renewal = tokio::spawn(async move { tokens.access_token(&user_key, &audience).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    sqlx::query("DELETE FROM user_credentials WHERE user_key = $1")
        .bind(server.user_key(ADMIN_UPN))
        .execute(&server.state.storage.pool)
        .await
        .unwrap();
    let renewed = renewal.await.unwrap();
    server.simulator.set_faults(FaultConfig::default());
    match renewed {
        Err(AppError::SignInRequired { reason }) => {
            assert!(reason.contains("signed out"), "{reason}")
        }
        other => panic!("expected SignInRequired, got {other:?}"),
    }
    assert_eq!(stored_credentials(&server).await, 0);
    assert_eq!(server.call_upstream(&client).await.status(), 401);
}

#[tokio::test]
async fn app_roles_are_stored_at_sign_in_and_re_read_at_each_refresh() {
    app_roles_re_read(server().await).await;
}

#[tokio::test]
async fn app_roles_are_re_read_and_renewals_compare_and_swap_on_postgresql() {
    let server = server_on(common::Db::Postgres).await;
    app_roles_re_read(server).await;

    let server = server_on(common::Db::Postgres).await;
    let (client, _) = server.sign_in(ADMIN_UPN).await;
    expire().await;
    server
        .simulator
        .set_faults(token_fault("temporarily_unavailable"));
    let (status, _) = error_of(server.call_upstream(&client).await).await;
    assert_eq!(status, 503);
    assert_eq!(stored_credentials(&server).await, 1);
    server.simulator.set_faults(token_fault("invalid_grant"));
    let (status, _) = error_of(server.call_upstream(&client).await).await;
    assert_eq!(status, 401);
    assert_eq!(stored_credentials(&server).await, 0);
}

async fn app_roles_re_read(server: TestServer) {
    let (client, _) = server.sign_in(ADMIN_UPN).await;
    let user_key = server.user_key(ADMIN_UPN);
    assert_eq!(
        server
            .state
            .tokens
            .current_app_roles(&user_key)
            .await
            .unwrap(),
        Some(vec![
            "Dashboard.Read".to_string(),
            "Dashboard.Operate".to_string(),
            "DapReview.Approve".to_string()
        ])
    );
    assert_eq!(
        server
            .state
            .tokens
            .current_app_roles("nobody:nobody")
            .await
            .unwrap(),
        None
    );

    assert!(server
        .simulator
        .set_app_roles(ADMIN_UPN, vec!["Dashboard.Read".to_string()]));
    expire().await;
    let response = server.call_upstream(&client).await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    assert_eq!(
        server
            .state
            .tokens
            .current_app_roles(&user_key)
            .await
            .unwrap(),
        Some(vec!["Dashboard.Read".to_string()]),
        "the refresh's id token carries the new assignment"
    );

    assert!(server.simulator.set_app_roles(ADMIN_UPN, Vec::new()));
    expire().await;
    assert_eq!(server.call_upstream(&client).await.status(), 200);
    assert_eq!(
        server
            .state
            .tokens
            .current_app_roles(&user_key)
            .await
            .unwrap(),
        Some(Vec::new()),
        "a removed assignment is seen too"
    );
}

/// Signs in through the dashboard's `/login` with the simulator's "without MFA" switch.
async fn sign_in_without_mfa(server: &TestServer) -> reqwest::Client {
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let login = client
        .get(server.url(&format!("/login?login_hint={ADMIN_UPN}")))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 303);
    let authorize = login.headers()["location"].to_str().unwrap().to_string();
    let to_callback = client
        .get(format!("{authorize}&sim_mfa=false"))
        .send()
        .await
        .unwrap();
    assert_eq!(to_callback.status(), 302);
    let callback = to_callback.headers()["location"]
        .to_str()
        .unwrap()
        .to_string();
    let done = client.get(&callback).send().await.unwrap();
    assert_eq!(done.status(), 303, "{}", done.text().await.unwrap());
    client
}

#[tokio::test]
async fn partner_centers_refusal_of_a_sign_in_without_mfa_says_to_sign_in_with_mfa() {
    let server = TestServer::start().await;
    let client = sign_in_without_mfa(&server).await;
    let (status, error) = error_of(server.call_upstream(&client).await).await;
    assert_eq!(status, 401);
    assert!(
        matches!(
            error,
            AppError::MfaRequired {
                correlation_id: Some(_)
            }
        ),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("sign in again with MFA"),
        "{error}"
    );
    // The credential is not a dead grant: it stays until the admin signs in again.
    assert_eq!(stored_credentials(&server).await, 1);

    // The page says so too, with the way to sign in again.
    let customer = server.sim_state().await["customers"][0]["customerTenantId"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, html) = server
        .page(&client, &format!("/customers/{customer}"))
        .await;
    assert!(
        html.contains("Sign in again with multi-factor authentication"),
        "{html}"
    );
    assert!(html.contains("sign in again with MFA"), "{html}");

    // Signing in again with MFA replaces the tokens of the MFA-less sign-in.
    let (client, _) = server.sign_in(ADMIN_UPN).await;
    assert_eq!(server.call_upstream(&client).await.status(), 200);
}

#[tokio::test]
async fn a_newer_sign_in_stored_during_a_renewal_is_kept() {
    // Another instance stores a new sign-in (another sealed refresh token) while this one is
    // renewing with the old token: the newer credential must survive the renewal.
    let server = server().await;
    let (_client, _) = server.sign_in(ADMIN_UPN).await;
    expire().await;
    server.simulator.set_faults(FaultConfig {
        token_latency_ms: 1000,
        ..FaultConfig::default()
    });
    let tokens = server.state.tokens.clone();
    let (user_key, audience) = (
        server.user_key(ADMIN_UPN),
        server.state.config.partner_center_audience.clone(),
    );
    let renewal = tokio::spawn(async move { tokens.access_token(&user_key, &audience).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let newer = "sealed-by-a-newer-sign-in";
    sqlx::query("UPDATE user_credentials SET refresh_token_sealed = $1 WHERE user_key = $2")
        .bind(newer)
        .bind(server.user_key(ADMIN_UPN))
        .execute(&server.state.storage.pool)
        .await
        .unwrap();
    let renewed = renewal.await.unwrap();
    server.simulator.set_faults(FaultConfig::default());
    assert!(renewed.is_ok(), "the admin is still signed in: {renewed:?}");
    let stored: String =
        sqlx::query_scalar("SELECT refresh_token_sealed FROM user_credentials WHERE user_key = $1")
            .bind(server.user_key(ADMIN_UPN))
            .fetch_one(&server.state.storage.pool)
            .await
            .unwrap();
    // Compared without printing: the stored value is a sealed refresh token.
    assert!(stored == newer, "the renewal overwrote the newer sign-in");
}

/// The next `count` calls whose path holds `path` answer 401, as a service does for a token
/// that lapsed on its way or that Continuous Access Evaluation ended early.
fn token_refusals(path: &str, count: u64) -> FaultConfig {
    FaultConfig {
        error_rates: std::collections::BTreeMap::from([(401, 1.0)]),
        path_contains: Some(path.into()),
        max_faults: Some(count),
        ..FaultConfig::default()
    }
}

#[tokio::test]
async fn a_refused_access_token_is_renewed_once_for_partner_center_and_graph() {
    let server = TestServer::start().await;
    let (client, _) = server.sign_in(ADMIN_UPN).await;
    server.wait_for_sync(&client).await;
    let state = server.sim_state().await;
    let customer = state["customers"][0]["customerTenantId"]
        .as_str()
        .unwrap()
        .to_string();
    let args = [("customer_tenant_id", customer.as_str())];
    for (path, function) in [
        ("directoryroles", "customer_directory"),
        ("tenantRelationships", "customer_gdap"),
    ] {
        server.simulator.set_faults(token_refusals(path, 1));
        let response = server.call_with(&client, function, &args).await;
        let status = response.status();
        assert_eq!(
            status,
            200,
            "{function}: {}",
            response.text().await.unwrap()
        );

        // Refused again with the renewed token: no loop, the admin is asked to sign in.
        server.simulator.set_faults(token_refusals(path, 2));
        let (status, error) = error_of(server.call_with(&client, function, &args).await).await;
        assert_eq!(status, 401, "{function}: {error:?}");
        assert!(
            matches!(error, AppError::SignInRequired { .. }),
            "{function}: {error:?}"
        );
        server.simulator.set_faults(FaultConfig::default());
        let later = server.call_with(&client, function, &args).await;
        assert_eq!(later.status(), 200, "{function} works again");
    }
}
