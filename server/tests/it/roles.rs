//! Adding and removing role members: the admin's token, confirmation for privileged roles,
//! idempotent retries, 403 for the read-only user, and an audit entry for every attempt.

use crate::common;

use common::{TestServer, ADMIN_UPN, HELPDESK_UPN, READER_UPN};
use serde_json::Value;
use std::collections::BTreeMap;

const GLOBAL_ADMINISTRATOR: &str = "62e90394-69f5-4237-9190-012177145e10";
const GLOBAL_READER: &str = "f2ef992c-3afb-46b9-b7cf-a126ee74c451";

struct Target {
    customer: String,
    user: String,
}

/// A customer and one of its users who holds no role.
async fn target(server: &TestServer) -> Target {
    let customer = server.sim_state().await["customers"][5]["customerTenantId"]
        .as_str()
        .unwrap()
        .to_string();
    let state = server.sim_state_for(&customer).await;
    let holders: Vec<&str> = state["roleMembers"][&customer]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|v| v.as_array().unwrap().iter().map(|u| u.as_str().unwrap()))
        .collect();
    let (client, _) = server.sign_in(ADMIN_UPN).await;
    let (_, html) = server
        .page(&client, &format!("/customers/{customer}"))
        .await;
    let user = html
        .split("<tr data-user-id=\"")
        .skip(1)
        .map(|rest| rest[..36].to_string())
        .find(|id| !holders.contains(&id.as_str()))
        .expect("a user without a role");
    Target { customer, user }
}

async fn members_of(server: &TestServer, customer: &str, role: &str) -> Vec<String> {
    let state = server.sim_state_for(customer).await;
    state["roleMembers"][customer][role]
        .as_array()
        .map(|a| a.iter().map(|v| v.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

async fn change(
    server: &TestServer,
    client: &reqwest::Client,
    function: &str,
    t: &Target,
    role: &str,
    confirmed: bool,
) -> reqwest::Response {
    let mut args = vec![
        ("customer_tenant_id", t.customer.as_str()),
        ("role_id", role),
        ("user_id", t.user.as_str()),
    ];
    if confirmed {
        args.push(("confirmed", "on"));
    }
    server.call_with(client, function, &args).await
}

async fn audit(server: &TestServer) -> Vec<(String, String, String, Option<String>, Option<i64>)> {
    sqlx::query_as(
        "SELECT actor_upn, action, outcome, request_id, upstream_status FROM audit_log
         WHERE action LIKE '%role-member' ORDER BY at_ms, id",
    )
    .fetch_all(&server.state.storage.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn add_then_remove_a_member_each_applied_once_and_audited() {
    let server = TestServer::start().await;
    let t = target(&server).await;
    let (client, _) = server.sign_in(ADMIN_UPN).await;
    // Every write answered 503: the dashboard retries with the same MS-RequestId, then gives up
    // with the reason; nothing is applied.
    server.simulator.set_faults(simulator::FaultConfig {
        error_rates: BTreeMap::from([(503, 1.0)]),
        path_contains: Some("/usermembers".into()),
        ..Default::default()
    });
    let refused = change(
        &server,
        &client,
        "add_role_member",
        &t,
        GLOBAL_READER,
        false,
    )
    .await;
    assert!(!refused.status().is_success());
    let failed = audit(&server).await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].2, "failed");
    assert_eq!(failed[0].4, Some(503));
    let record = &server.sim_state().await["writes"][failed[0].3.as_ref().unwrap()];
    assert_eq!(
        record["received"], 4,
        "four attempts, one MS-RequestId: {record}"
    );
    assert_eq!(record["applied"], 0);
    server
        .simulator
        .set_faults(simulator::FaultConfig::default());

    let added = change(
        &server,
        &client,
        "add_role_member",
        &t,
        GLOBAL_READER,
        false,
    )
    .await;
    assert_eq!(added.status(), 200, "{}", added.text().await.unwrap());
    let change_body: Value = added.json().await.unwrap();
    assert_eq!(change_body["role_name"], "Global Reader");
    assert!(members_of(&server, &t.customer, GLOBAL_READER)
        .await
        .contains(&t.user));

    let removed = change(
        &server,
        &client,
        "remove_role_member",
        &t,
        GLOBAL_READER,
        false,
    )
    .await;
    assert_eq!(removed.status(), 200);
    assert!(!members_of(&server, &t.customer, GLOBAL_READER)
        .await
        .contains(&t.user));

    let entries = audit(&server).await;
    assert_eq!(entries.len(), 3, "{entries:?}");
    let writes = server.sim_state().await["writes"].clone();
    for (actor, _, outcome, request_id, status) in &entries[1..] {
        assert_eq!(actor, ADMIN_UPN);
        assert_eq!(outcome, "succeeded");
        assert!(matches!(status, Some(201 | 204)));
        let record = &writes[request_id.as_ref().unwrap()];
        assert_eq!(record["applied"], 1, "applied once: {record}");
    }
}

#[tokio::test]
async fn a_privileged_role_needs_confirmation() {
    let server = TestServer::start().await;
    let t = target(&server).await;
    let (client, _) = server.sign_in(ADMIN_UPN).await;
    let before = server.api_calls().await;
    let refused = change(
        &server,
        &client,
        "add_role_member",
        &t,
        GLOBAL_ADMINISTRATOR,
        false,
    )
    .await;
    assert_eq!(refused.status(), 400);
    assert!(refused.text().await.unwrap().contains("must be confirmed"));
    assert_eq!(server.api_calls().await, before, "nothing sent upstream");

    let confirmed = change(
        &server,
        &client,
        "add_role_member",
        &t,
        GLOBAL_ADMINISTRATOR,
        true,
    )
    .await;
    assert_eq!(confirmed.status(), 200);
    assert!(members_of(&server, &t.customer, GLOBAL_ADMINISTRATOR)
        .await
        .contains(&t.user));
    let outcomes: Vec<String> = audit(&server).await.into_iter().map(|e| e.2).collect();
    assert_eq!(outcomes, ["refused", "succeeded"]);
}

#[tokio::test]
async fn an_operator_without_the_gdap_role_gets_a_clear_403_and_the_attempt_is_audited() {
    let server = TestServer::start().await;
    let t = target(&server).await;
    let (helpdesk, _) = server.sign_in(HELPDESK_UPN).await;
    let response = change(
        &server,
        &helpdesk,
        "add_role_member",
        &t,
        GLOBAL_READER,
        false,
    )
    .await;
    assert_eq!(response.status(), 403);
    let text = response.text().await.unwrap();
    assert!(text.contains("Privileged Role Administrator"), "{text}");
    assert!(!members_of(&server, &t.customer, GLOBAL_READER)
        .await
        .contains(&t.user));
    let entries = audit(&server).await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].0, HELPDESK_UPN);
    assert_eq!(entries[0].2, "refused");
    assert_eq!(entries[0].4, Some(403));
}

#[tokio::test]
async fn the_read_only_admin_is_refused_by_the_dashboard_before_any_upstream_call() {
    let server = TestServer::start().await;
    let t = target(&server).await;
    let (reader, _) = server.sign_in(READER_UPN).await;
    let before = server.api_calls().await;
    let response = change(
        &server,
        &reader,
        "add_role_member",
        &t,
        GLOBAL_READER,
        false,
    )
    .await;
    assert_eq!(response.status(), 403);
    let text = response.text().await.unwrap();
    assert!(text.contains("Dashboard.Operate"), "{text}");
    assert_eq!(server.api_calls().await, before, "nothing sent upstream");
    let entries = audit(&server).await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].0, READER_UPN);
    assert_eq!(entries[0].2, "refused");
    assert_eq!(entries[0].4, None);
}

#[tokio::test]
async fn malformed_ids_are_refused_before_any_upstream_call() {
    let server = TestServer::start().await;
    let (client, _) = server.sign_in(ADMIN_UPN).await;
    let before = server.api_calls().await;
    let bad = Target {
        customer: "../../customers".into(),
        user: "x".into(),
    };
    let response = change(
        &server,
        &client,
        "add_role_member",
        &bad,
        GLOBAL_READER,
        false,
    )
    .await;
    assert_eq!(response.status(), 400);
    assert_eq!(server.api_calls().await, before);
}

#[tokio::test]
async fn sign_in_and_sign_out_are_audited() {
    let server = TestServer::start().await;
    let (client, _) = server.sign_in(ADMIN_UPN).await;
    client
        .post(server.url("/logout"))
        .header("Origin", &server.base)
        .send()
        .await
        .unwrap();
    let actions: Vec<(String, String)> =
        sqlx::query_as("SELECT actor_upn, action FROM audit_log ORDER BY at_ms, id")
            .fetch_all(&server.state.storage.pool)
            .await
            .unwrap();
    assert_eq!(
        actions,
        [
            (ADMIN_UPN.to_string(), "sign-in".to_string()),
            (ADMIN_UPN.to_string(), "sign-out".to_string())
        ]
    );
}

/// The notice of a removal comes from the page's address, which anyone can write into a link:
/// its Undo is only an operator's, and re-adding to a privileged role still needs the tick.
#[tokio::test]
async fn a_crafted_removal_notice_offers_no_one_click_privileged_undo() {
    let server = TestServer::start().await;
    let t = target(&server).await;
    let page = format!(
        "/customers/{}?removed_user={}&removed_role={GLOBAL_ADMINISTRATOR}",
        t.customer, t.user
    );
    let undo_form = |html: &str| {
        html.split("<form")
            .find(|form| form.contains("/api/add_role_member") && form.contains("Undo"))
            .map(|form| form[..form.find("</form>").unwrap()].to_string())
    };

    let (admin, _) = server.sign_in(ADMIN_UPN).await;
    let (status, html) = server.page(&admin, &page).await;
    assert_eq!(status, 200);
    assert!(html.contains("id=\"change-notice\""), "the notice is shown");
    let form = undo_form(&html).expect("an operator gets the Undo");
    assert!(
        form.contains("name=\"confirmed\" required")
            && !form.contains("type=\"hidden\" name=\"confirmed\""),
        "re-adding to Global Administrator needs the tick: {form}"
    );

    let (reader, _) = server.sign_in(READER_UPN).await;
    let (status, html) = server.page(&reader, &page).await;
    assert_eq!(status, 200);
    assert!(html.contains("id=\"change-notice\""), "the notice is shown");
    assert!(undo_form(&html).is_none(), "a reader gets no Undo");
}
