//! Bulk consent jobs against the simulator: every customer settled, each write applied once per
//! MS-RequestId, one audit entry per attempt, retries bounded, cancel, the read-only admin.

use crate::common;

use common::{Db, Options, TestServer, ADMIN_UPN, HELPDESK_UPN};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

const APP: &str = "6a6e8d43-7c1b-4f0e-9f5e-2b8a1c3d4e5f";

async fn start_job(
    server: &TestServer,
    client: &reqwest::Client,
    filter: &str,
    action: &str,
) -> String {
    let response = server
        .call_with(
            client,
            "start_consent_job",
            &[
                ("filter", filter),
                ("action", action),
                ("application_id", APP),
                ("display_name", "Contoso CPV"),
                ("preset_graph", "on"),
                ("confirm", "on"),
            ],
        )
        .await;
    let status = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

fn items(job: &Value) -> Vec<Value> {
    job["items"].as_array().unwrap().clone()
}

/// Audit entries carrying this MS-RequestId.
async fn audit_entries(server: &TestServer, request_id: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE request_id = $1")
        .bind(request_id)
        .fetch_one(&server.state.storage.pool)
        .await
        .unwrap()
}

/// A signed-in dashboard over `customers` customers where every consent call about the one at
/// `index` is answered `status`; returns that customer's tenant id.
async fn with_one_customer_answering(
    customers: usize,
    index: usize,
    status: u16,
) -> (TestServer, reqwest::Client, String) {
    let server = TestServer::start_with(Options {
        customers,
        ..Options::default()
    })
    .await;
    let (client, _) = server.sign_in(ADMIN_UPN).await;
    let tenant = server.sim_state().await["customers"][index]["customerTenantId"]
        .as_str()
        .unwrap()
        .to_string();
    server.simulator.set_faults(simulator::FaultConfig {
        error_rates: BTreeMap::from([(status, 1.0)]),
        path_contains: Some(format!("customers/{tenant}/applicationconsents")),
        ..Default::default()
    });
    (server, client, tenant)
}

#[tokio::test]
async fn bulk_grant_applies_each_write_once_and_audits_every_attempt() {
    // Every consent call about one customer fails with 503: retried, then given up.
    let (server, client, broken) = with_one_customer_answering(40, 7, 503).await;

    let id = start_job(&server, &client, "", "grant").await;
    let job = server.wait_for_job(&client, &id).await;
    let counts = &job["summary"]["counts"];
    assert_eq!(counts["total"], 40);
    assert_eq!(counts["done"], 39);
    assert_eq!(counts["failed"], 1);
    assert_eq!(counts["pending"], 0);
    let items = items(&job);
    assert_eq!(
        items[0]["customer_tenant_id"],
        broken.as_str(),
        "failures first"
    );
    assert_eq!(items[0]["attempts"], 4);
    assert_eq!(items[0]["upstream_status"], 503);
    assert!(
        items[0]["detail"]
            .as_str()
            .unwrap()
            .contains("gave up after 4 attempts"),
        "{}",
        items[0]["detail"]
    );

    let sim = server.sim_state().await;
    for item in &items {
        let request_id = item["request_id"].as_str().unwrap();
        let writes = &sim["writes"][request_id];
        let received = writes["received"].as_i64().unwrap();
        assert_eq!(
            audit_entries(&server, request_id).await,
            received,
            "one audit entry per attempt of {request_id}"
        );
        let customer = item["customer_tenant_id"].as_str().unwrap();
        if customer == broken {
            assert_eq!(writes["applied"], 0);
            assert_eq!(received, 4);
        } else {
            assert_eq!(writes["applied"], 1, "{customer}");
            assert_eq!(item["status"], "done");
            assert_eq!(sim["consents"][customer].as_array().unwrap().len(), 1);
        }
    }
    let recorded: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM consents WHERE application_id = $1 AND revoked_at_ms IS NULL",
    )
    .bind(APP)
    .fetch_one(&server.state.storage.pool)
    .await
    .unwrap();
    assert_eq!(recorded, 39);

    // The failure is retried as a new job once the service recovers.
    server
        .simulator
        .set_faults(simulator::FaultConfig::default());
    let response = server
        .call_with(
            &client,
            "retry_failed",
            &[("id", id.as_str()), ("confirm", "on")],
        )
        .await;
    assert_eq!(response.status(), 200);
    let retry_id: String = response.json().await.unwrap();
    let retry = server.wait_for_job(&client, &retry_id).await;
    assert_eq!(retry["summary"]["counts"]["total"], 1);
    assert_eq!(retry["summary"]["counts"]["done"], 1);

    // Bulk revoke: every customer, and the CSV lists each one.
    let id = start_job(&server, &client, "", "revoke").await;
    let job = server.wait_for_job(&client, &id).await;
    assert_eq!(job["summary"]["counts"]["done"], 40);
    let sim = server.sim_state().await;
    for customer in sim["customers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["customerTenantId"].as_str().unwrap())
    {
        assert!(sim["consents"][customer]
            .as_array()
            .is_none_or(|c| c.is_empty()));
    }
    let csv = client
        .get(server.url(&format!("/jobs/{id}/export.csv")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(csv.lines().count(), 41);
    assert!(csv.starts_with("Organisation,Customer tenant id,Status"));
}

#[tokio::test]
async fn a_cancelled_job_stops_and_leaves_nothing_pending() {
    let server = TestServer::start_with(Options {
        customers: 80,
        ..Options::default()
    })
    .await;
    let (client, _) = server.sign_in(ADMIN_UPN).await;
    server.simulator.set_faults(simulator::FaultConfig {
        latency_ms: 300,
        path_contains: Some("applicationconsents".into()),
        ..Default::default()
    });
    let id = start_job(&server, &client, "", "grant").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let response = server
        .call_with(&client, "cancel_job", &[("id", id.as_str())])
        .await;
    assert_eq!(response.status(), 200);
    let job = server.wait_for_job(&client, &id).await;
    let counts = &job["summary"]["counts"];
    assert_eq!(counts["pending"], 0);
    let cancelled = counts["cancelled"].as_u64().unwrap();
    assert!(cancelled > 0, "{counts}");
    assert_eq!(
        counts["done"].as_u64().unwrap() + counts["failed"].as_u64().unwrap() + cancelled,
        80
    );
    assert_eq!(job["summary"]["cancel_requested_by"], ADMIN_UPN);
    // Cancelling again is refused clearly.
    let again = server
        .call_with(&client, "cancel_job", &[("id", id.as_str())])
        .await;
    assert_eq!(again.status(), 400);
}

#[tokio::test]
async fn a_job_of_an_operator_without_the_gdap_role_fails_each_customer_with_the_reason() {
    let server = TestServer::start_with(Options {
        customers: 5,
        ..Options::default()
    })
    .await;
    let (client, _) = server.sign_in(HELPDESK_UPN).await;
    let id = start_job(&server, &client, "", "grant").await;
    let job = server.wait_for_job(&client, &id).await;
    assert_eq!(job["summary"]["counts"]["failed"], 5);
    for item in items(&job) {
        assert_eq!(item["upstream_status"], 403);
        assert_eq!(item["attempts"], 1, "a refusal is not retried");
        assert!(item["detail"]
            .as_str()
            .unwrap()
            .contains("Privileged Role Administrator"));
    }
    let refused: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'grant-consent' AND outcome = 'refused'
         AND actor_upn = $1",
    )
    .bind(HELPDESK_UPN)
    .fetch_one(&server.state.storage.pool)
    .await
    .unwrap();
    assert_eq!(refused, 5);
}

#[tokio::test]
async fn bad_job_requests_are_refused_clearly() {
    let server = TestServer::start_with(Options {
        customers: 5,
        ..Options::default()
    })
    .await;
    let (client, _) = server.sign_in(ADMIN_UPN).await;
    for (args, status) in [
        (vec![("id", "../../etc/passwd")], 404),
        (vec![("id", "6a6e8d43-7c1b-4f0e-9f5e-2b8a1c3d4e5f")], 404),
    ] {
        let response = server.call_with(&client, "job", &args).await;
        assert_eq!(response.status(), status);
    }
    let response = client
        .get(server.url("/jobs/not-a-guid.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let response = server
        .call_with(
            &client,
            "start_consent_job",
            &[
                ("filter", ""),
                ("action", "grant"),
                ("application_id", "not-a-guid"),
                ("display_name", ""),
            ],
        )
        .await;
    assert_eq!(response.status(), 400);
    let response = server
        .call_with(
            &client,
            "start_consent_job",
            &[
                ("filter", "q=no-such-customer-anywhere"),
                ("action", "grant"),
                ("application_id", APP),
                ("display_name", ""),
                ("preset_graph", "on"),
                ("confirm", "on"),
            ],
        )
        .await;
    assert_eq!(response.status(), 400, "an empty selection");
    // Signed out: no job data.
    let anonymous = server.browser();
    let response = anonymous
        .get(server.url("/jobs/6a6e8d43-7c1b-4f0e-9f5e-2b8a1c3d4e5f.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn a_throttled_customer_waits_as_asked_and_fails_only_after_eight_attempts() {
    // Every consent call about one customer is answered 429 with Retry-After: 1.
    let (server, client, throttled) = with_one_customer_answering(6, 2, 429).await;

    let started = std::time::Instant::now();
    let id = start_job(&server, &client, "", "grant").await;
    let job = server.wait_for_job(&client, &id).await;
    let took = started.elapsed();
    assert_eq!(job["summary"]["counts"]["done"], 5, "{}", job["summary"]);
    assert_eq!(job["summary"]["counts"]["failed"], 1);
    let item = items(&job)
        .into_iter()
        .find(|i| i["customer_tenant_id"] == throttled.as_str())
        .unwrap();
    let attempts = app::ssr::partner_center::THROTTLED_ATTEMPTS;
    assert_eq!(item["attempts"], attempts);
    assert_eq!(item["upstream_status"], 429);
    let detail = item["detail"].as_str().unwrap();
    assert!(
        detail.contains(&format!("gave up after {attempts} attempts")),
        "{detail}"
    );
    // Seven waits of at least the second Retry-After asks for.
    assert!(took >= Duration::from_secs(7), "took {took:?}");

    let request_id = item["request_id"].as_str().unwrap();
    let writes = &server.sim_state().await["writes"][request_id];
    assert_eq!(writes["received"], attempts);
    assert_eq!(writes["applied"], 0);
    assert_eq!(audit_entries(&server, request_id).await, attempts as i64);
}

#[tokio::test]
async fn a_double_click_on_start_gives_one_job_and_a_different_start_another() {
    double_click_gives_one_job(Db::Sqlite).await;
}

#[tokio::test]
async fn a_double_click_on_start_gives_one_job_on_postgresql_too() {
    double_click_gives_one_job(Db::Postgres).await;
}

async fn double_click_gives_one_job(db: Db) {
    let server = TestServer::start_with(Options {
        customers: 30,
        db,
        ..Options::default()
    })
    .await;
    let (client, _) = server.sign_in(ADMIN_UPN).await;
    // Both clicks at once, and a third moments later.
    let (first, second) = tokio::join!(
        start_job(&server, &client, "dap=on", "grant"),
        start_job(&server, &client, "dap=on", "grant")
    );
    let third = start_job(&server, &client, "dap=on", "grant").await;
    assert_eq!(first, second);
    assert_eq!(first, third);
    // Revoking is another request, and so is granting to other customers.
    let revoke = start_job(&server, &client, "dap=on", "revoke").await;
    let others = start_job(&server, &client, "dap=off", "grant").await;
    assert_ne!(revoke, first);
    assert_ne!(others, first);
    // The same grant under another application name is another form, not a repeat.
    let renamed = server
        .call_with(
            &client,
            "start_consent_job",
            &[
                ("filter", "dap=on"),
                ("action", "grant"),
                ("application_id", APP),
                ("display_name", "Contoso CPV (renamed)"),
                ("preset_graph", "on"),
                ("confirm", "on"),
            ],
        )
        .await;
    assert_eq!(renamed.status(), 200);
    let renamed: String = renamed.json().await.unwrap();
    assert_ne!(renamed, first);
    let jobs: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs")
        .fetch_one(&server.state.storage.pool)
        .await
        .unwrap();
    assert_eq!(jobs, 4);
    let started: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'start-job'")
            .fetch_one(&server.state.storage.pool)
            .await
            .unwrap();
    assert_eq!(started, 4, "one audit entry per job");
}

#[tokio::test]
async fn a_mass_action_without_its_confirmation_starts_nothing() {
    let server = TestServer::start_with(Options {
        customers: 30,
        ..Options::default()
    })
    .await;
    let (client, _) = server.sign_in(ADMIN_UPN).await;
    let matching = server
        .call_with(&client, "bulk_selection", &[("filter", "dap=on")])
        .await
        .json::<Value>()
        .await
        .unwrap()["customers"]
        .as_u64()
        .unwrap();
    let response = server
        .call_with(
            &client,
            "start_consent_job",
            &[
                ("filter", "dap=on"),
                ("action", "revoke"),
                ("application_id", APP),
                ("display_name", ""),
            ],
        )
        .await;
    assert_eq!(response.status(), 400);
    let body = response.text().await.unwrap();
    assert!(
        body.contains(&format!("Revoke CPV consent in {matching} customers"))
            && body.contains("confirm it"),
        "{body}"
    );
    let jobs = || async {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM jobs")
            .fetch_one(&server.state.storage.pool)
            .await
            .unwrap()
    };
    assert_eq!(jobs().await, 0);

    // A finished job whose every item failed: its retry needs the confirmation too.
    server.simulator.set_faults(simulator::FaultConfig {
        error_rates: BTreeMap::from([(403, 1.0)]),
        path_contains: Some("applicationconsents".into()),
        ..Default::default()
    });
    let id = start_job(&server, &client, "dap=on", "grant").await;
    let finished = server.wait_for_job(&client, &id).await;
    assert_eq!(finished["summary"]["counts"]["failed"], matching);
    let response = server
        .call_with(&client, "retry_failed", &[("id", id.as_str())])
        .await;
    assert_eq!(response.status(), 400);
    assert_eq!(jobs().await, 1);
    let response = server
        .call_with(
            &client,
            "retry_failed",
            &[("id", id.as_str()), ("confirm", "on")],
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(jobs().await, 2);
}

#[tokio::test]
async fn the_jobs_list_says_what_each_job_did_for_which_customers_and_how_it_ended() {
    let server = TestServer::start_with(Options {
        customers: 60,
        ..Options::default()
    })
    .await;
    let (client, _) = server.sign_in(ADMIN_UPN).await;
    let finished = start_job(&server, &client, "dap=on&stale=90", "grant").await;
    let job = server.wait_for_job(&client, &finished).await;
    let counts = job["summary"]["counts"].clone();
    server.simulator.set_faults(simulator::FaultConfig {
        latency_ms: 300,
        path_contains: Some("applicationconsents".into()),
        ..Default::default()
    });
    let cancelled = start_job(&server, &client, "", "revoke").await;
    let response = server
        .call_with(&client, "cancel_job", &[("id", cancelled.as_str())])
        .await;
    assert_eq!(response.status(), 200);
    server.wait_for_job(&client, &cancelled).await;

    let (status, html) = server.page(&client, "/jobs").await;
    assert_eq!(status, 200);
    let row = |id: &str| {
        let start = html
            .find(&format!("data-job-id=\"{id}\""))
            .unwrap_or_else(|| panic!("a row for job {id}"));
        let end = start + html[start..].find("</tr>").unwrap();
        html[start..end].to_string()
    };
    let first = row(&finished);
    assert!(first.contains(r#"data-state="finished""#), "{first}");
    assert!(
        first.contains("Contoso CPV") && first.contains(APP),
        "{first}"
    );
    assert!(
        first.contains("DAP on, no partner sign-in for 90+ days"),
        "{first}"
    );
    assert!(first.contains(ADMIN_UPN), "{first}");
    assert!(
        first.contains(&format!("{} done", counts["done"].as_u64().unwrap())),
        "{first}"
    );
    let second = row(&cancelled);
    assert!(second.contains(r#"data-state="cancelled""#), "{second}");
    assert!(second.contains("all customers"), "{second}");
    assert!(second.contains("cancelled"), "{second}");
}
