//! The privileged-role report as a background job against the simulator.

use crate::common;

use common::{TestServer, ADMIN_UPN};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

const GLOBAL_ADMINISTRATOR: &str = "62e90394-69f5-4237-9190-012177145e10";

async fn start(server: &TestServer, client: &reqwest::Client, filter: &str) -> String {
    let response = server
        .call_with(client, "start_role_report", &[("filter", filter)])
        .await;
    assert_eq!(response.status(), 200);
    serde_json::from_str(&response.text().await.unwrap()).unwrap()
}

async fn wait_until_finished(server: &TestServer, client: &reqwest::Client, id: &str) -> Value {
    for _ in 0..300 {
        let report: Value = server
            .call_with(client, "role_report", &[("id", id)])
            .await
            .json()
            .await
            .unwrap();
        if report["summary"]["finished_at"].is_string() {
            return report;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the report did not finish");
}

#[tokio::test]
async fn one_customers_failure_does_not_stop_the_rest_and_holders_match_the_simulator() {
    let server = TestServer::start().await;
    let (client, _) = server.sign_in(ADMIN_UPN).await;
    let state = server.sim_state().await;
    let dap: Vec<String> = state["customers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["dapEnabled"].as_bool().unwrap())
        .map(|c| c["customerTenantId"].as_str().unwrap().to_string())
        .collect();
    let broken = dap[3].clone();
    // Partner Center refuses every call about this one customer.
    server.simulator.set_faults(simulator::FaultConfig {
        error_rates: BTreeMap::from([(403, 1.0)]),
        path_contains: Some(format!("customers/{broken}/")),
        ..Default::default()
    });

    let id = start(&server, &client, "dap=on").await;
    let report = wait_until_finished(&server, &client, &id).await;
    let summary = &report["summary"];
    assert_eq!(summary["total"], dap.len());
    assert_eq!(summary["failed"], 1);
    assert_eq!(summary["done"], dap.len() - 1);
    let customers = report["customers"].as_array().unwrap();
    assert_eq!(
        customers[0]["customer_tenant_id"],
        broken.as_str(),
        "failures first"
    );
    assert_eq!(customers[0]["status"], "Failed");
    assert!(customers[0]["correlation_id"].is_string());

    // Global Administrators of a customer, as the simulator has them.
    let sample = dap[0].clone();
    let truth = server.sim_state_for(&sample).await;
    let admins = truth["roleMembers"][&sample][GLOBAL_ADMINISTRATOR]
        .as_array()
        .unwrap()
        .len();
    let row = customers
        .iter()
        .find(|c| c["customer_tenant_id"] == sample.as_str())
        .unwrap();
    let reported_admins = row["holders"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["role_name"] == "Global Administrator")
        .count();
    assert!(admins >= 1);
    assert_eq!(reported_admins, admins);

    // The CSV has a row per holder, and the failure with its reason.
    let csv = client
        .get(server.url(&format!("/reports/{id}/export.csv")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let rows: Vec<csv::StringRecord> = csv::Reader::from_reader(csv.as_bytes())
        .records()
        .map(Result::unwrap)
        .collect();
    let holders: usize = customers
        .iter()
        .map(|c| c["holders"].as_array().unwrap().len().max(1))
        .sum();
    assert_eq!(rows.len(), holders);
    let failed = rows.iter().find(|r| &r[1] == broken.as_str()).unwrap();
    assert_eq!(&failed[5], "failed");
    assert!(!failed[6].is_empty());
}

#[tokio::test]
async fn a_report_needs_a_session_and_a_matching_filter() {
    let server = TestServer::start().await;
    let anonymous = server
        .call_with(&server.browser(), "start_role_report", &[("filter", "")])
        .await;
    assert_eq!(anonymous.status(), 401);
    let (client, _) = server.sign_in(ADMIN_UPN).await;
    let empty = server
        .call_with(
            &client,
            "start_role_report",
            &[("filter", "q=no-such-customer-anywhere")],
        )
        .await;
    assert_eq!(empty.status(), 400);
    let missing = server
        .call_with(&client, "role_report", &[("id", "../../etc")])
        .await;
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn an_unfinished_report_resumes_without_redoing_finished_customers() {
    let server = TestServer::start().await;
    let (client, _) = server.sign_in(ADMIN_UPN).await;
    let state = server.sim_state().await;
    let ids: Vec<String> = state["customers"]
        .as_array()
        .unwrap()
        .iter()
        .take(3)
        .map(|c| c["customerTenantId"].as_str().unwrap().to_string())
        .collect();
    // What a process killed mid-report leaves: one customer done (with no holders recorded),
    // two pending, no finish time.
    let pool = &server.state.storage.pool;
    sqlx::query(
        "INSERT INTO role_reports (id, started_by, started_by_key, started_at_ms, scope)
         VALUES ('00000000-0000-4000-8000-000000000001', $1, $2, 0, '')",
    )
    .bind(ADMIN_UPN)
    .bind(server.user_key(ADMIN_UPN))
    .execute(pool)
    .await
    .unwrap();
    for (i, id) in ids.iter().enumerate() {
        sqlx::query(
            "INSERT INTO role_report_customers (report_id, customer_tenant_id,
             organization_display_name, status) VALUES ('00000000-0000-4000-8000-000000000001', $1, 'x', $2)",
        )
        .bind(id)
        .bind(if i == 0 { "done" } else { "pending" })
        .execute(pool)
        .await
        .unwrap();
    }

    // Unclaimed, as a lapsed lease would leave it: the runner takes it at its next poll.
    server.state.jobs.wake();
    let report =
        wait_until_finished(&server, &client, "00000000-0000-4000-8000-000000000001").await;
    assert_eq!(report["summary"]["done"], 3);
    let holders_of = |id: &str| {
        report["customers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["customer_tenant_id"] == id)
            .unwrap()["holders"]
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(
        holders_of(&ids[0]),
        0,
        "the finished customer was not read again"
    );
    assert!(
        holders_of(&ids[1]) >= 1,
        "a pending customer was read (every tenant has a Global Administrator)"
    );
}
