//! One-off writes are audited before the upstream call (an "attempted" entry, and for consent a
//! pending record) and completed after it, in the same row: a crash in between leaves a trace.

use crate::common;

use common::{TestServer, ADMIN_UPN};
use simulator::FaultConfig;
use std::time::Duration;

const APP: &str = "6a6e8d43-7c1b-4f0e-9f5e-2b8a1c3d4e5f";
const GLOBAL_READER: &str = "f2ef992c-3afb-46b9-b7cf-a126ee74c451";
/// Long enough to look at the database while the call is under way.
const LATENCY_MS: u64 = 4000;

type AuditRow = (String, String, Option<String>, Option<i64>, Option<String>);

async fn audit_rows(server: &TestServer, action: &str) -> Vec<AuditRow> {
    sqlx::query_as(
        "SELECT id, outcome, request_id, upstream_status, error FROM audit_log
         WHERE action = $1 ORDER BY at_ms, id",
    )
    .bind(action)
    .fetch_all(&server.state.storage.pool)
    .await
    .unwrap()
}

async fn pending_of(server: &TestServer, customer: &str) -> Option<Option<String>> {
    sqlx::query_scalar::<_, Option<String>>(
        "SELECT pending_action FROM consents WHERE customer_tenant_id = $1 AND application_id = $2",
    )
    .bind(customer)
    .bind(APP)
    .fetch_optional(&server.state.storage.pool)
    .await
    .unwrap()
}

fn slow(path: &str) -> FaultConfig {
    FaultConfig {
        latency_ms: LATENCY_MS,
        path_contains: Some(path.into()),
        ..FaultConfig::default()
    }
}

async fn customer(server: &TestServer) -> String {
    server.sim_state().await["customers"][2]["customerTenantId"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn a_consent_grant_and_revoke_are_recorded_before_the_call_and_completed_after() {
    let server = TestServer::start().await;
    let customer = customer(&server).await;
    let (client, _) = server.sign_in(ADMIN_UPN).await;
    server.simulator.set_faults(slow("applicationconsents"));

    let call = |function: &'static str| {
        let (client, url, base, customer) = (
            client.clone(),
            server.url(&format!("/api/{function}")),
            server.base.clone(),
            customer.clone(),
        );
        tokio::spawn(async move {
            let mut args = vec![
                ("customer_tenant_id", customer),
                ("application_id", APP.to_string()),
            ];
            if function == "grant_consent" {
                args.push(("display_name", "Contoso CPV".to_string()));
                args.push(("preset_graph", "on".to_string()));
            }
            client
                .post(url)
                .header("Origin", base)
                .header("Accept", "application/json")
                .form(&args)
                .send()
                .await
                .unwrap()
        })
    };

    for (function, action, pending, status) in [
        ("grant_consent", "grant-consent", "grant", 201),
        ("revoke_consent", "revoke-consent", "revoke", 200),
    ] {
        let under_way = call(function);
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(!under_way.is_finished(), "the call is still on its way");

        let rows = audit_rows(&server, action).await;
        assert_eq!(rows.len(), 1, "{rows:?}");
        let (id, outcome, request_id, upstream_status, note) = rows[0].clone();
        assert_eq!(outcome, "attempted");
        assert!(request_id.is_some(), "the attempt names its MS-RequestId");
        assert_eq!(upstream_status, None);
        assert!(note.unwrap().contains("outcome unknown"));
        assert_eq!(
            pending_of(&server, &customer).await,
            Some(Some(pending.into()))
        );
        // The audit page shows the attempt while it is under way (or after a crash).
        let (_, html) = server.page(&client, "/audit").await;
        assert!(html.contains("attempted"), "{html}");
        // ...and the customer's consent panel shows the record as pending.
        let (_, html) = server
            .page(&client, &format!("/customers/{customer}"))
            .await;
        assert!(
            html.contains("data-status=\"pending\""),
            "{function}: {html}"
        );
        assert!(
            !under_way.is_finished(),
            "the pages were read while the call was on its way"
        );

        let response = under_way.await.unwrap();
        assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
        let rows = audit_rows(&server, action).await;
        assert_eq!(
            rows.len(),
            1,
            "completed in place, not a second entry: {rows:?}"
        );
        assert_eq!(rows[0].0, id);
        assert_eq!(rows[0].1, "succeeded");
        assert_eq!(rows[0].2, request_id);
        assert_eq!(rows[0].3, Some(status));
        assert_eq!(pending_of(&server, &customer).await, Some(None));
    }
}

#[tokio::test]
async fn a_failed_grant_completes_its_attempt_and_leaves_no_record() {
    failed_grant(TestServer::start().await).await;
}

#[tokio::test]
async fn a_failed_grant_completes_its_attempt_and_leaves_no_record_on_postgresql() {
    failed_grant(
        TestServer::start_with(common::Options {
            db: common::Db::Postgres,
            ..Default::default()
        })
        .await,
    )
    .await;
}

async fn failed_grant(server: TestServer) {
    let customer = customer(&server).await;
    let (client, _) = server.sign_in(ADMIN_UPN).await;
    server.simulator.set_faults(FaultConfig {
        error_rates: [(400, 1.0)].into_iter().collect(),
        path_contains: Some("applicationconsents".into()),
        ..FaultConfig::default()
    });
    let response = server
        .call_with(
            &client,
            "grant_consent",
            &[
                ("customer_tenant_id", customer.as_str()),
                ("application_id", APP),
                ("display_name", "Contoso CPV"),
                ("preset_graph", "on"),
            ],
        )
        .await;
    assert_eq!(response.status(), 400);
    let rows = audit_rows(&server, "grant-consent").await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].1, "failed");
    assert_eq!(rows[0].3, Some(400));
    assert_eq!(
        pending_of(&server, &customer).await,
        None,
        "nothing was granted"
    );

    server.simulator.set_faults(FaultConfig::default());
    let response = server
        .call_with(
            &client,
            "grant_consent",
            &[
                ("customer_tenant_id", customer.as_str()),
                ("application_id", APP),
                ("display_name", "Contoso CPV"),
                ("preset_graph", "on"),
            ],
        )
        .await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    assert_eq!(
        pending_of(&server, &customer).await,
        Some(None),
        "confirmed"
    );
    let rows = audit_rows(&server, "grant-consent").await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[1].1, "succeeded");
}

#[tokio::test]
async fn a_role_change_is_recorded_before_the_call_and_completed_after() {
    let server = TestServer::start().await;
    let customer = customer(&server).await;
    let state = server.sim_state_for(&customer).await;
    let holders: Vec<String> = state["roleMembers"][&customer]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|m| {
            m.as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_string())
        })
        .collect();
    let (client, _) = server.sign_in(ADMIN_UPN).await;
    let directory: serde_json::Value = server
        .call_with(
            &client,
            "customer_directory",
            &[("customer_tenant_id", customer.as_str())],
        )
        .await
        .json()
        .await
        .unwrap();
    let user = directory["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["user_id"].as_str().unwrap().to_string())
        .find(|id| !holders.contains(id))
        .expect("a user without a role");

    server.simulator.set_faults(slow("/usermembers"));
    let under_way = {
        let (client, url, base, customer, user) = (
            client.clone(),
            server.url("/api/add_role_member"),
            server.base.clone(),
            customer.clone(),
            user.clone(),
        );
        tokio::spawn(async move {
            client
                .post(url)
                .header("Origin", base)
                .header("Accept", "application/json")
                .form(&[
                    ("customer_tenant_id", customer.as_str()),
                    ("role_id", GLOBAL_READER),
                    ("user_id", user.as_str()),
                ])
                .send()
                .await
                .unwrap()
        })
    };
    // The directory is read first (roles, users: slowed too, in parallel), then the write.
    let mut attempted = Vec::new();
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        attempted = audit_rows(&server, "add-role-member").await;
        if !attempted.is_empty() {
            break;
        }
    }
    assert!(!under_way.is_finished(), "the write is still on its way");
    assert_eq!(attempted.len(), 1, "{attempted:?}");
    assert_eq!(attempted[0].1, "attempted");
    assert!(attempted[0].2.is_some());

    let response = under_way.await.unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    let rows = audit_rows(&server, "add-role-member").await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].0, attempted[0].0);
    assert_eq!(rows[0].1, "succeeded");
    assert_eq!(rows[0].3, Some(201));
}

/// `audit_log` called as the page calls it: one page of `filters` (each `query[...]`).
async fn audit_page(
    server: &TestServer,
    client: &reqwest::Client,
    filters: &[(&str, &str)],
) -> serde_json::Value {
    let args: Vec<(String, String)> = filters
        .iter()
        .map(|(k, v)| (format!("query[{k}]"), v.to_string()))
        .collect();
    let args: Vec<(&str, &str)> = args.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let response = server.call_with(client, "audit_log", &args).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn the_audit_log_pages_through_every_entry_and_filters_by_name_outcome_and_date() {
    use app::ssr::audit::{append, Entry};
    let server = TestServer::start().await;
    let (client, _) = server.sign_in(ADMIN_UPN).await;
    let sim = server.sim_state().await;
    let tenant = sim["customers"][3]["customerTenantId"].as_str().unwrap();
    let name = sim["customers"][3]["organizationDisplayName"]
        .as_str()
        .unwrap()
        .trim()
        .to_lowercase();
    let pool = &server.state.storage.pool;
    for i in 0..250 {
        let entry = Entry::new("bot@partner.example", "grant-consent")
            .customer(app::ids::Guid::parse(tenant).unwrap());
        let entry = if i % 2 == 0 {
            entry
        } else {
            entry.failed("no")
        };
        append(pool, &entry).await.unwrap();
    }
    sqlx::query(
        "INSERT INTO audit_log (id, at_ms, actor_upn, action, outcome)
         VALUES ('0b6d3c9e-1f2a-4b5c-8d7e-9f0a1b2c3d4e', 1736942400000, 'old@partner.example',
                 'old-entry', 'succeeded')",
    )
    .execute(pool)
    .await
    .unwrap();
    let all: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log")
        .fetch_one(pool)
        .await
        .unwrap();
    assert!(all > 251);

    // Every entry once, newest first, a page at a time.
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = audit_page(&server, &client, &[("before", &cursor)]).await;
        assert_eq!(page["total"], all);
        assert_eq!(page["first"], seen.len() + 1, "{}", page["first"]);
        let rows = page["rows"].as_array().unwrap();
        assert!(rows.len() <= 100);
        seen.extend(rows.iter().map(|r| r["id"].as_str().unwrap().to_string()));
        match page["older"].as_str() {
            Some(next) => cursor = next.to_string(),
            None => break,
        }
    }
    assert_eq!(seen.len() as i64, all);
    let unique: std::collections::HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len());
    assert_eq!(
        seen.last().unwrap(),
        "0b6d3c9e-1f2a-4b5c-8d7e-9f0a1b2c3d4e",
        "oldest last"
    );

    // The customer filter matches names, with the name beside the id.
    let page = audit_page(&server, &client, &[("customer", &name)]).await;
    assert_eq!(page["total"], 250, "{name}");
    assert_eq!(
        page["rows"][0]["customer_name"]
            .as_str()
            .unwrap()
            .trim()
            .to_lowercase(),
        name
    );
    let page = audit_page(
        &server,
        &client,
        &[("customer", &name), ("outcome", "failed")],
    )
    .await;
    assert_eq!(page["total"], 125);
    let page = audit_page(
        &server,
        &client,
        &[("from", "2025-01-15"), ("to", "2025-01-15")],
    )
    .await;
    assert_eq!(page["total"], 1);
    assert_eq!(page["rows"][0]["action"], "old-entry");

    // The page says where it stands and links the next one, without JavaScript.
    let (status, html) = server.page(&client, "/audit").await;
    assert_eq!(status, 200);
    assert!(
        html.contains(&format!("Showing 1–100 of {all} entries")),
        "position"
    );
    assert!(html.contains("rel=\"next\" href=\"/audit?before="));
}
