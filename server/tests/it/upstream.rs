//! The typed Partner Center client against the simulator over HTTP: status mapping, headers,
//! paging, and the simulator's own checks of tokens and GDAP roles.

use crate::common;

use app::error::AppError;
use app::ids::Guid;
use app::ssr::partner_center::{CallIds, UpstreamError};
use common::{TestServer, ADMIN_UPN, READER_UPN};
use reqwest::Method;
use std::collections::BTreeMap;

async fn token(server: &TestServer, upn: &str, audience: &str) -> app::ssr::auth::AccessToken {
    server
        .state
        .tokens
        .access_token(&server.user_key(upn), audience)
        .await
        .unwrap()
}

async fn get(
    server: &TestServer,
    upn: &str,
    audience: &str,
    path: &str,
) -> Result<serde_json::Value, UpstreamError> {
    let token = token(server, upn, audience).await;
    let pc = &server.state.partner_center;
    pc.send_json::<serde_json::Value, ()>(
        &token,
        Method::GET,
        pc.partner_center_url(path),
        &CallIds::new(Guid::new_v4()),
        None,
    )
    .await
}

fn pc_audience(server: &TestServer) -> String {
    server.state.config.partner_center_audience.clone()
}

#[tokio::test]
async fn a_token_for_the_wrong_audience_is_refused_and_means_sign_in_again() {
    let server = TestServer::start().await;
    server.sign_in(ADMIN_UPN).await;
    let customer = first_customer(&server).await;
    // A Partner Customer Administration token used on the Partner Center API.
    let admin_audience = server.state.config.admin_api_audience.clone();
    let error = get(
        &server,
        ADMIN_UPN,
        &admin_audience,
        &format!("customers/{customer}/directoryroles"),
    )
    .await
    .unwrap_err();
    assert_eq!(error.status(), Some(401));
    assert!(AppError::from(error).needs_sign_in());
}

#[tokio::test]
async fn unknown_ids_are_404_with_the_correlation_id() {
    let server = TestServer::start().await;
    server.sign_in(ADMIN_UPN).await;
    let unknown = Guid::new_v4();
    let error = get(
        &server,
        ADMIN_UPN,
        &pc_audience(&server),
        &format!("customers/{unknown}/directoryroles"),
    )
    .await
    .unwrap_err();
    let UpstreamError::Status {
        status,
        correlation_id,
        ..
    } = &error
    else {
        panic!("expected a status error, got {error:?}");
    };
    assert_eq!(*status, 404);
    assert!(
        Guid::parse(correlation_id).is_ok(),
        "the MS-CorrelationId is echoed"
    );
    assert!(matches!(AppError::from(error), AppError::NotFound { .. }));
}

#[tokio::test]
async fn the_read_only_admin_gets_403_naming_the_missing_role() {
    let server = TestServer::start().await;
    server.sign_in(READER_UPN).await;
    let customer = first_customer(&server).await;
    let roles = get(
        &server,
        READER_UPN,
        &pc_audience(&server),
        &format!("customers/{customer}/directoryroles"),
    )
    .await
    .unwrap();
    let role_id = roles["items"][0]["id"].as_str().unwrap().to_string();
    let users = get(
        &server,
        READER_UPN,
        &pc_audience(&server),
        &format!("customers/{customer}/users"),
    )
    .await
    .unwrap();
    let user = &users["items"][0];

    let token = token(&server, READER_UPN, &pc_audience(&server)).await;
    let pc = &server.state.partner_center;
    let body = serde_json::json!({
        "Id": user["id"], "DisplayName": user["displayName"],
        "UserPrincipalName": user["userPrincipalName"], "Attributes": {"ObjectType": "UserMember"}
    });
    let error = pc
        .send(
            &token,
            Method::POST,
            pc.partner_center_url(&format!(
                "customers/{customer}/directoryroles/{role_id}/usermembers"
            )),
            &CallIds::new(Guid::new_v4()),
            Some(&body),
        )
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(403));
    match AppError::from(error) {
        AppError::Forbidden {
            message,
            correlation_id,
        } => {
            assert!(
                message.contains("Privileged Role Administrator"),
                "{message}"
            );
            assert!(correlation_id.is_some());
        }
        other => panic!("expected Forbidden, got {other:?}"),
    }
}

#[tokio::test]
async fn throttling_is_429_with_retry_after() {
    let server = TestServer::start().await;
    server.sign_in(ADMIN_UPN).await;
    let customer = first_customer(&server).await;
    server.simulator.set_faults(simulator::FaultConfig {
        error_rates: BTreeMap::from([(429, 1.0)]),
        ..Default::default()
    });
    let error = get(
        &server,
        ADMIN_UPN,
        &pc_audience(&server),
        &format!("customers/{customer}/users"),
    )
    .await
    .unwrap_err();
    assert!(error.is_transient());
    match AppError::from(error) {
        AppError::Throttled {
            retry_after_secs, ..
        } => assert!(retry_after_secs >= 1),
        other => panic!("expected Throttled, got {other:?}"),
    }

    server.simulator.set_faults(simulator::FaultConfig {
        error_rates: BTreeMap::from([(500, 1.0)]),
        ..Default::default()
    });
    let error = get(
        &server,
        ADMIN_UPN,
        &pc_audience(&server),
        &format!("customers/{customer}/users"),
    )
    .await
    .unwrap_err();
    assert_eq!(error.status(), Some(500));
    assert!(error.is_transient());

    server.simulator.set_faults(simulator::FaultConfig {
        drop_rate: 1.0,
        ..Default::default()
    });
    let error = get(
        &server,
        ADMIN_UPN,
        &pc_audience(&server),
        &format!("customers/{customer}/users"),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(error, UpstreamError::Transport { .. }),
        "{error:?}"
    );
    assert!(matches!(AppError::from(error), AppError::Unreachable(_)));
}

#[tokio::test]
async fn the_server_function_maps_upstream_failures_to_status_codes() {
    let server = TestServer::start().await;
    let (client, _) = server.sign_in(ADMIN_UPN).await;
    server.simulator.set_faults(simulator::FaultConfig {
        error_rates: BTreeMap::from([(429, 1.0)]),
        ..Default::default()
    });
    let response = server.call_upstream(&client).await;
    assert_eq!(response.status(), 429);
    let error: AppError = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert!(matches!(error, AppError::Throttled { .. }), "{error:?}");
}

async fn first_customer(server: &TestServer) -> String {
    server.sim_state().await["customers"][0]["customerTenantId"]
        .as_str()
        .unwrap()
        .to_string()
}
