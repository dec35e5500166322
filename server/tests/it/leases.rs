//! Failing safe in background work: leases on the database's clock, fencing numbers on every item
//! write, an instance that cannot renew its claim stops sending, a long `Retry-After` puts the
//! item off instead of holding the job, and a token that cannot be had for a moment leaves the
//! item pending.

use crate::common;

use app::ssr::background::{claim_available, Claimable, Work};
use app::ssr::config::Config;
use app::ssr::state::AppState;
use common::{Db, Options, TestServer, ADMIN_UPN};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

const APP: &str = "5b2c8e14-9d3f-4a70-8c21-6f4e3d2a1b09";

/// On a two-core machine these tests time the dashboard's behaviour in seconds: one at a time.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn start_job(server: &TestServer, client: &reqwest::Client) -> String {
    // The sign-in landed on /customers, which synced the snapshot the job selects from.
    let response = server
        .call_with(
            client,
            "start_consent_job",
            &[
                ("filter", ""),
                ("action", "grant"),
                ("application_id", APP),
                ("display_name", "Lease test"),
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

fn slow_consents(latency_ms: u64) -> simulator::FaultConfig {
    simulator::FaultConfig {
        latency_ms,
        path_contains: Some("applicationconsents".into()),
        ..Default::default()
    }
}

async fn count_items(server: &TestServer, id: &str, status: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM job_items WHERE job_id = $1 AND status = $2")
        .bind(id)
        .bind(status)
        .fetch_one(&server.state.storage.pool)
        .await
        .unwrap()
}

/// Calls the simulator received for the job's items, per MS-RequestId.
async fn received(server: &TestServer, job: &Value) -> BTreeMap<String, i64> {
    let state = server.sim_state().await;
    job["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            let request_id = item["request_id"].as_str().unwrap().to_string();
            let n = state["writes"][&request_id]["received"]
                .as_i64()
                .unwrap_or(0);
            (request_id, n)
        })
        .collect()
}

/// Items whose write reached the simulator more than once, not counting the calls it answered
/// 429 (the job waits and sends those again by design; under load the simulator's own limit
/// of 50 a second may throttle a call now and then): (MS-RequestId, received, throttled).
async fn sent_twice(server: &TestServer, job: &Value) -> Vec<(String, i64, i64)> {
    let mut twice = Vec::new();
    for (request_id, n) in received(server, job).await {
        let throttled: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM audit_log WHERE request_id = $1 AND upstream_status = 429",
        )
        .bind(&request_id)
        .fetch_one(&server.state.storage.pool)
        .await
        .unwrap();
        if n - throttled > 1 {
            twice.push((request_id, n, throttled));
        }
    }
    twice
}

/// Makes every pending item of the job due and its claim lapsed now, as if the time it was put
/// off for had passed, and wakes the runner.
async fn make_due(server: &TestServer, id: &str) {
    let pool = &server.state.storage.pool;
    sqlx::query("UPDATE job_items SET not_before_ms = 0 WHERE job_id = $1")
        .bind(id)
        .execute(pool)
        .await
        .unwrap();
    sqlx::query("UPDATE jobs SET claimed_until_ms = 0 WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await
        .unwrap();
    server.state.jobs.wake();
}

/// A second dashboard instance in this process, on the database of `server` and with its
/// simulator as "Microsoft" (as a second production instance would be), whose wall clock runs
/// `skew_ms` off.
async fn second_instance(server: &TestServer, instance_id: &str, skew_ms: i64) -> AppState {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let sim = &server.base;
    let tenant = simulator::PARTNER_TENANT_ID;
    let vars: HashMap<&str, String> = [
        ("DASHBOARD_BIND_ADDR", addr.to_string()),
        (
            "DASHBOARD_AUTHORITY",
            format!("{sim}/_sim/login/{tenant}/v2.0"),
        ),
        ("DASHBOARD_CLIENT_ID", simulator::DEMO_CLIENT_ID.to_string()),
        (
            "DASHBOARD_REDIRECT_URL",
            format!("http://{addr}/auth/callback"),
        ),
        (
            "DASHBOARD_PARTNER_CENTER_URL",
            format!("{sim}/_sim/partnercenter/v1"),
        ),
        (
            "DASHBOARD_ADMIN_API_URL",
            format!("{sim}/_sim/pcsvcadmin/CustomerServiceAdminApi/Web/v1"),
        ),
        ("DASHBOARD_DATABASE_URL", server.database_url.clone()),
        (
            "DASHBOARD_TOKEN_ENCRYPTION_KEY",
            common::processes::TOKEN_KEY.to_string(),
        ),
        ("DASHBOARD_INSTANCE_ID", instance_id.to_string()),
    ]
    .into_iter()
    .collect();
    let config = Config::from_lookup(|k| vars.get(k).cloned()).unwrap();
    let dashboard = server::build(config, None).await.unwrap();
    let state = dashboard.state.clone();
    state.jobs.clock.skew(skew_ms);
    tokio::spawn(async move {
        let _ = server::serve_on(dashboard, listener).await;
    });
    state
}

#[tokio::test]
async fn two_instances_with_skewed_clocks_send_no_item_twice() {
    let _turn = ONE_AT_A_TIME.lock().await;
    const CUSTOMERS: i64 = 200;
    let server = TestServer::start_with(Options {
        db: Db::Postgres,
        customers: CUSTOMERS as usize,
        ..Options::default()
    })
    .await;
    let (client, _) = server.sign_in(ADMIN_UPN).await;
    server.simulator.set_faults(slow_consents(300));
    // B's clock runs a minute ahead: by its clock, every lease A takes has long lapsed.
    let b = second_instance(&server, "instance-b-ahead", 60_000).await;

    let id = start_job(&server, &client).await;
    let job = server.wait_for_job(&client, &id).await;
    assert_eq!(
        job["summary"]["counts"]["done"], CUSTOMERS,
        "{}",
        job["summary"]
    );
    let twice = sent_twice(&server, &job).await;
    assert!(
        twice.is_empty(),
        "{} items were sent more than once (B took the job while A ran it): {twice:?}",
        twice.len()
    );
    let claimed_by: Option<String> =
        sqlx::query_scalar("SELECT claimed_by FROM jobs WHERE id = $1")
            .bind(&id)
            .fetch_one(&server.state.storage.pool)
            .await
            .unwrap();
    assert_eq!(
        claimed_by.as_deref(),
        Some(server.state.jobs.instance_id.as_str())
    );
    assert_eq!(b.jobs.running_here(), 0);
}

/// A holder whose claim was taken over (its lease lapsed and another instance claimed the job)
/// has calls on the wire; when they come back, their item writes are refused by the fencing
/// number, and it sends nothing more.
async fn a_stale_holders_item_writes_are_refused(db: Db) {
    let _turn = ONE_AT_A_TIME.lock().await;
    let server = TestServer::start_with(Options {
        db,
        customers: 40,
        ..Options::default()
    })
    .await;
    let (client, _) = server.sign_in(ADMIN_UPN).await;
    server.simulator.set_faults(slow_consents(1_000));
    let id = start_job(&server, &client).await;
    // The first calls came back, so the next ones are on the wire.
    let started = Instant::now();
    while count_items(&server, &id, "done").await == 0 {
        assert!(started.elapsed() < Duration::from_secs(30), "nothing done");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let storage = &server.state.storage;
    sqlx::query("UPDATE jobs SET claimed_until_ms = 0 WHERE id = $1")
        .bind(&id)
        .execute(&storage.pool)
        .await
        .unwrap();
    // A claim skips a row an item write holds for its fencing check at that instant: try again.
    let mut taken = Vec::new();
    for _ in 0..100 {
        taken = claim_available(storage, Work::Job, "intruder", Claimable::Unheld)
            .await
            .unwrap();
        if !taken.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(taken.len(), 1);
    let done_at_takeover = count_items(&server, &id, "done").await;

    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let job = server.job(&client, &id).await;
    let sent: i64 = received(&server, &job).await.values().sum();
    assert!(
        sent > done_at_takeover,
        "calls were on the wire at the takeover ({sent} sent, {done_at_takeover} done)"
    );
    assert_eq!(
        count_items(&server, &id, "done").await,
        done_at_takeover,
        "the stale holder recorded results after the job was claimed again"
    );
    assert_eq!(
        server.state.jobs.running_here(),
        0,
        "the stale holder stopped"
    );
    let claimed_by: Option<String> =
        sqlx::query_scalar("SELECT claimed_by FROM jobs WHERE id = $1")
            .bind(&id)
            .fetch_one(&storage.pool)
            .await
            .unwrap();
    assert_eq!(claimed_by.as_deref(), Some("intruder"));
    // The refused attempts stay marked as started: the holder that continues audits them as cut
    // off and sends them again with the same MS-RequestId.
    let cut_off: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM job_items WHERE job_id = $1 AND attempt_started_at_ms IS NOT NULL",
    )
    .bind(&id)
    .fetch_one(&storage.pool)
    .await
    .unwrap();
    assert!(cut_off > 0);
}

#[tokio::test]
async fn sqlite_a_stale_holders_item_writes_are_refused() {
    a_stale_holders_item_writes_are_refused(Db::Sqlite).await;
}

#[tokio::test]
async fn postgres_a_stale_holders_item_writes_are_refused() {
    a_stale_holders_item_writes_are_refused(Db::Postgres).await;
}

#[tokio::test]
async fn an_instance_that_cannot_renew_its_claim_stops_sending() {
    let _turn = ONE_AT_A_TIME.lock().await;
    const CUSTOMERS: i64 = 800;
    let server = TestServer::start_with(Options {
        db: Db::Postgres,
        customers: CUSTOMERS as usize,
        ..Options::default()
    })
    .await;
    let (client, _) = server.sign_in(ADMIN_UPN).await;
    server.simulator.set_faults(slow_consents(200));
    let id = start_job(&server, &client).await;
    let started = Instant::now();
    while count_items(&server, &id, "done").await < 20 {
        assert!(started.elapsed() < Duration::from_secs(30), "nothing done");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Another session holds the job's row: every renewal waits on it and none gets through.
    let mut blocker = server.state.storage.pool.begin().await.unwrap();
    sqlx::query("SELECT id FROM jobs WHERE id = $1 FOR UPDATE")
        .bind(&id)
        .fetch_one(&mut *blocker)
        .await
        .unwrap();
    let blocked_at = Instant::now();

    // The lease lapses on the database's clock 10 s after the last renewal; the holder must have
    // stopped before that, so by then the count of calls no longer moves.
    tokio::time::sleep(Duration::from_secs(8)).await;
    let job = server.job(&client, &id).await;
    let sent_then: i64 = received(&server, &job).await.values().sum();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let sent_later: i64 = received(&server, &job).await.values().sum();
    assert_eq!(
        sent_then,
        sent_later,
        "still sending {:?} after the renewals stopped getting through",
        blocked_at.elapsed()
    );
    assert!(
        sent_later < CUSTOMERS,
        "the job finished before the test could see it stop"
    );

    // Once the row is free the job is claimed again and finishes, nothing sent twice.
    blocker.rollback().await.unwrap();
    let job = server.wait_for_job(&client, &id).await;
    assert_eq!(
        job["summary"]["counts"]["done"], CUSTOMERS,
        "{}",
        job["summary"]
    );
    let twice = sent_twice(&server, &job).await;
    assert!(twice.is_empty(), "sent more than once: {twice:?}");
}

#[tokio::test]
async fn a_retry_after_of_five_minutes_puts_the_item_off_instead_of_holding_the_job() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let server = TestServer::start_with(Options {
        customers: 6,
        ..Options::default()
    })
    .await;
    let (client, _) = server.sign_in(ADMIN_UPN).await;
    let throttled = server.sim_state().await["customers"][2]["customerTenantId"]
        .as_str()
        .unwrap()
        .to_string();
    server.simulator.set_faults(simulator::FaultConfig {
        error_rates: BTreeMap::from([(429, 1.0)]),
        retry_after: Some(300.0),
        path_contains: Some(format!("customers/{throttled}/applicationconsents")),
        ..Default::default()
    });
    let id = start_job(&server, &client).await;

    let item = |job: &Value| {
        job["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["customer_tenant_id"] == throttled.as_str())
            .unwrap()
            .clone()
    };
    let started = Instant::now();
    let job = loop {
        let job = server.job(&client, &id).await;
        let detail = item(&job)["detail"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if job["summary"]["counts"]["done"] == 5 && detail.contains("put off") {
            break job;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the throttled item was not put off: {}",
            item(&job)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let put_off = item(&job);
    assert_eq!(put_off["status"], "pending");
    assert_eq!(put_off["attempts"], 1);
    assert_eq!(put_off["upstream_status"], 429);
    assert!(job["summary"]["finished_at"].is_null());
    // Nothing holds the job while it waits: the runner let it go until the item is due.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        server.state.jobs.running_here(),
        0,
        "a runner sleeps on the lease"
    );
    let (held_for_ms, due_in_ms): (i64, i64) = sqlx::query_as(
        "SELECT j.claimed_until_ms - CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER),
                i.not_before_ms - CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)
         FROM jobs j JOIN job_items i ON i.job_id = j.id
         WHERE j.id = $1 AND i.customer_tenant_id = $2",
    )
    .bind(&id)
    .bind(&throttled)
    .fetch_one(&server.state.storage.pool)
    .await
    .unwrap();
    assert!(
        (250_000..=300_000).contains(&due_in_ms),
        "due in {due_in_ms} ms"
    );
    assert!(
        (due_in_ms - held_for_ms).abs() < 1_000,
        "released until the item is due: {held_for_ms} ms vs {due_in_ms} ms"
    );

    // When it is due, the job is claimed again and the item sent with its same MS-RequestId.
    server
        .simulator
        .set_faults(simulator::FaultConfig::default());
    make_due(&server, &id).await;
    let job = server.wait_for_job(&client, &id).await;
    assert_eq!(job["summary"]["counts"]["done"], 6, "{}", job["summary"]);
    let done = item(&job);
    assert_eq!(done["request_id"], put_off["request_id"]);
    assert_eq!(done["attempts"], 2);
    let writes = &server.sim_state().await["writes"][done["request_id"].as_str().unwrap()];
    assert_eq!(writes["received"], 2);
    assert_eq!(writes["applied"], 1);
}

#[tokio::test]
async fn a_token_that_cannot_be_had_for_now_leaves_the_items_pending() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let server = TestServer::start_with(Options {
        customers: 5,
        token_lifetime: Duration::from_secs(2),
        ..Options::default()
    })
    .await;
    let (client, _) = server.sign_in(ADMIN_UPN).await;
    // The cached access token runs out, and the sign-in service answers
    // `temporarily_unavailable` to the refresh: a broker failure other than a dead grant.
    tokio::time::sleep(Duration::from_secs(3)).await;
    server.simulator.set_faults(simulator::FaultConfig {
        token_error: Some("temporarily_unavailable".into()),
        ..Default::default()
    });
    let id = start_job(&server, &client).await;

    let started = Instant::now();
    let job = loop {
        let job = server.job(&client, &id).await;
        let items = job["items"].as_array().unwrap();
        if items.iter().all(|i| {
            i["detail"]
                .as_str()
                .is_some_and(|d| d.starts_with("not sent yet: no token"))
        }) {
            break job;
        }
        assert!(
            job["summary"]["counts"]["failed"] == 0,
            "an item failed on a passing token failure: {}",
            job["items"]
        );
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "items not put off: {}",
            job["items"]
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(job["summary"]["counts"]["pending"], 5);
    assert!(job["summary"]["finished_at"].is_null());
    assert_eq!(server.sim_state().await["writes"], serde_json::json!({}));
    let kept: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM user_credentials WHERE user_key = $1")
        .bind(server.user_key(ADMIN_UPN))
        .fetch_one(&server.state.storage.pool)
        .await
        .unwrap();
    assert_eq!(kept, 1, "the credential is kept");

    // Once the sign-in service answers again, the items are sent.
    server
        .simulator
        .set_faults(simulator::FaultConfig::default());
    make_due(&server, &id).await;
    let job = server.wait_for_job(&client, &id).await;
    assert_eq!(job["summary"]["counts"]["done"], 5, "{}", job["items"]);
}

#[tokio::test]
async fn a_job_waiting_for_a_put_off_item_is_cancelled_at_once() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let server = TestServer::start_with(Options {
        customers: 3,
        ..Options::default()
    })
    .await;
    let (client, _) = server.sign_in(ADMIN_UPN).await;
    let throttled = server.sim_state().await["customers"][0]["customerTenantId"]
        .as_str()
        .unwrap()
        .to_string();
    server.simulator.set_faults(simulator::FaultConfig {
        error_rates: BTreeMap::from([(429, 1.0)]),
        retry_after: Some(600.0),
        path_contains: Some(format!("customers/{throttled}/applicationconsents")),
        ..Default::default()
    });
    let id = start_job(&server, &client).await;
    let started = Instant::now();
    while count_items(&server, &id, "done").await < 2 || server.state.jobs.running_here() > 0 {
        assert!(started.elapsed() < Duration::from_secs(15), "not put off");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let response = server
        .call_with(&client, "cancel_job", &[("id", id.as_str())])
        .await;
    assert_eq!(response.status(), 200);
    let cancelled_at = Instant::now();
    let job = server.wait_for_job(&client, &id).await;
    assert!(cancelled_at.elapsed() < Duration::from_secs(10));
    let counts = &job["summary"]["counts"];
    assert_eq!(
        (counts["done"].as_u64(), counts["cancelled"].as_u64()),
        (Some(2), Some(1))
    );
}

/// The same for a privileged-role report: a customer read by a holder whose claim was taken
/// over is not recorded by it.
async fn a_stale_holders_report_results_are_refused(db: Db) {
    let _turn = ONE_AT_A_TIME.lock().await;
    let server = TestServer::start_with(Options {
        db,
        customers: 30,
        ..Options::default()
    })
    .await;
    let (client, _) = server.sign_in(ADMIN_UPN).await;
    server.simulator.set_faults(simulator::FaultConfig {
        latency_ms: 300,
        path_contains: Some("directoryroles".into()),
        ..Default::default()
    });
    let response = server
        .call_with(&client, "start_role_report", &[("filter", "")])
        .await;
    assert_eq!(response.status(), 200);
    let id: String = response.json().await.unwrap();
    let storage = &server.state.storage;
    let done = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM role_report_customers WHERE report_id = $1 AND status <> 'pending'",
        )
        .bind(&id)
        .fetch_one(&storage.pool)
        .await
        .unwrap()
    };
    let started = Instant::now();
    while done().await == 0 {
        assert!(started.elapsed() < Duration::from_secs(30), "nothing done");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    sqlx::query("UPDATE role_reports SET claimed_until_ms = 0 WHERE id = $1")
        .bind(&id)
        .execute(&storage.pool)
        .await
        .unwrap();
    let mut taken = Vec::new();
    for _ in 0..100 {
        taken = claim_available(storage, Work::RoleReport, "intruder", Claimable::Unheld)
            .await
            .unwrap();
        if !taken.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(taken.len(), 1);
    let done_at_takeover = done().await;
    // Customers on the wire come back within two seconds (four reads of 300 ms each).
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(
        done().await,
        done_at_takeover,
        "the stale holder recorded customers after the report was claimed again"
    );
}

#[tokio::test]
async fn sqlite_a_stale_holders_report_results_are_refused() {
    a_stale_holders_report_results_are_refused(Db::Sqlite).await;
}

#[tokio::test]
async fn postgres_a_stale_holders_report_results_are_refused() {
    a_stale_holders_report_results_are_refused(Db::Postgres).await;
}

/// A renewal that fails (here: the lease column is out of reach, while the item writes, which
/// only read the fencing number, still work) stops the holder at once, not when its lease
/// would lapse.
async fn an_instance_whose_renewal_fails_stops_sending_at_once(db: Db) {
    let _turn = ONE_AT_A_TIME.lock().await;
    const CUSTOMERS: i64 = 400;
    let server = TestServer::start_with(Options {
        db,
        customers: CUSTOMERS as usize,
        ..Options::default()
    })
    .await;
    let (client, _) = server.sign_in(ADMIN_UPN).await;
    server.simulator.set_faults(slow_consents(200));
    let id = start_job(&server, &client).await;
    let started = Instant::now();
    while count_items(&server, &id, "done").await < 20 {
        assert!(started.elapsed() < Duration::from_secs(30), "nothing done");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let pool = &server.state.storage.pool;
    sqlx::query("ALTER TABLE jobs RENAME COLUMN claimed_until_ms TO claimed_until_away")
        .execute(pool)
        .await
        .unwrap();

    // Renewals come every second; a failed one stops the calls within the next.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let job = server.job(&client, &id).await;
    let sent_then: i64 = received(&server, &job).await.values().sum();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let sent_later: i64 = received(&server, &job).await.values().sum();
    assert_eq!(
        sent_then, sent_later,
        "still sending 2.5 s after the renewals began to fail"
    );
    assert!(
        sent_later < CUSTOMERS,
        "the job finished before the test could see it stop"
    );

    sqlx::query("ALTER TABLE jobs RENAME COLUMN claimed_until_away TO claimed_until_ms")
        .execute(pool)
        .await
        .unwrap();
    let job = server.wait_for_job(&client, &id).await;
    assert_eq!(
        job["summary"]["counts"]["done"], CUSTOMERS,
        "{}",
        job["summary"]
    );
    let twice = sent_twice(&server, &job).await;
    assert!(twice.is_empty(), "sent more than once: {twice:?}");
}

#[tokio::test]
async fn sqlite_an_instance_whose_renewal_fails_stops_sending_at_once() {
    an_instance_whose_renewal_fails_stops_sending_at_once(Db::Sqlite).await;
}

#[tokio::test]
async fn postgres_an_instance_whose_renewal_fails_stops_sending_at_once() {
    an_instance_whose_renewal_fails_stops_sending_at_once(Db::Postgres).await;
}
