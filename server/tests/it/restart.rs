//! Real processes: the dashboard is killed (SIGKILL) in the middle of a bulk consent job and
//! started again. The job finishes with every customer's write applied exactly once (the
//! simulator's counts per MS-RequestId) and one audit entry per attempt.

use crate::common;

use common::processes::{DashboardProcess, SimProcess};
use common::{TempDir, ADMIN_UPN};
use serde_json::{json, Value};
use std::time::Duration;

const APP: &str = "0b7c3f55-2d8e-4a61-9c1f-7e4d2a9b8c30";
const CUSTOMERS: usize = 200;

#[tokio::test]
async fn a_job_killed_mid_way_resumes_without_applying_anything_twice() {
    let dir = TempDir::new();
    let sim = SimProcess::start(&dir, CUSTOMERS).await;
    // Slow consent calls, so the kill lands with calls in flight.
    sim.set_faults(json!({"latency_ms": 200, "path_contains": "applicationconsents"}))
        .await;
    let database_url = format!("sqlite://{}/dashboard.db?mode=rwc", dir.path.display());
    let mut dashboard = DashboardProcess::start(&sim, &dir, &database_url, "dash-a").await;
    let client = dashboard.sign_in(ADMIN_UPN).await;

    let response = dashboard
        .call(
            &client,
            "start_consent_job",
            &[
                ("filter", ""),
                ("action", "grant"),
                ("application_id", APP),
                ("display_name", "Restart test"),
                ("preset_graph", "on"),
                ("confirm", "on"),
            ],
        )
        .await;
    assert_eq!(response.status(), 200);
    let id: String = response.json().await.unwrap();

    // Kill once part of the job is done.
    let mut done_at_kill = 0;
    for _ in 0..400 {
        let job = dashboard.job(&client, &id).await;
        done_at_kill = job["summary"]["counts"]["done"].as_u64().unwrap();
        if done_at_kill >= 20 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(
        (20..CUSTOMERS as u64).contains(&done_at_kill),
        "the kill should land mid-job (done: {done_at_kill})"
    );
    dashboard.restart(&dir).await;

    // The session lives in the database: the same browser follows the job after the restart.
    let mut job = Value::Null;
    for _ in 0..600 {
        job = dashboard.job(&client, &id).await;
        if job["summary"]["finished_at"].is_string() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        job["summary"]["finished_at"].is_string(),
        "not finished after the restart: {}\n{}",
        job["summary"],
        dashboard.process.log_text()
    );
    assert_eq!(job["summary"]["counts"]["done"], CUSTOMERS);

    let state = sim.state().await;
    let storage = app::ssr::storage::Storage::open(&database_url)
        .await
        .unwrap();
    let (mut replayed, mut cut_off_before_sending) = (0, 0);
    for item in job["items"].as_array().unwrap() {
        let request_id = item["request_id"].as_str().unwrap();
        let customer = item["customer_tenant_id"].as_str().unwrap();
        let writes = &state["writes"][request_id];
        assert_eq!(writes["applied"], 1, "{customer}: applied exactly once");
        assert_eq!(state["consents"][customer].as_array().unwrap().len(), 1);
        let received = writes["received"].as_i64().unwrap();
        let audited: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE request_id = $1")
                .bind(request_id)
                .fetch_one(&storage.pool)
                .await
                .unwrap();
        // One entry per attempt. An attempt cut off by the kill is audited when the job
        // resumes; if the kill came before its request left, the simulator never saw it.
        match audited - received {
            0 => {}
            1 => cut_off_before_sending += 1,
            other => panic!("{customer}: {audited} audit entries for {received} calls ({other})"),
        }
        if received > 1 {
            replayed += 1;
        }
    }
    let interrupted: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE error LIKE '%was cut off%'")
            .fetch_one(&storage.pool)
            .await
            .unwrap();
    assert!(
        interrupted >= 1,
        "the kill should have cut off calls in flight"
    );
    assert!(
        replayed >= 1,
        "at least one cut-off call is sent again with its MS-RequestId"
    );
    assert!(
        cut_off_before_sending <= interrupted,
        "{cut_off_before_sending} > {interrupted}"
    );
    assert!(dashboard.process.log_text().contains("running job"));
}
