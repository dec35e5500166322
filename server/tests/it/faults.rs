//! The fault suite: bulk consent jobs under storms of 429, 20 % server errors, 2 s latency and
//! dropped connections (the kill mid-job is in restart.rs and scale_out.rs). Whatever the dice
//! say, every customer ends done or failed with a reason, no write is applied twice (the
//! simulator's counts per MS-RequestId), every attempt has its audit entry, and the pages answer
//! while Partner Center is slow.

use crate::common;

use common::{Options, TestServer, ADMIN_UPN};
use serde_json::Value;
use simulator::FaultConfig;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Every item settled with a reason, applied at most once (once when done), one audit entry per
/// call the simulator received.
async fn assert_settled_exactly_once(server: &TestServer, job: &Value, customers: usize) {
    let counts = &job["summary"]["counts"];
    assert_eq!(counts["total"], customers);
    assert_eq!(counts["pending"], 0, "{counts}");
    let sim = server.sim_state().await;
    for item in job["items"].as_array().unwrap() {
        let request_id = item["request_id"].as_str().unwrap();
        let writes = &sim["writes"][request_id];
        let applied = writes["applied"].as_i64().unwrap_or(0);
        let received = writes["received"].as_i64().unwrap_or(0);
        match item["status"].as_str().unwrap() {
            "done" => assert_eq!(applied, 1, "{item}"),
            "failed" => {
                assert!(applied <= 1, "{item}");
                assert!(
                    !item["detail"].as_str().unwrap_or_default().is_empty(),
                    "a failure has its reason: {item}"
                );
            }
            other => panic!("unsettled item ({other}): {item}"),
        }
        let audited: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE request_id = $1")
                .bind(request_id)
                .fetch_one(&server.state.storage.pool)
                .await
                .unwrap();
        assert_eq!(audited, received, "one audit entry per attempt: {item}");
        assert_eq!(item["attempts"].as_i64().unwrap(), received, "{item}");
    }
}

async fn run_under(faults: FaultConfig, customers: usize) -> (TestServer, Value) {
    let server = TestServer::start_with(Options {
        customers,
        ..Options::default()
    })
    .await;
    let (client, _) = server.sign_in(ADMIN_UPN).await;
    server.simulator.set_faults(FaultConfig {
        path_contains: Some("applicationconsents".into()),
        ..faults
    });
    let application = uuid::Uuid::new_v4().to_string();
    let id = server
        .start_grant(&client, &application, "Fault suite")
        .await;
    let job = server.wait_for_job(&client, &id).await;
    assert_settled_exactly_once(&server, &job, customers).await;
    (server, job)
}

#[tokio::test]
async fn a_storm_of_429s() {
    let (server, job) = run_under(
        FaultConfig {
            error_rates: BTreeMap::from([(429, 0.5)]),
            ..Default::default()
        },
        40,
    )
    .await;
    // Throttled calls were retried: most customers end done despite half the calls refused.
    assert!(
        job["summary"]["counts"]["done"].as_u64().unwrap() >= 30,
        "{}",
        job["summary"]
    );
    assert!(
        server.sim_state().await["counters"]["injectedFaults"]
            .as_u64()
            .unwrap()
            > 0
    );
}

#[tokio::test]
async fn twenty_percent_server_errors() {
    let (_, job) = run_under(
        FaultConfig {
            error_rates: BTreeMap::from([(500, 0.1), (503, 0.1)]),
            ..Default::default()
        },
        60,
    )
    .await;
    assert!(
        job["summary"]["counts"]["done"].as_u64().unwrap() >= 55,
        "{}",
        job["summary"]
    );
}

#[tokio::test]
async fn dropped_connections_lose_nothing() {
    let (server, job) = run_under(
        FaultConfig {
            drop_rate: 0.3,
            ..Default::default()
        },
        40,
    )
    .await;
    // The simulator breaks the connection after the status line: the write happened and its
    // status arrived, so the customer is done, once, without needing the lost body.
    assert!(
        server.sim_state().await["counters"]["injectedFaults"]
            .as_u64()
            .unwrap()
            > 0
    );
    assert_eq!(job["summary"]["counts"]["done"], 40, "{}", job["summary"]);
}

#[tokio::test]
async fn two_second_latency_keeps_the_pages_answering() {
    let server = TestServer::start_with(Options {
        customers: 20,
        ..Options::default()
    })
    .await;
    let (client, _) = server.sign_in(ADMIN_UPN).await;
    server.simulator.set_faults(FaultConfig {
        latency_ms: 2_000,
        path_contains: Some("applicationconsents".into()),
        ..Default::default()
    });
    let application = uuid::Uuid::new_v4().to_string();
    let id = server
        .start_grant(&client, &application, "Fault suite")
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // While every consent call hangs for 2 s, the dashboard's own pages do not wait for them.
    for path in [format!("/jobs/{id}"), "/customers".into(), "/audit".into()] {
        let started = Instant::now();
        let (status, _) = server.page(&client, &path).await;
        assert_eq!(status, 200);
        assert!(
            started.elapsed() < Duration::from_millis(1_500),
            "{path} took {:?} while upstream calls take 2 s",
            started.elapsed()
        );
    }
    let job = server.wait_for_job(&client, &id).await;
    assert_settled_exactly_once(&server, &job, 20).await;
    assert_eq!(job["summary"]["counts"]["done"], 20);
}
