//! GDAP coverage in the dashboard: the sync stores each customer's class beside its DAP flag,
//! the customers view filters and exports it, the customer page shows the relationships, and an
//! answer that proves nothing (the empty-list trap, a failed read) is never "none".

use crate::common;

use common::{TestServer, ADMIN_UPN, READER_UPN};
use serde_json::Value;
use std::collections::BTreeMap;

/// The simulator's truth: tenant → expected coverage class.
async fn truth(server: &TestServer) -> BTreeMap<String, String> {
    server.sim_state().await["gdap"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(tenant, c)| {
            (
                tenant.to_ascii_lowercase(),
                c["expectedCoverage"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The customers export of `query`: tenant → (GDAP class, GDAP reasons).
async fn exported(
    server: &TestServer,
    client: &reqwest::Client,
    query: &str,
) -> BTreeMap<String, (String, String)> {
    let (status, text) = server
        .page(client, &format!("/customers/export.csv?{query}"))
        .await;
    assert_eq!(status, 200, "{text}");
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader.headers().unwrap().clone();
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (tenant, class, reasons) = (
        column("Customer tenant id"),
        column("GDAP coverage"),
        column("GDAP reasons"),
    );
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (
                r[tenant].to_string(),
                (r[class].to_string(), r[reasons].to_string()),
            )
        })
        .collect()
}

async fn sync_and_wait(server: &TestServer, client: &reqwest::Client) {
    assert_eq!(server.call(client, "start_sync").await.status(), 200);
    server.wait_for_sync(client).await;
}

#[tokio::test]
async fn the_sync_stores_each_customers_coverage_as_the_simulator_says() {
    let server = TestServer::start().await;
    let (avery, _) = server.sign_in(ADMIN_UPN).await;
    let truth = truth(&server).await;
    let all = exported(&server, &avery, "").await;
    assert_eq!(all.len(), truth.len());
    for (tenant, expected) in &truth {
        let (class, reasons) = &all[tenant];
        assert_eq!(class, expected, "{tenant}: {reasons}");
        assert!(!reasons.is_empty(), "{tenant} has reasons");
    }
    // The filter of each class selects exactly the simulator's customers of that class.
    for class in ["covered", "partial", "at_risk", "none", "unknown"] {
        let selected = exported(&server, &avery, &format!("gdap={class}")).await;
        let expected = truth.values().filter(|c| *c == class).count();
        assert_eq!(selected.len(), expected, "gdap={class}");
        assert!(selected.values().all(|(c, _)| c == class));
    }
    let html = server.page(&avery, "/customers?gdap=covered").await.1;
    assert!(html.contains("data-gdap=\"covered\""), "the column shows");
    assert!(html.contains("id=\"safe-to-remove\""), "the summary shows");
}

#[tokio::test]
async fn the_empty_list_trap_makes_every_customer_unknown_never_none() {
    let server = TestServer::start().await;
    // Riley is not in Admin Agents: Graph answers 200 with no relationship at all.
    let (riley, _) = server.sign_in(READER_UPN).await;
    let all = exported(&server, &riley, "").await;
    assert!(!all.is_empty());
    for (tenant, (class, reasons)) in &all {
        assert_eq!(class, "unknown", "{tenant}");
        assert!(reasons.contains("Admin Agents"), "{reasons}");
    }
}

#[tokio::test]
async fn a_failed_gdap_read_keeps_the_last_known_coverage() {
    let server = TestServer::start().await;
    let (avery, _) = server.sign_in(ADMIN_UPN).await;
    let before = exported(&server, &avery, "").await;

    server.simulator.set_faults(simulator::FaultConfig {
        error_rates: std::collections::BTreeMap::from([(403, 1.0)]),
        path_contains: Some("tenantRelationships".into()),
        ..Default::default()
    });
    sync_and_wait(&server, &avery).await;
    let after = exported(&server, &avery, "").await;
    assert_eq!(after.len(), before.len());
    for (tenant, (class, reasons)) in &after {
        assert_eq!(class, &before[tenant].0, "{tenant} keeps its class");
        assert!(reasons.starts_with("Kept from the sync of"), "{reasons}");
    }
}

#[tokio::test]
async fn the_customer_page_shows_each_relationship_and_the_verdict() {
    let server = TestServer::start().await;
    let (avery, _) = server.sign_in(ADMIN_UPN).await;
    let state = server.sim_state().await;
    let (tenant, expected) = state["gdap"]
        .as_object()
        .unwrap()
        .iter()
        .find(|(_, c)| c["relationships"].as_array().unwrap().len() >= 2)
        .map(|(t, c)| (t.clone(), c.clone()))
        .unwrap();
    let response = server
        .call_with(&avery, "customer_gdap", &[("customer_tenant_id", &tenant)])
        .await;
    assert_eq!(response.status(), 200);
    let gdap: Value = response.json().await.unwrap();
    assert_eq!(gdap["verdict"]["coverage"], expected["expectedCoverage"]);
    let mut listed: Vec<&str> = gdap["relationships"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    let mut truth: Vec<&str> = expected["relationships"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    listed.sort_unstable();
    truth.sort_unstable();
    assert_eq!(listed, truth);

    let html = server.page(&avery, &format!("/customers/{tenant}")).await.1;
    assert!(html.contains("id=\"gdap-verdict\""), "the section renders");
    for id in truth {
        assert!(html.contains(id), "relationship {id} listed");
    }
}

async fn decide(
    server: &TestServer,
    client: &reqwest::Client,
    review: &str,
    customer: &str,
    args: &[(&str, &str)],
) -> (u16, String) {
    let mut form = vec![
        ("review", review),
        ("customer_tenant_id", customer),
        ("decision", "remove"),
    ];
    form.extend_from_slice(args);
    let response = server.call_with(client, "decide", &form).await;
    (
        response.status().as_u16(),
        response.text().await.unwrap_or_default(),
    )
}

/// A review of the DAP customers without a partner sign-in for 90 days: its id and contents.
async fn stale_review(server: &TestServer, client: &reqwest::Client) -> (String, Value) {
    let started = server
        .call_with(
            client,
            "start_review",
            &[("filter", "dap=on&stale=90"), ("title", "")],
        )
        .await;
    assert_eq!(started.status(), 200);
    let id: String = started.json().await.unwrap();
    let review: Value = server
        .call_with(client, "review", &[("id", &id)])
        .await
        .json()
        .await
        .unwrap();
    (id, review)
}

#[tokio::test]
async fn removing_dap_where_gdap_does_not_cover_needs_an_explained_override() {
    let server = TestServer::start().await;
    let (avery, _) = server.sign_in(ADMIN_UPN).await;
    let (id, review) = stale_review(&server, &avery).await;
    let truth = truth(&server).await;
    let customers = review["customers"].as_array().unwrap();
    for c in customers {
        let tenant = c["customer_tenant_id"].as_str().unwrap();
        assert_eq!(c["gdap"].as_str().unwrap(), truth[tenant], "{tenant}");
    }
    let pick = |class: &str| {
        customers
            .iter()
            .find(|c| c["gdap"] == class)
            .map(|c| c["customer_tenant_id"].as_str().unwrap().to_string())
            .unwrap_or_else(|| panic!("a stale DAP customer whose coverage is {class}"))
    };
    let (uncovered, covered) = (pick("none"), pick("covered"));

    let (status, body) = decide(&server, &avery, &id, &uncovered, &[("note", "stale")]).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("may lock the partner out"), "{body}");
    let (status, _) = decide(
        &server,
        &avery,
        &id,
        &uncovered,
        &[("override_uncovered", "on"), ("note", "")],
    )
    .await;
    assert_eq!(status, 400, "an override needs its reason");
    let (status, body) = decide(
        &server,
        &avery,
        &id,
        &uncovered,
        &[("override_uncovered", "on"), ("note", "customer left us")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = decide(&server, &avery, &id, &covered, &[("note", "stale")]).await;
    assert_eq!(status, 200, "a covered customer needs no override: {body}");

    let review: Value = server
        .call_with(&avery, "review", &[("id", &id)])
        .await
        .json()
        .await
        .unwrap();
    let decision_of = |tenant: &str| {
        review["customers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["customer_tenant_id"] == tenant)
            .unwrap()["decision"]
            .clone()
    };
    assert_eq!(decision_of(&uncovered)["coverage"], "none");
    assert_eq!(decision_of(&covered)["coverage"], "covered");
    let audited: Vec<String> = sqlx::query_scalar(
        "SELECT target FROM audit_log WHERE action = 'review-decision' ORDER BY at_ms, id",
    )
    .fetch_all(&server.state.storage.pool)
    .await
    .unwrap();
    assert!(
        audited
            .iter()
            .any(|t| t.contains("GDAP coverage none, removal overridden")),
        "{audited:?}"
    );
}

#[tokio::test]
async fn a_relationship_terminated_between_approval_and_execution_holds_that_removal_only() {
    let server = TestServer::start().await;
    let (avery, _) = server.sign_in(ADMIN_UPN).await;
    let (id, review) = stale_review(&server, &avery).await;
    let of_class = |class: &str| -> Vec<String> {
        review["customers"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["gdap"] == class)
            .map(|c| c["customer_tenant_id"].as_str().unwrap().to_string())
            .collect()
    };
    let covered = of_class("covered");
    assert!(
        covered.len() >= 2,
        "two stale DAP customers covered by GDAP"
    );
    let (falls, stays) = (covered[0].clone(), covered[1].clone());
    let uncovered = of_class("none")[0].clone();
    for customer in [&falls, &stays] {
        let (status, body) = decide(&server, &avery, &id, customer, &[("note", "stale")]).await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, body) = decide(
        &server,
        &avery,
        &id,
        &uncovered,
        &[("override_uncovered", "on"), ("note", "customer left us")],
    )
    .await;
    assert_eq!(status, 200, "{body}");

    // Between the decision and the execution, the partner's GDAP access to one customer ends.
    let truth = server.sim_state().await["gdap"][&falls]["relationships"].clone();
    for relationship in truth.as_array().unwrap() {
        if relationship["status"] == "active" {
            let response = reqwest::Client::new()
                .post(server.url(&format!(
                    "/_sim/gdap/relationships/{}/terminate",
                    relationship["id"].as_str().unwrap()
                )))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
        }
    }

    let executed = server
        .call_with(&avery, "execute_review", &[("id", &id), ("confirm", "on")])
        .await;
    assert_eq!(executed.status(), 200);
    let job: String = executed.json().await.unwrap();
    let finished = server.wait_for_job(&avery, &job).await;
    let counts = &finished["summary"]["counts"];
    assert_eq!(
        (
            counts["total"].clone(),
            counts["done"].clone(),
            counts["held"].clone()
        ),
        (3.into(), 2.into(), 1.into()),
        "{finished}"
    );
    let item = |job: &Value, tenant: &str| {
        job["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["customer_tenant_id"] == tenant)
            .unwrap()
            .clone()
    };
    let held = item(&finished, &falls);
    assert_eq!(held["status"], "held");
    assert_eq!(held["attempts"], 0, "never sent");
    let detail = held["detail"].as_str().unwrap();
    assert!(
        detail.contains("GDAP coverage fell from covered at the decision to none"),
        "{detail}"
    );
    assert!(
        server.dap_enabled(&falls).await,
        "the held removal was not sent"
    );
    assert!(!server.dap_enabled(&stays).await && !server.dap_enabled(&uncovered).await);

    let audited = |customer: &str| {
        let pool = server.state.storage.pool.clone();
        let customer = customer.to_string();
        async move {
            sqlx::query_as::<_, (String, String)>(
                "SELECT outcome, target FROM audit_log WHERE action = 'remove-dap'
                 AND customer_tenant_id = $1 ORDER BY at_ms, id",
            )
            .bind(customer)
            .fetch_all(&pool)
            .await
            .unwrap()
        }
    };
    let entries = audited(&falls).await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0].0, "refused");
    assert!(
        entries[0]
            .1
            .contains("GDAP coverage at decision: covered; at execution: none"),
        "{entries:?}"
    );
    let entries = audited(&stays).await;
    assert_eq!(entries[0].0, "succeeded");
    assert!(
        entries[0]
            .1
            .contains("GDAP coverage at decision: covered; at execution: covered"),
        "{entries:?}"
    );
    assert!(audited(&uncovered).await[0]
        .1
        .contains("GDAP coverage at decision: none; at execution: none"));

    // Released deliberately: only with the confirmation and a reason, then it is sent.
    let release = |args: &[(&str, &str)]| {
        let mut form = vec![("id", job.as_str()), ("customer", falls.as_str())];
        form.extend_from_slice(args);
        let form: Vec<(String, String)> = form
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let (server, avery) = (&server, avery.clone());
        async move {
            let form: Vec<(&str, &str)> =
                form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            server
                .call_with(&avery, "release_held", &form)
                .await
                .status()
                .as_u16()
        }
    };
    assert_eq!(
        release(&[("note", "moved to a new relationship")]).await,
        400
    );
    assert_eq!(release(&[("confirm", "on"), ("note", " ")]).await, 400);
    assert_eq!(
        release(&[("confirm", "on"), ("note", "moved to a new relationship")]).await,
        200
    );
    assert_eq!(
        release(&[("confirm", "on"), ("note", "twice")]).await,
        400,
        "released once"
    );
    let finished = server.wait_for_job(&avery, &job).await;
    assert_eq!(item(&finished, &falls)["status"], "done", "{finished}");
    assert!(!server.dap_enabled(&falls).await);
    let entries = audited(&falls).await;
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert_eq!(entries[1].0, "succeeded");
    assert!(
        entries[1]
            .1
            .contains(&format!("sent anyway: released by {ADMIN_UPN}")),
        "{entries:?}"
    );
    let released: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'release-held-removal'
         AND actor_upn = $1 AND target LIKE '%moved to a new relationship%'",
    )
    .bind(ADMIN_UPN)
    .fetch_one(&server.state.storage.pool)
    .await
    .unwrap();
    assert_eq!(released, 1);
}

#[tokio::test]
async fn the_sync_progress_counts_the_gdap_calls_in_the_same_bar() {
    let server = TestServer::start().await;
    let (avery, _) = server.sign_in(ADMIN_UPN).await;
    let relationships: Vec<Value> = server.sim_state().await["gdap"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|c| c["relationships"].as_array().unwrap().clone())
        .collect();
    let active = relationships
        .iter()
        .filter(|r| r["status"] == "active")
        .count();
    let expected_total = relationships.len().div_ceil(300) + active;
    server.simulator.set_faults(simulator::FaultConfig {
        latency_ms: 150,
        path_contains: Some("accessAssignments".into()),
        ..simulator::FaultConfig::default()
    });
    assert_eq!(server.call(&avery, "start_sync").await.status(), 200);
    let mut seen = Vec::new();
    let mut page_midway = None;
    for _ in 0..1000 {
        let status: Value = server
            .call(&avery, "sync_status")
            .await
            .json()
            .await
            .unwrap();
        if status["running"].is_null() {
            break;
        }
        let running = status["running"].clone();
        if page_midway.is_none() && running["gdap_total"].is_u64() {
            page_midway = Some(server.page(&avery, "/customers").await.1);
        }
        seen.push(running);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let midway = seen
        .iter()
        .find(|p| p["gdap_total"].is_u64() && p["gdap_done"].as_u64() < p["gdap_total"].as_u64())
        .unwrap_or_else(|| panic!("no progress seen while GDAP was read: {seen:?}"));
    assert_eq!(midway["gdap_total"], expected_total, "{midway}");
    let html = page_midway.unwrap();
    assert!(
        html.contains("aria-label=\"Sync progress\"") && html.contains(" calls."),
        "one named bar, its label counting the GDAP calls"
    );
    let (avery_page, html) = server.page(&avery, "/customers").await;
    assert_eq!(avery_page, 200);
    assert!(!html.contains("Syncing:"), "finished");
    // Every observation counts up to its total, never past it.
    for p in &seen {
        if let (Some(done), Some(total)) = (p["gdap_done"].as_u64(), p["gdap_total"].as_u64()) {
            assert!(done <= total, "{p}");
        }
    }
}

#[tokio::test]
async fn removal_is_proposed_only_where_gdap_covers_and_nothing_is_preselected() {
    let server = TestServer::start().await;
    let (avery, _) = server.sign_in(ADMIN_UPN).await;
    let (id, review) = stale_review(&server, &avery).await;
    let (status, html) = server.page(&avery, &format!("/reviews/{id}")).await;
    assert_eq!(status, 200);
    let row_of = |tenant: &str| {
        let start = html.find(&format!("data-tenant-id=\"{tenant}\"")).unwrap();
        let end = html[start..].find("</tr>").unwrap();
        html[start..start + end].to_string()
    };
    let mut seen = std::collections::BTreeSet::new();
    // The first page of the review: its first 50 customers.
    for c in review["customers"].as_array().unwrap().iter().take(50) {
        let row = row_of(c["customer_tenant_id"].as_str().unwrap());
        let options: Vec<&str> = row
            .split("<option")
            .skip(1)
            .map(|o| o.split("</option>").next().unwrap())
            .collect();
        assert!(
            options[0].contains("selected") && options[0].contains("value=\"\""),
            "no decision is preselected: {row}"
        );
        let proposed = options[1];
        if c["gdap"] == "covered" {
            assert!(proposed.contains("value=\"remove\""), "{row}");
        } else {
            assert!(proposed.contains("value=\"keep\""), "{row}");
            assert!(proposed.contains("proposed"), "{row}");
        }
        seen.insert(c["gdap"].as_str().unwrap().to_string());
    }
    assert!(seen.contains("covered") && seen.len() > 1, "{seen:?}");
}
