//! Several dashboard instances on one PostgreSQL: sessions made on one are valid on the other, a
//! job or report runs on one instance at a time and is taken over when that instance dies, and
//! the consent rate limit holds across instances.

use crate::common;

use app::ssr::jobs::limiter::ConsentLimiter;
use app::ssr::storage::Storage;
use common::processes::{DashboardProcess, SimProcess};
use common::{PgDatabase, TempDir, ADMIN_UPN};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// These tests take turns: on a two-core machine two of them at once delay requests by tens of
/// milliseconds, and the rate-limit assertions (zero 429s at 49 calls per second, so about 20 ms
/// of slack) would measure the machine instead of the dashboard.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test]
async fn the_consent_rate_limit_holds_across_instances() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let pg = PgDatabase::create().await;
    // Two instances: each its own pool and limiter, one database.
    let instances: Vec<Arc<ConsentLimiter>> = vec![
        Arc::new(ConsentLimiter::new(
            50,
            &Storage::open(&pg.url).await.unwrap(),
        )),
        Arc::new(ConsentLimiter::new(
            50,
            &Storage::open(&pg.url).await.unwrap(),
        )),
    ];
    let start = Instant::now();
    let mut tasks = Vec::new();
    for limiter in &instances {
        for _ in 0..8 {
            let limiter = limiter.clone();
            tasks.push(tokio::spawn(async move {
                let mut sent = Vec::new();
                for _ in 0..10 {
                    limiter
                        .until_ready("7d1e2f3a-0000-4000-8000-000000000001")
                        .await;
                    sent.push(start.elapsed());
                }
                sent
            }));
        }
    }
    let mut sent = Vec::new();
    for task in tasks {
        sent.extend(task.await.unwrap());
    }
    sent.sort();
    assert_eq!(sent.len(), 160);
    // Any 51 consecutive calls, from either instance, span more than a second.
    for window in sent.windows(51) {
        let span = window[50] - window[0];
        assert!(span > Duration::from_secs(1), "51 calls within {span:?}");
    }
    // Another application is not held up by this one: with a second's worth of calls queued
    // for the first application, the other's call goes at once.
    let queued: Vec<_> = (0..50)
        .map(|_| {
            let limiter = instances[1].clone();
            tokio::spawn(async move {
                limiter
                    .until_ready("7d1e2f3a-0000-4000-8000-000000000001")
                    .await
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let before = Instant::now();
    instances[0]
        .until_ready("7d1e2f3a-0000-4000-8000-000000000002")
        .await;
    assert!(
        before.elapsed() < Duration::from_millis(500),
        "{:?}",
        before.elapsed()
    );
    for task in queued {
        task.await.unwrap();
    }
}

#[tokio::test]
async fn two_instances_share_sessions_and_take_over_a_killed_instances_job() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let dir = TempDir::new();
    let pg = PgDatabase::create().await;
    let sim = SimProcess::start(&dir, 150).await;
    sim.set_faults(json!({"latency_ms": 200, "path_contains": "applicationconsents"}))
        .await;
    let mut a = DashboardProcess::start(&sim, &dir, &pg.url, "instance-a").await;
    let b = DashboardProcess::start(&sim, &dir, &pg.url, "instance-b").await;

    // Signed in on A; the same cookie is a valid session on B.
    let client = a.sign_in(ADMIN_UPN).await;
    let on_b = b.call(&client, "current_session", &[]).await;
    assert_eq!(on_b.status(), 200);
    let session: Value = on_b.json().await.unwrap();
    assert_eq!(session["user"]["upn"], ADMIN_UPN);

    let response = a
        .call(
            &client,
            "start_consent_job",
            &[
                ("filter", ""),
                ("action", "grant"),
                ("application_id", "3c9d5e71-8a2b-4f60-b1d4-5e6f7a8b9c0d"),
                ("display_name", "Scale-out test"),
                ("preset_graph", "on"),
                ("confirm", "on"),
            ],
        )
        .await;
    assert_eq!(response.status(), 200);
    let id: String = response.json().await.unwrap();
    let storage = Storage::open(&pg.url).await.unwrap();
    let claimed_by = || async {
        sqlx::query_scalar::<_, Option<String>>("SELECT claimed_by FROM jobs WHERE id = $1")
            .bind(&id)
            .fetch_one(&storage.pool)
            .await
            .unwrap()
    };
    let mut done_at_kill = 0;
    for _ in 0..400 {
        done_at_kill = b.job(&client, &id).await["summary"]["counts"]["done"]
            .as_u64()
            .unwrap();
        if done_at_kill >= 15 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!((15..150).contains(&done_at_kill), "done: {done_at_kill}");
    // One instance runs it: the one it was started on (B was woken by nothing and A holds it).
    assert_eq!(claimed_by().await.as_deref(), Some("instance-a"));
    assert!(!b.process.log_text().contains("running job"));

    a.process.kill();
    let mut job = Value::Null;
    for _ in 0..400 {
        job = b.job(&client, &id).await;
        if job["summary"]["finished_at"].is_string() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        job["summary"]["finished_at"].is_string(),
        "B did not finish the job: {}\n{}",
        job["summary"],
        b.process.log_text()
    );
    assert_eq!(job["summary"]["counts"]["done"], 150);
    assert_eq!(claimed_by().await.as_deref(), Some("instance-b"));
    let state = sim.state().await;
    for item in job["items"].as_array().unwrap() {
        let request_id = item["request_id"].as_str().unwrap();
        assert_eq!(state["writes"][request_id]["applied"], 1, "{item}");
    }
    assert_eq!(state["counters"]["throttled"], 0);
}

/// Calls to Partner Center and the admin API: Graph's GDAP reads of a sync are counted apart.
async fn partner_center_calls(sim: &SimProcess) -> u64 {
    let counters = &sim.state().await["counters"];
    counters["apiCalls"].as_u64().unwrap() - counters["graphCalls"].as_u64().unwrap()
}

#[tokio::test]
async fn a_killed_instances_report_is_taken_over_without_rereading_finished_customers() {
    let _turn = ONE_AT_A_TIME.lock().await;
    const CUSTOMERS: u64 = 48;
    /// Partner Center reads per customer: the members of each of the four privileged roles.
    const READS_PER_CUSTOMER: u64 = 4;
    let dir = TempDir::new();
    let pg = PgDatabase::create().await;
    let sim = SimProcess::start(&dir, usize::try_from(CUSTOMERS).unwrap()).await;
    let mut a = DashboardProcess::start(&sim, &dir, &pg.url, "instance-a").await;
    let b = DashboardProcess::start(&sim, &dir, &pg.url, "instance-b").await;
    let client = a.sign_in(ADMIN_UPN).await;
    sim.set_faults(json!({"latency_ms": 300, "path_contains": "directoryroles"}))
        .await;
    let calls_before = partner_center_calls(&sim).await;

    let response = a
        .call(&client, "start_role_report", &[("filter", "")])
        .await;
    assert_eq!(response.status(), 200);
    let id: String = response.json().await.unwrap();
    let mut done_at_kill = 0;
    for _ in 0..400 {
        done_at_kill = report(&b, &client, &id).await["summary"]["done"]
            .as_u64()
            .unwrap();
        if done_at_kill >= 12 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(
        (12..CUSTOMERS).contains(&done_at_kill),
        "done: {done_at_kill}"
    );
    assert!(!b
        .process
        .log_text()
        .contains("running privileged-role report"));

    a.process.kill();
    let mut finished = Value::Null;
    for _ in 0..600 {
        finished = report(&b, &client, &id).await;
        if finished["summary"]["finished_at"].is_string() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        finished["summary"]["finished_at"].is_string(),
        "B did not finish the report: {}\n{}",
        finished["summary"],
        b.process.log_text()
    );
    assert_eq!(finished["summary"]["done"], CUSTOMERS);
    assert!(b
        .process
        .log_text()
        .contains("running privileged-role report"));
    // Every customer read once, plus at most the six A had on the wire when it was killed:
    // redoing A's finished customers would add at least 12 more.
    let calls = partner_center_calls(&sim).await - calls_before;
    let most = READS_PER_CUSTOMER * (CUSTOMERS + app::ssr::reports::REPORT_CONCURRENCY as u64);
    assert!(
        (READS_PER_CUSTOMER * CUSTOMERS..=most).contains(&calls),
        "{calls} Partner Center calls for {CUSTOMERS} customers (at most {most} expected)"
    );
}

async fn report(on: &DashboardProcess, client: &reqwest::Client, id: &str) -> Value {
    let response = on.call(client, "role_report", &[("id", id)]).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}
