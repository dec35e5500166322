//! DAP-removal reviews: decisions with notes, the four-eyes rule, execution as a bulk job, and
//! the customers then showing DAP off; history and CSV.

use crate::common;

use common::{Options, TestServer, ADMIN_UPN, APPROVER_UPN, READER_UPN};
use serde_json::Value;

async fn call_ok(
    server: &TestServer,
    client: &reqwest::Client,
    f: &str,
    args: &[(&str, &str)],
) -> Value {
    let response = server.call_with(client, f, args).await;
    let status = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(status, 200, "{f}: {body}");
    serde_json::from_str(&body).unwrap_or(Value::Null)
}

/// A review of the DAP customers without a partner sign-in for 90 days; its id.
async fn start_stale_review(server: &TestServer, client: &reqwest::Client) -> String {
    let started = call_ok(
        server,
        client,
        "start_review",
        &[("filter", "dap=on&stale=90"), ("title", "")],
    )
    .await;
    serde_json::from_value(started).unwrap()
}

async fn review(server: &TestServer, client: &reqwest::Client, id: &str) -> Value {
    call_ok(server, client, "review", &[("id", id)]).await
}

#[tokio::test]
async fn a_removal_approved_by_a_second_admin_is_executed_and_dap_shows_off() {
    let server = TestServer::start_with(Options {
        customers: 200,
        four_eyes: true,
        ..Options::default()
    })
    .await;
    let (avery, _) = server.sign_in(ADMIN_UPN).await;
    let (casey, _) = server.sign_in(APPROVER_UPN).await;
    let (riley, _) = server.sign_in(READER_UPN).await;

    let id = start_stale_review(&server, &avery).await;
    let loaded = review(&server, &avery, &id).await;
    assert_eq!(loaded["summary"]["four_eyes"], true);
    let customers = loaded["customers"].as_array().unwrap().clone();
    assert!(customers.len() >= 3, "stale DAP customers in the simulator");
    let tenant = |i: usize| {
        customers[i]["customer_tenant_id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (removed, unapproved, kept) = (tenant(0), tenant(1), tenant(2));
    let decide = |client: &reqwest::Client, customer: &str, decision: &str, note: &str| {
        let (client, customer, decision, note, id) = (
            client.clone(),
            customer.to_string(),
            decision.to_string(),
            note.to_string(),
            id.clone(),
        );
        let server = &server;
        async move {
            server
                .call_with(
                    &client,
                    "decide",
                    &[
                        ("review", id.as_str()),
                        ("customer_tenant_id", customer.as_str()),
                        ("decision", decision.as_str()),
                        ("note", note.as_str()),
                        ("override_uncovered", "on"),
                    ],
                )
                .await
                .status()
        }
    };
    let hostile_note = "<script>alert('x')</script> no sign-in since 2024";
    assert_eq!(decide(&avery, &removed, "remove", hostile_note).await, 200);
    assert_eq!(decide(&avery, &unapproved, "remove", "stale").await, 200);
    assert_eq!(decide(&avery, &kept, "remove", "stale").await, 200);
    assert_eq!(
        decide(&avery, &kept, "keep", "changed my mind: still a customer").await,
        200
    );
    // Nobody approves their own removal, and only a removal can be approved.
    assert_eq!(decide(&avery, &removed, "approve", "").await, 403);
    assert_eq!(decide(&casey, &kept, "approve", "").await, 400);
    assert_eq!(decide(&avery, &removed, "shred", "").await, 400);
    let too_long = "x".repeat(1001);
    assert_eq!(decide(&avery, &removed, "remove", &too_long).await, 400);
    // Nothing approved yet: nothing to execute.
    let refused = server
        .call_with(
            &avery,
            "execute_review",
            &[("id", id.as_str()), ("confirm", "on")],
        )
        .await;
    assert_eq!(refused.status(), 400);

    // The read-only admin does not hold the approver role: refused, and the attempt audited.
    assert_eq!(decide(&riley, &removed, "approve", "").await, 403);
    let loaded = review(&server, &riley, &id).await;
    assert_eq!(loaded["viewer_can_approve"], false);
    assert_eq!(loaded["summary"]["ready"], 0);
    let refused: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'review-decision' AND outcome = 'refused'
         AND actor_upn = $1",
    )
    .bind(READER_UPN)
    .fetch_one(&server.state.storage.pool)
    .await
    .unwrap();
    assert_eq!(refused, 1);

    assert_eq!(decide(&casey, &removed, "approve", "agreed").await, 200);
    let loaded = review(&server, &casey, &id).await;
    assert_eq!(loaded["summary"]["removals"], 2);
    assert_eq!(loaded["summary"]["ready"], 1);
    let kept_row = loaded["customers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["customer_tenant_id"] == kept.as_str())
        .unwrap()
        .clone();
    assert_eq!(kept_row["decision"]["decision"], "keep");
    assert_eq!(
        kept_row["history"].as_array().unwrap().len(),
        2,
        "history stays"
    );

    let job: String = serde_json::from_value(
        call_ok(
            &server,
            &casey,
            "execute_review",
            &[("id", id.as_str()), ("confirm", "on")],
        )
        .await,
    )
    .unwrap();
    let finished = server.wait_for_job(&casey, &job).await;
    assert_eq!(finished["summary"]["counts"]["total"], 1);
    assert_eq!(finished["summary"]["counts"]["done"], 1);
    assert_eq!(finished["summary"]["review_id"], id.as_str());

    // Partner Center has DAP off for the removed customer only, and the customers view says so
    // without a re-sync.
    assert!(!server.dap_enabled(&removed).await);
    assert!(server.dap_enabled(&unapproved).await && server.dap_enabled(&kept).await);
    let (_, html) = server
        .page(&avery, &format!("/customers?q={removed}"))
        .await;
    assert!(
        html.contains("dap dap-off"),
        "the customers view shows DAP off"
    );
    let (_, html) = server
        .page(&avery, &format!("/customers?q={unapproved}"))
        .await;
    assert!(html.contains("dap dap-on"));

    // Executed: the removed customer's decision is final; with no new removal ready a second
    // execution is refused.
    assert_eq!(decide(&avery, &removed, "keep", "").await, 400);
    let again = server
        .call_with(
            &casey,
            "execute_review",
            &[("id", id.as_str()), ("confirm", "on")],
        )
        .await;
    assert_eq!(again.status(), 400);

    // The page escapes the note; the CSV keeps the whole history's current state.
    let (status, html) = server.page(&avery, &format!("/reviews/{id}")).await;
    assert_eq!(status, 200);
    assert!(!html.contains("<script>alert"));
    assert!(html.contains("&lt;script&gt;alert"));
    let csv = avery
        .get(server.url(&format!("/reviews/{id}/export.csv")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(csv.lines().count(), customers.len() + 1);
    let removed_line = csv.lines().find(|l| l.contains(&removed)).unwrap();
    // ... removed by the review, then the GDAP coverage at the start.
    assert!(
        removed_line.contains(APPROVER_UPN) && removed_line.contains(",yes,"),
        "{removed_line}"
    );

    // Audited: every decision and the execution, by their actors.
    let decisions: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'review-decision' AND outcome = 'succeeded'",
    )
    .fetch_one(&server.state.storage.pool)
    .await
    .unwrap();
    assert_eq!(decisions, 5);
}

#[tokio::test]
async fn without_four_eyes_a_removal_decision_is_enough() {
    let server = TestServer::start_with(Options {
        customers: 100,
        ..Options::default()
    })
    .await;
    let (avery, _) = server.sign_in(ADMIN_UPN).await;
    let id: String = serde_json::from_value(
        call_ok(
            &server,
            &avery,
            "start_review",
            &[("filter", "dap=on"), ("title", "All DAP")],
        )
        .await,
    )
    .unwrap();
    let loaded = review(&server, &avery, &id).await;
    assert_eq!(loaded["summary"]["title"], "All DAP");
    let customer = loaded["customers"][0]["customer_tenant_id"]
        .as_str()
        .unwrap()
        .to_string();
    call_ok(
        &server,
        &avery,
        "decide",
        &[
            ("review", id.as_str()),
            ("customer_tenant_id", customer.as_str()),
            ("decision", "remove"),
            ("note", "no longer needed"),
        ],
    )
    .await;
    // Approval is not part of this review.
    let response = server
        .call_with(
            &avery,
            "decide",
            &[
                ("review", id.as_str()),
                ("customer_tenant_id", customer.as_str()),
                ("decision", "approve"),
                ("note", ""),
            ],
        )
        .await;
    assert_eq!(response.status(), 400);
    assert_eq!(review(&server, &avery, &id).await["summary"]["ready"], 1);
    // A customer outside the review, and a filter without DAP customers, are refused.
    let response = server
        .call_with(
            &avery,
            "decide",
            &[
                ("review", id.as_str()),
                ("customer_tenant_id", "6a6e8d43-7c1b-4f0e-9f5e-2b8a1c3d4e5f"),
                ("decision", "remove"),
                ("note", ""),
            ],
        )
        .await;
    assert_eq!(response.status(), 404);
    let response = server
        .call_with(
            &avery,
            "start_review",
            &[("filter", "dap=off"), ("title", "")],
        )
        .await;
    assert_eq!(response.status(), 400);
}

fn tenants(review: &Value) -> Vec<String> {
    review["customers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["customer_tenant_id"].as_str().unwrap().to_string())
        .collect()
}

async fn decide_as(
    server: &TestServer,
    client: &reqwest::Client,
    review: &str,
    customer: &str,
    decision: &str,
) -> (u16, String) {
    let response = server
        .call_with(
            client,
            "decide",
            &[
                ("review", review),
                ("customer_tenant_id", customer),
                ("decision", decision),
                ("note", "checked"),
                ("override_uncovered", "on"),
            ],
        )
        .await;
    (
        response.status().as_u16(),
        response.text().await.unwrap_or_default(),
    )
}

#[tokio::test]
async fn the_same_admin_under_another_upn_is_not_a_second_admin() {
    let server = TestServer::start_with(Options {
        customers: 200,
        four_eyes: true,
        ..Options::default()
    })
    .await;
    let (avery, _) = server.sign_in(ADMIN_UPN).await;
    let id = start_stale_review(&server, &avery).await;
    let customer = tenants(&review(&server, &avery, &id).await)[0].clone();
    assert_eq!(
        decide_as(&server, &avery, &id, &customer, "remove").await.0,
        200
    );
    // The same Entra identity, renamed since: the name differs, the object id does not.
    sqlx::query("UPDATE review_decisions SET decided_by = 'avery.renamed@example.com'")
        .execute(&server.state.storage.pool)
        .await
        .unwrap();
    let (status, body) = decide_as(&server, &avery, &id, &customer, "approve").await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("second, different admin"), "{body}");
    assert_eq!(review(&server, &avery, &id).await["summary"]["ready"], 0);
}

#[tokio::test]
async fn retrying_a_dap_removal_job_sends_only_the_removals_that_still_stand() {
    let server = TestServer::start_with(Options {
        customers: 200,
        four_eyes: true,
        ..Options::default()
    })
    .await;
    let (avery, _) = server.sign_in(ADMIN_UPN).await;
    let (casey, _) = server.sign_in(APPROVER_UPN).await;
    let id = start_stale_review(&server, &avery).await;
    let all = tenants(&review(&server, &avery, &id).await);
    let (still, changed) = (all[0].clone(), all[1].clone());
    for customer in [&still, &changed] {
        assert_eq!(
            decide_as(&server, &avery, &id, customer, "remove").await.0,
            200
        );
        assert_eq!(
            decide_as(&server, &casey, &id, customer, "approve").await.0,
            200
        );
    }
    // Partner Center refuses every DAP change while the job runs: both items fail at once.
    server.simulator.set_faults(simulator::FaultConfig {
        error_rates: std::collections::BTreeMap::from([(403, 1.0)]),
        path_contains: Some("partnercenter/v1/customers/".into()),
        ..Default::default()
    });
    let job: String = serde_json::from_value(
        call_ok(
            &server,
            &avery,
            "execute_review",
            &[("id", &id), ("confirm", "on")],
        )
        .await,
    )
    .unwrap();
    let finished = server.wait_for_job(&avery, &job).await;
    assert_eq!(finished["summary"]["counts"]["failed"], 2, "{finished}");
    server
        .simulator
        .set_faults(simulator::FaultConfig::default());

    // One approval no longer stands: written before identities were recorded (an upgraded
    // deployment), it cannot show a second admin. The retry must not remove DAP there.
    sqlx::query(
        "UPDATE review_decisions SET decided_by_key = NULL
         WHERE customer_tenant_id = $1 AND decision = 'approve'",
    )
    .bind(&changed)
    .execute(&server.state.storage.pool)
    .await
    .unwrap();
    let retry: String = serde_json::from_value(
        call_ok(
            &server,
            &casey,
            "retry_failed",
            &[("id", &job), ("confirm", "on")],
        )
        .await,
    )
    .unwrap();
    let retried = server.wait_for_job(&casey, &retry).await;
    let items: Vec<&str> = retried["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["customer_tenant_id"].as_str().unwrap())
        .collect();
    assert_eq!(items, [still.as_str()]);
    assert_eq!(retried["summary"]["started_by"], APPROVER_UPN);
    assert!(
        !server.dap_enabled(&still).await,
        "the standing removal is applied"
    );
    assert!(
        server.dap_enabled(&changed).await,
        "the unproven approval keeps DAP"
    );
}

#[tokio::test]
async fn a_decision_saved_twice_is_one_decision_but_changing_back_is_not() {
    let server = TestServer::start_with(Options {
        customers: 100,
        ..Options::default()
    })
    .await;
    let (avery, _) = server.sign_in(ADMIN_UPN).await;
    let id = start_stale_review(&server, &avery).await;
    let customer = tenants(&review(&server, &avery, &id).await)[0].clone();
    let (a, b) = tokio::join!(
        decide_as(&server, &avery, &id, &customer, "remove"),
        decide_as(&server, &avery, &id, &customer, "remove")
    );
    assert_eq!((a.0, b.0), (200, 200), "{a:?} {b:?}");
    assert_eq!(
        history_len(&server, &avery, &id, &customer).await,
        1,
        "a repeat adds nothing"
    );
    // Keep, then remove again with the same words: two more decisions, each its own.
    assert_eq!(
        decide_as(&server, &avery, &id, &customer, "keep").await.0,
        200
    );
    assert_eq!(
        decide_as(&server, &avery, &id, &customer, "remove").await.0,
        200
    );
    assert_eq!(history_len(&server, &avery, &id, &customer).await, 3);
    let audited: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'review-decision' AND customer_tenant_id = $1",
    )
    .bind(&customer)
    .fetch_one(&server.state.storage.pool)
    .await
    .unwrap();
    assert_eq!(audited, 3);
}

/// How many decisions (approvals included) the review holds for `customer`.
async fn history_len(
    server: &TestServer,
    client: &reqwest::Client,
    id: &str,
    customer: &str,
) -> usize {
    review(server, client, id).await["customers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["customer_tenant_id"] == customer)
        .unwrap()["history"]
        .as_array()
        .unwrap()
        .len()
}

#[tokio::test]
async fn a_long_review_pages_shows_undecided_only_and_says_its_filter_and_progress() {
    let server = TestServer::start_with(Options {
        customers: 400,
        ..Options::default()
    })
    .await;
    let (avery, _) = server.sign_in(ADMIN_UPN).await;
    let id = start_stale_review(&server, &avery).await;
    let all = tenants(&review(&server, &avery, &id).await);
    assert!(all.len() > 100, "{} stale DAP customers", all.len());
    assert_eq!(
        decide_as(&server, &avery, &id, &all[0], "keep").await.0,
        200
    );
    let (status, html) = server.page(&avery, &format!("/reviews/{id}")).await;
    assert_eq!(status, 200);
    assert!(html.contains("the DAP customers of: DAP on, no partner sign-in for 90+ days"));
    assert!(html.contains(&format!(
        "1 of {} customers decided: 0 to remove (0 ready, 0 executed), 1 kept, {} undecided.",
        all.len(),
        all.len() - 1
    )));
    assert!(html.contains(r#"aria-label="Customers decided""#));
    let rows = |html: &str| html.matches("<tr data-tenant-id=").count();
    assert_eq!(rows(&html), 50);
    assert!(html.contains(&format!("Showing 1–50 of {} customers", all.len())));
    // The last page, and the undecided ones only: the decided customer is not among them.
    let pages = all.len().div_ceil(50);
    let (_, last) = server
        .page(&avery, &format!("/reviews/{id}?page={pages}"))
        .await;
    assert_eq!(rows(&last), all.len() - (pages - 1) * 50);
    let (_, undecided) = server
        .page(&avery, &format!("/reviews/{id}?show=undecided"))
        .await;
    assert!(!undecided.contains(&format!("data-tenant-id=\"{}\"", all[0])));
    assert!(undecided.contains(&format!("of {} customers", all.len() - 1)));
}

#[tokio::test]
async fn many_customers_are_decided_in_one_action_refused_whole_without_the_override() {
    let server = TestServer::start_with(Options {
        customers: 300,
        ..Options::default()
    })
    .await;
    let (avery, _) = server.sign_in(ADMIN_UPN).await;
    let id = start_stale_review(&server, &avery).await;
    let loaded = review(&server, &avery, &id).await;
    let of = |class: &str| -> Vec<String> {
        loaded["customers"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| (c["gdap"] == "covered") == (class == "covered"))
            .map(|c| c["customer_tenant_id"].as_str().unwrap().to_string())
            .collect()
    };
    let (covered, uncovered) = (of("covered"), of("other"));
    let total = covered.len() + uncovered.len();
    assert!(covered.len() >= 3 && !uncovered.is_empty());
    let decide_many = |args: Vec<(String, String)>| {
        let (server, avery) = (&server, avery.clone());
        async move {
            let args: Vec<(&str, &str)> =
                args.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let response = server.call_with(&avery, "decide_many", &args).await;
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    let ticked = |tenants: &[&String], decision: &str, extra: &[(&str, &str)]| {
        let mut args = vec![
            ("review".to_string(), id.clone()),
            ("decision".to_string(), decision.to_string()),
            ("note".to_string(), "bulk".to_string()),
        ];
        for (i, t) in tenants.iter().enumerate() {
            args.push((format!("customers[{}]", i * 3), t.to_string()));
        }
        args.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        args
    };
    // Three covered customers removed in one action: three decisions, three audit entries.
    let (status, body) = decide_many(ticked(
        &[&covered[0], &covered[1], &covered[2]],
        "remove",
        &[],
    ))
    .await;
    assert_eq!((status, body.as_str()), (200, "3"));
    // A removal reaching an uncovered customer is refused whole without the override.
    let (status, body) = decide_many(ticked(&[&covered[0], &uncovered[0]], "keep", &[])).await;
    assert_eq!(status, 200, "keeping needs no override: {body}");
    let (status, body) = decide_many(ticked(&[&covered[1], &uncovered[0]], "remove", &[])).await;
    assert_eq!(status, 400);
    assert!(body.contains("1 customer"), "{body}");
    let after = review(&server, &avery, &id).await;
    assert_eq!(after["summary"]["decided"], 4);
    assert_eq!(
        after["summary"]["removals"], 2,
        "covered[1] still a removal, nothing else"
    );
    // Everything still undecided, kept in one action.
    let (status, body) = decide_many(vec![
        ("review".into(), id.clone()),
        ("decision".into(), "keep".into()),
        ("note".into(), "".into()),
        ("all_matching".into(), "on".into()),
        ("show".into(), "undecided".into()),
    ])
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, (total - 4).to_string());
    let after = review(&server, &avery, &id).await;
    assert_eq!(after["summary"]["decided"], total);
    let audited: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'review-decision' AND outcome = 'succeeded'",
    )
    .fetch_one(&server.state.storage.pool)
    .await
    .unwrap();
    assert_eq!(audited as usize, 3 + 2 + (total - 4));
    // Approvals are not given in bulk.
    let (status, _) = decide_many(ticked(&[&covered[0]], "approve", &[])).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn an_executed_review_stays_open_for_the_undecided_until_an_admin_closes_it() {
    let server = TestServer::start_with(Options {
        customers: 200,
        ..Options::default()
    })
    .await;
    let (avery, _) = server.sign_in(ADMIN_UPN).await;
    let id = start_stale_review(&server, &avery).await;
    let all = tenants(&review(&server, &avery, &id).await);
    assert!(all.len() >= 3, "{} stale DAP customers", all.len());
    let (first, second, third) = (&all[0], &all[1], &all[2]);
    let decide = |customer: &str, decision: &str, note: &str| {
        let args = [
            ("review", id.as_str()),
            ("customer_tenant_id", customer),
            ("decision", decision),
            ("note", note),
            ("override_uncovered", "on"),
        ];
        let (server, avery) = (&server, avery.clone());
        let args: Vec<(String, String)> = args
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        async move {
            let args: Vec<(&str, &str)> =
                args.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let response = server.call_with(&avery, "decide", &args).await;
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    let execute = |confirm: bool| {
        let (server, avery, id) = (&server, avery.clone(), id.clone());
        async move {
            let mut args = vec![("id", id.as_str())];
            if confirm {
                args.push(("confirm", "on"));
            }
            let response = server.call_with(&avery, "execute_review", &args).await;
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };

    // A removal needs a note, one by one and in bulk.
    let (status, body) = decide(first, "remove", "  ").await;
    assert_eq!(status, 400);
    assert!(body.contains("A removal needs a note"), "{body}");
    let response = server
        .call_with(
            &avery,
            "decide_many",
            &[
                ("review", id.as_str()),
                ("decision", "remove"),
                ("note", ""),
                ("override_uncovered", "on"),
                ("customers[0]", first.as_str()),
            ],
        )
        .await;
    assert_eq!(response.status(), 400);
    assert_eq!(
        decide(first, "remove", "no sign-in for a year").await.0,
        200
    );

    // Executed with the rest undecided: the review stays open for them.
    let (status, body) = execute(false).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = execute(true).await;
    assert_eq!(status, 200, "{body}");
    let job: String = serde_json::from_str(&body).unwrap();
    server.wait_for_job(&avery, &job).await;
    let loaded = review(&server, &avery, &id).await;
    assert_eq!(loaded["summary"]["closed_at"], Value::Null);
    assert_eq!(loaded["summary"]["executed"], 1);
    assert_eq!(loaded["summary"]["ready"], 0);
    assert_eq!(loaded["customers"][0]["executed_job_id"], job.as_str());
    let (status, body) = decide(first, "keep", "").await;
    assert_eq!(status, 400);
    assert!(body.contains("its decision is final"), "{body}");

    // Decided later, executed again: only the new removal goes to the second job.
    assert_eq!(decide(second, "remove", "gone too").await.0, 200);
    let (status, body) = execute(true).await;
    assert_eq!(status, 200, "{body}");
    let job2: String = serde_json::from_str(&body).unwrap();
    let finished = server.wait_for_job(&avery, &job2).await;
    assert_eq!(finished["summary"]["counts"]["total"], 1);
    assert!(!server.dap_enabled(first).await && !server.dap_enabled(second).await);
    assert!(server.dap_enabled(third).await);
    let (status, _) = execute(true).await;
    assert_eq!(status, 400, "nothing new to remove");
    let (_, html) = server.page(&avery, &format!("/reviews/{id}")).await;
    assert!(html.contains(r#"id="review-executed""#));
    assert!(html.contains(r#"id="close-review""#));

    // Closed deliberately, after the confirmation: nothing more is decided or executed.
    let close = |confirm: bool| {
        let (server, avery, id) = (&server, avery.clone(), id.clone());
        async move {
            let mut args = vec![("id", id.as_str()), ("note", "the rest keep DAP this year")];
            if confirm {
                args.push(("confirm", "on"));
            }
            let response = server.call_with(&avery, "close_review", &args).await;
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    let (status, body) = close(false).await;
    assert_eq!(status, 400);
    assert!(
        body.contains(&format!("{} customers undecided", all.len() - 2)),
        "{body}"
    );
    assert_eq!(close(true).await.0, 200);
    let (status, body) = decide(third, "keep", "").await;
    assert_eq!(status, 400);
    assert!(body.contains("was closed by"), "{body}");
    assert_eq!(execute(true).await.0, 400);
    assert_eq!(close(true).await.0, 400);
    let loaded = review(&server, &avery, &id).await;
    assert_eq!(loaded["summary"]["closed_by"], ADMIN_UPN);
    let (_, html) = server.page(&avery, &format!("/reviews/{id}")).await;
    assert!(html.contains(r#"id="review-closed""#));
    assert!(!html.contains(r#"id="execute-review""#));

    let audited: Vec<(String, String)> = sqlx::query_as(
        "SELECT action, target FROM audit_log
         WHERE action IN ('execute-review', 'close-review') AND outcome = 'succeeded'
         ORDER BY at_ms",
    )
    .fetch_all(&server.state.storage.pool)
    .await
    .unwrap();
    assert_eq!(audited.len(), 3, "{audited:?}");
    assert!(
        audited[0].1.contains("the review stays open"),
        "{audited:?}"
    );
    assert_eq!(audited[2].0, "close-review");
    assert!(
        audited[2].1.contains("the rest keep DAP this year"),
        "{audited:?}"
    );
}

#[tokio::test]
async fn customers_with_the_same_name_are_told_apart_by_their_tenant_ids() {
    let server = TestServer::start_with(Options {
        customers: 400,
        ..Options::default()
    })
    .await;
    let (avery, _) = server.sign_in(ADMIN_UPN).await;
    let id = start_stale_review(&server, &avery).await;
    let loaded = review(&server, &avery, &id).await;
    let customers: Vec<(String, String)> = loaded["customers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["organization_display_name"].as_str().unwrap().to_string(),
                c["customer_tenant_id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    // Listed by name: a repeated name is on neighbouring rows.
    let repeated = customers
        .windows(2)
        .position(|pair| pair[0].0 == pair[1].0)
        .expect("two stale DAP customers with the same name in the simulator");
    let unique = (0..customers.len())
        .find(|&i| customers.iter().filter(|c| c.0 == customers[i].0).count() == 1)
        .expect("a customer with a name of its own");
    let shown = |index: usize| {
        let (server, avery, id) = (&server, avery.clone(), id.clone());
        async move {
            let page = index / 50 + 1;
            server
                .page(&avery, &format!("/reviews/{id}?page={page}"))
                .await
                .1
        }
    };
    let tenant_id_shown =
        |html: &str, tenant: &str| html.contains(&format!(r#"class="tenant-id">{tenant}<"#));
    for index in [repeated, repeated + 1] {
        let html = shown(index).await;
        assert!(
            tenant_id_shown(&html, &customers[index].1),
            "{} ({}) has its tenant id beside it",
            customers[index].0,
            customers[index].1
        );
    }
    let html = shown(unique).await;
    assert!(!tenant_id_shown(&html, &customers[unique].1));
}
