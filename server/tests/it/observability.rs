//! What an operator reads: one access-log line per request (method, route, status, latency,
//! request id; a supplied `x-request-id` is kept and echoed), JSON lines on request, and
//! Prometheus metrics on their own address that count what the upstream services did (429s,
//! retries) exactly as the simulator says it happened.

use crate::common;

use common::processes::{free_port, server_binary, Process};
use common::{Endpoints, Options, TempDir, TestServer, ADMIN_UPN};
use serde_json::Value;
use simulator::FaultConfig;
use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::Duration;

/// `text` without terminal colours: the harness's two log layers share the formatted span
/// fields, coloured by the first.
fn without_colours(text: &str) -> String {
    let mut plain = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("\x1b[") {
        plain.push_str(&rest[..start]);
        rest = &rest[start..];
        rest = rest.find('m').map_or("", |end| &rest[end + 1..]);
    }
    plain.push_str(rest);
    plain
}

/// How logs name the admin: the object id of their `tenant:object-id` key.
fn admin_object_id(server: &TestServer) -> String {
    let key = server.user_key(ADMIN_UPN);
    key.split(':').nth(1).unwrap().to_string()
}

/// The access-log lines (one per request) that carry `request_id`.
fn access_lines(logs: &str, request_id: &str) -> Vec<String> {
    without_colours(logs)
        .lines()
        .filter(|line| line.contains(&format!("request_id={request_id}")))
        .filter(|line| line.contains(" access: "))
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn one_access_line_per_request_with_its_request_id() {
    common::logs::keep_all();
    let server = TestServer::start().await;
    let client = server.browser();
    let run = uuid::Uuid::new_v4().simple().to_string();

    // Supplied ids are kept, echoed back, and name exactly one line each.
    let ids: Vec<String> = (0..5).map(|i| format!("obs-{run}-{i}")).collect();
    for id in &ids {
        let response = client
            .get(server.url("/healthz"))
            .header("x-request-id", id)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["x-request-id"], id.as_str());
    }
    // Without one, the server makes one up and answers with it.
    let response = client.get(server.url("/healthz")).send().await.unwrap();
    let made_up = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(uuid::Uuid::try_parse(&made_up).is_ok(), "{made_up}");

    // A page that does not exist, with a query that must not reach the log.
    let missing = format!("obs-{run}-missing");
    let response = client
        .get(server.url("/no-such-page?code=secret-query-text"))
        .header("x-request-id", &missing)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);

    // A server function: the line names the admin by object id, never by UPN.
    let (admin, _) = server.sign_in(ADMIN_UPN).await;
    let call = format!("obs-{run}-call");
    let response = admin
        .post(server.url("/api/jobs"))
        .header("Origin", &server.base)
        .header("Accept", "application/json")
        .header("x-request-id", &call)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-request-id"], call.as_str());

    // The line is written when the response is; give the logger a moment.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let logs = common::logs::kept();
    for id in &ids {
        let lines = access_lines(&logs, id);
        assert_eq!(lines.len(), 1, "one line for {id}: {lines:#?}");
        let line = &lines[0];
        for field in ["method=GET", "route=/healthz", "status=200", "latency_ms="] {
            assert!(line.contains(field), "{field} missing: {line}");
        }
    }
    assert_eq!(access_lines(&logs, &made_up).len(), 1, "{made_up}");

    let lines = access_lines(&logs, &missing);
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(lines[0].contains("status=404"), "{}", lines[0]);
    assert!(
        !logs.contains("secret-query-text"),
        "a query string was logged"
    );

    let lines = access_lines(&logs, &call);
    assert_eq!(lines.len(), 1, "{lines:#?}");
    let object_id = admin_object_id(&server);
    for field in [
        "method=POST",
        "route=/api/jobs",
        "status=200",
        &format!("admin={object_id}"),
    ] {
        assert!(lines[0].contains(field), "{field} missing: {}", lines[0]);
    }
    assert!(!lines[0].contains(ADMIN_UPN), "{}", lines[0]);
}

/// The browser learns only a reference; the log line with that reference holds the database's
/// own words and where in the code the query ran.
#[tokio::test]
async fn a_failure_in_the_database_answers_with_a_reference_the_log_explains() {
    common::logs::keep_all();
    let server = TestServer::start().await;
    let (admin, _) = server.sign_in(ADMIN_UPN).await;
    sqlx::query("ALTER TABLE reviews RENAME TO reviews_elsewhere")
        .execute(&server.state.storage.pool)
        .await
        .unwrap();

    let response = server.call(&admin, "reviews").await;
    assert_eq!(response.status(), 500);
    let body = response.text().await.unwrap();
    let error: app::error::AppError = serde_json::from_str(&body).unwrap();
    let app::error::AppError::Internal(message) = &error else {
        panic!("expected an internal error, got {error:?}");
    };
    let reference = message
        .split("reference ")
        .nth(1)
        .and_then(|rest| rest.get(..12))
        .unwrap_or_else(|| panic!("no reference in {message}"));
    for detail in ["no such table", "SELECT", "sqlx", "reviews.rs"] {
        assert!(
            !body.contains(detail),
            "{detail} reached the browser: {body}"
        );
    }

    tokio::time::sleep(Duration::from_millis(200)).await;
    let logs = without_colours(&common::logs::kept());
    let line = logs
        .lines()
        .find(|line| line.contains(reference) && line.contains("internal error"))
        .unwrap_or_else(|| panic!("no log line names {reference}"));
    assert!(line.contains("no such table: reviews"), "{line}");
    assert!(
        line.contains("app/src/ssr/reviews.rs:"),
        "the line says where the query ran: {line}"
    );
}

#[tokio::test]
async fn job_items_log_under_their_job_admin_and_upstream_ids() {
    common::logs::keep_all();
    let server = TestServer::start_with(Options {
        customers: 5,
        ..Options::default()
    })
    .await;
    let (client, _) = server.sign_in(ADMIN_UPN).await;
    let application = uuid::Uuid::new_v4().to_string();
    let id = server.start_grant(&client, &application, "Spans").await;
    let job = server.wait_for_job(&client, &id).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let logs = without_colours(&common::logs::kept());
    let object_id = admin_object_id(&server);
    for item in job["items"].as_array().unwrap() {
        let request_id = item["request_id"].as_str().unwrap();
        // The consent call's own line, inside the job's and the item's spans.
        let calls: Vec<&str> = logs
            .lines()
            .filter(|line| line.contains("Partner Center call"))
            .filter(|line| line.contains(&format!("ms_request_id={request_id}")))
            .collect();
        assert_eq!(
            calls.len(),
            1,
            "{item}\n{calls:#?}\nlines naming it: {:#?}",
            logs.lines()
                .filter(|line| line.contains(request_id))
                .collect::<Vec<_>>()
        );
        let call = calls[0];
        for field in [
            format!("job{{job_id={id}"),
            format!("admin={object_id}"),
            format!("customer={}", item["customer_tenant_id"].as_str().unwrap()),
            "ms_correlation_id=".to_string(),
        ] {
            let (spans, _) = call.split_once(" Partner Center call").unwrap();
            assert!(
                spans.contains(&field),
                "{field} missing from the spans: {call}"
            );
        }
        assert!(!call.contains(ADMIN_UPN), "{call}");
    }
}

/// A demo dashboard process with `vars`, its output in a file of `dir`.
fn spawn_demo(dir: &TempDir, port: u16, vars: &[(&str, &str)]) -> Process {
    let log = dir.path.join(format!("dashboard-{port}.log"));
    let out = std::fs::File::create(&log).unwrap();
    let err = out.try_clone().unwrap();
    let child = Command::new(server_binary())
        .current_dir(&dir.path)
        .env("DASHBOARD_DEMO", "true")
        .env("DASHBOARD_BIND_ADDR", format!("127.0.0.1:{port}"))
        .env(
            "DASHBOARD_DATABASE_URL",
            format!("sqlite://{}/dashboard.db?mode=rwc", dir.path.display()),
        )
        .env("DASHBOARD_SIM_CUSTOMERS", "20")
        .env("RUST_LOG", "info,sqlx=warn")
        .envs(vars.iter().copied())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .spawn()
        .unwrap();
    Process::new(child, format!("http://127.0.0.1:{port}"), log)
}

#[tokio::test]
async fn json_log_lines_for_collectors() {
    let dir = TempDir::new();
    let port = free_port();
    let mut dashboard = spawn_demo(&dir, port, &[("DASHBOARD_LOG_FORMAT", "json")]);
    dashboard.wait_until_healthy("/healthz").await;
    let response = reqwest::Client::new()
        .get(dashboard.url("/healthz"))
        .header("x-request-id", "json-probe")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    tokio::time::sleep(Duration::from_millis(200)).await;
    dashboard.kill();

    let text = dashboard.log_text();
    let lines: Vec<Value> = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect();
    assert!(lines.len() >= 2, "{text}");
    let access: Vec<&Value> = lines
        .iter()
        .filter(|line| line["span"]["request_id"] == "json-probe")
        .collect();
    assert_eq!(access.len(), 1, "{text}");
    let line = access[0];
    assert_eq!(line["target"], "access", "{line}");
    assert_eq!(line["status"], 200, "{line}");
    assert!(line["latency_ms"].is_number(), "{line}");
    assert_eq!(line["span"]["method"], "GET", "{line}");
    assert_eq!(line["span"]["route"], "/healthz", "{line}");
}

#[tokio::test]
async fn a_bad_log_format_stops_start_up_naming_the_variable() {
    let dir = TempDir::new();
    let mut dashboard = spawn_demo(&dir, free_port(), &[("DASHBOARD_LOG_FORMAT", "xml")]);
    let status = dashboard.wait_for_exit(Duration::from_secs(20)).await;
    assert!(!status.success(), "started with DASHBOARD_LOG_FORMAT=xml");
    let text = dashboard.log_text();
    assert!(
        text.contains("DASHBOARD_LOG_FORMAT") && text.contains("json"),
        "{text}"
    );
}

/// The sum of a metric's samples whose labels include every one of `labels`.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (metric, rest) = match series.split_once('{') {
                Some((metric, rest)) => (metric, rest),
                None => (series, ""),
            };
            (metric == name
                && labels
                    .iter()
                    .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\""))))
            .then(|| value.parse::<f64>().ok())
            .flatten()
        })
        .sum()
}

async fn scrape(url: &str) -> String {
    for _ in 0..100 {
        if let Ok(response) = reqwest::get(url).await {
            assert_eq!(response.status(), 200, "{url}");
            return response.text().await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{url} does not answer");
}

#[tokio::test]
async fn metrics_count_a_storm_of_429s_on_their_own_address_only() {
    // A process of its own: the metrics recorder is the process's, and other tests' servers
    // would add their calls to the counts.
    let dir = TempDir::new();
    let metrics_addr = format!("127.0.0.1:{}", free_port());
    let mut dashboard = spawn_demo(
        &dir,
        free_port(),
        &[("DASHBOARD_METRICS_ADDR", metrics_addr.as_str())],
    );
    dashboard.wait_until_healthy("/healthz").await;
    let server = Endpoints {
        base: dashboard.base.clone(),
        sim_base: dashboard.base.clone(),
    };
    let metrics_url = format!("http://{metrics_addr}/metrics");
    let (client, _) = server.sign_in(ADMIN_UPN).await;

    // Only /metrics, and only there.
    let (status, _) = server.page(&client, "/metrics").await;
    assert_eq!(status, 404, "/metrics on the public address");
    let before = scrape(&metrics_url).await;
    let other = reqwest::get(format!("http://{metrics_addr}/healthz"))
        .await
        .unwrap();
    assert_eq!(other.status(), 404);

    let pc = [("api", "partner_center")];
    let throttled_before = sample(&before, "dashboard_upstream_throttled_total", &pc);
    let retries_before = sample(&before, "dashboard_upstream_retries_total", &pc);
    let waited_before = sample(&before, "dashboard_upstream_retry_wait_seconds_sum", &pc);
    let calls_before = sample(
        &before,
        "dashboard_upstream_requests_total",
        &[("api", "partner_center"), ("status", "429")],
    );
    let injected_before = server.sim_state().await["counters"]["injectedFaults"]
        .as_u64()
        .unwrap();

    // Half the consent calls are throttled, each with Retry-After: 1.
    server
        .set_faults(&FaultConfig {
            error_rates: BTreeMap::from([(429, 0.5)]),
            path_contains: Some("applicationconsents".into()),
            ..Default::default()
        })
        .await;
    let application = uuid::Uuid::new_v4().to_string();
    let id = server.start_grant(&client, &application, "Metrics").await;
    let job = server.wait_for_job(&client, &id).await;
    let injected = server.sim_state().await["counters"]["injectedFaults"]
        .as_u64()
        .unwrap()
        - injected_before;
    assert!(injected > 0, "the simulator threw no 429");
    // Items that ran out of attempts on a 429 were not retried after the last one.
    let gave_up = job["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|item| item["status"] == "failed" && item["upstream_status"] == 429)
        .count() as u64;

    let after = scrape(&metrics_url).await;
    let delta = |name: &str, before: f64| sample(&after, name, &pc) - before;
    assert_eq!(
        delta("dashboard_upstream_throttled_total", throttled_before),
        injected as f64,
        "429s counted\n{after}"
    );
    assert_eq!(
        sample(
            &after,
            "dashboard_upstream_requests_total",
            &[("api", "partner_center"), ("status", "429")]
        ) - calls_before,
        injected as f64
    );
    let retries = delta("dashboard_upstream_retries_total", retries_before);
    assert_eq!(retries, (injected - gave_up) as f64, "retries counted");
    // Each retry waited at least the second Retry-After asked for.
    let waited = delta("dashboard_upstream_retry_wait_seconds_sum", waited_before);
    assert!(
        waited >= retries * 0.99,
        "waited {waited} s for {retries} retries"
    );

    // Operation names, not URLs with ids.
    assert!(
        after.contains("operation=\"POST customers/{id}/applicationconsents\""),
        "{after}"
    );
    assert!(!after.contains(&application), "an id in a label");
    let done = job["summary"]["counts"]["done"].as_u64().unwrap() as f64;
    assert!(
        sample(
            &after,
            "dashboard_job_items_total",
            &[("kind", "grant-consent"), ("state", "done")]
        ) >= done
    );
    assert!(
        sample(
            &after,
            "dashboard_consent_rate_limit_wait_seconds_count",
            &[]
        ) >= 20.0
    );
    assert!(sample(&after, "dashboard_sync_duration_seconds_count", &[]) >= 1.0);
    assert!(sample(&after, "dashboard_signed_in_credentials", &[]) >= 1.0);
}

#[test]
fn the_grafana_dashboard_names_only_metrics_the_dashboard_exports() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("grafana-dashboard.json");
    let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let known = |name: &str| {
        app::ssr::telemetry::ALL.iter().any(|metric| {
            ["", "_bucket", "_sum", "_count"]
                .iter()
                .any(|suffix| name == format!("{metric}{suffix}"))
        })
    };
    let mut used = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            for (start, _) in expr.match_indices("dashboard_") {
                let name: String = expr[start..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                assert!(known(&name), "{name} in panel {}", panel["title"]);
                used.push(name);
            }
        }
    }
    assert!(used.len() >= 10, "{used:?}");
}
