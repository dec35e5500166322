//! The customers view, its CSV export, the sync and a customer's roles, against the simulator.

use crate::common;

use common::{Options, TestServer, ADMIN_UPN, APPROVER_UPN};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

fn days_since(customer: &Value, now: OffsetDateTime) -> Option<i64> {
    customer["lastSignInDateTime"]
        .as_str()
        .filter(|s| !s.is_empty())
        .map(|s| (now - OffsetDateTime::parse(s, &Rfc3339).unwrap()).whole_days())
}

fn tenant_ids_in(html: &str) -> Vec<String> {
    html.split("data-tenant-id=\"")
        .skip(1)
        .map(|rest| rest[..36].to_string())
        .collect()
}

fn summary_attribute(html: &str, name: &str) -> usize {
    let marker = format!("{name}=\"");
    let start = html.find(&marker).unwrap() + marker.len();
    let end = start + html[start..].find('"').unwrap();
    html[start..end].parse().unwrap()
}

fn parse_csv(text: &str) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

#[tokio::test]
async fn stale_dap_filter_equals_the_simulators_truth_and_the_csv_equals_the_view() {
    let server = TestServer::start_with(Options {
        customers: 1500,
        ..Default::default()
    })
    .await;
    let (client, first_page) = server.sign_in(ADMIN_UPN).await;
    let first_page = first_page.text().await.unwrap();
    assert_eq!(
        summary_attribute(&first_page, "data-all"),
        1500,
        "all 5 pages read"
    );

    let state = server.sim_state().await;
    let now = OffsetDateTime::now_utc();
    let customers = state["customers"].as_array().unwrap();
    let stale_dap: Vec<&Value> = customers
        .iter()
        .filter(|c| c["dapEnabled"].as_bool().unwrap())
        .filter(|c| days_since(c, now).is_none_or(|d| d >= 90))
        .collect();
    assert!(stale_dap.len() > 100, "the seed has stale DAP customers");

    let query = "dap=on&stale=90&sort=last_sign_in&dir=desc";
    assert!(stale_dap.len() <= 500, "one page of 500 holds them");
    let (status, html) = server
        .page(&client, &format!("/customers?{query}&per_page=500"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(summary_attribute(&html, "data-matching"), stale_dap.len());
    assert_eq!(summary_attribute(&html, "data-stale-dap"), stale_dap.len());
    let shown = tenant_ids_in(&html);
    let mut expected: Vec<String> = stale_dap
        .iter()
        .map(|c| c["customerTenantId"].as_str().unwrap().to_string())
        .collect();
    let mut shown_sorted = shown.clone();
    shown_sorted.sort();
    expected.sort();
    assert!(shown_sorted == expected, "exactly the stale DAP customers");

    // The export is the same view: same rows, same order, every page.
    let response = client
        .get(server.url(&format!("/customers/export.csv?{query}&page=2")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    let rows = parse_csv(&response.text().await.unwrap());
    assert_eq!(rows[0][0], "Organisation");
    let exported: Vec<String> = rows[1..].iter().map(|r| r[1].clone()).collect();
    assert!(
        exported == shown,
        "the export lists the view's rows in its order"
    );
    // Sorted by last sign-in, newest first: "never" (empty) comes last.
    let last_column: Vec<&str> = rows[1..].iter().map(|r| r[5].as_str()).collect();
    let mut resorted = last_column.clone();
    resorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(last_column, resorted);
}

#[tokio::test]
async fn the_csv_keeps_awkward_names_intact() {
    let server = TestServer::start_with(Options {
        customers: 1500,
        ..Default::default()
    })
    .await;
    let (client, _) = server.sign_in(ADMIN_UPN).await;
    let state = server.sim_state().await;
    let names: HashMap<String, String> = state["customers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["customerTenantId"].as_str().unwrap().to_string(),
                c["organizationDisplayName"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let awkward = names
        .values()
        .filter(|n| n.contains(',') || n.contains('"') || !n.is_ascii() || n.contains('<'))
        .count();
    assert!(awkward >= 5, "the seed has awkward names ({awkward})");

    let (status, text) = server.page(&client, "/customers/export.csv").await;
    assert_eq!(status, 200);
    let rows = parse_csv(&text);
    assert_eq!(rows.len(), 1 + names.len());
    for row in &rows[1..] {
        assert_eq!(row.len(), 13);
        assert_eq!(&row[0], &names[&row[1]], "name of {}", row[1]);
    }
    // The default view sorts by name; so does the export.
    let exported: Vec<String> = rows[1..]
        .iter()
        .map(|r| r[0].trim().to_lowercase())
        .collect();
    let mut sorted = exported.clone();
    sorted.sort();
    assert_eq!(exported, sorted);
}

#[tokio::test]
async fn the_export_needs_a_session() {
    let server = TestServer::start().await;
    let (status, text) = server
        .page(&server.browser(), "/customers/export.csv")
        .await;
    assert_eq!(status, 401);
    assert!(text.contains("not signed in"), "{text}");
}

#[tokio::test]
async fn the_export_is_gzipped_for_clients_that_accept_it_and_pages_are_not() {
    use std::io::Read;
    let server = TestServer::start().await;
    let (client, _) = server.sign_in(ADMIN_UPN).await;
    let get = |path: &str, accept_gzip: bool| {
        let request = client.get(server.url(path));
        let request = if accept_gzip {
            request.header("Accept-Encoding", "gzip")
        } else {
            request
        };
        async move { request.send().await.unwrap() }
    };
    let plain = get("/customers/export.csv", false).await;
    assert!(plain.headers().get("content-encoding").is_none());
    let plain = plain.text().await.unwrap();

    let gzipped = get("/customers/export.csv", true).await;
    assert_eq!(gzipped.headers()["content-encoding"], "gzip");
    assert_eq!(gzipped.headers()["content-type"], "text/csv; charset=utf-8");
    let compressed = gzipped.bytes().await.unwrap();
    let mut csv = String::new();
    flate2::read::GzDecoder::new(&compressed[..])
        .read_to_string(&mut csv)
        .unwrap();
    assert_eq!(csv, plain);
    assert!(
        compressed.len() * 2 < plain.len(),
        "{} of {} bytes",
        compressed.len(),
        plain.len()
    );

    // Pages are rendered per request and left uncompressed.
    let page = get("/customers", true).await;
    assert_eq!(page.status(), 200);
    assert!(page.headers().get("content-encoding").is_none());
}

#[tokio::test]
async fn a_failed_sync_keeps_the_last_good_snapshot_and_a_later_one_replaces_it() {
    let server = TestServer::start().await;
    let (client, _) = server.sign_in(ADMIN_UPN).await;
    let before = server.wait_for_sync(&client).await;
    let snapshot_id = before["snapshot"]["id"].as_str().unwrap().to_string();

    server.simulator.set_faults(simulator::FaultConfig {
        error_rates: BTreeMap::from([(503, 1.0)]),
        path_contains: Some("delegatedAdminCustomers".into()),
        ..Default::default()
    });
    let started = server.call(&client, "start_sync").await;
    assert_eq!(started.status(), 200);
    let failed = server.wait_for_sync(&client).await;
    let message = failed["last_failure"]["message"].as_str().unwrap();
    assert!(message.contains("after 4 attempts"), "{message}");
    assert!(failed["last_failure"]["correlation_id"].is_string());
    assert_eq!(
        failed["snapshot"]["id"],
        snapshot_id.as_str(),
        "old snapshot kept"
    );
    let (_, html) = server.page(&client, "/customers").await;
    assert_eq!(summary_attribute(&html, "data-all"), 300);
    assert!(html.contains("The last sync failed"));

    server
        .simulator
        .set_faults(simulator::FaultConfig::default());
    server.call(&client, "start_sync").await;
    let done = server.wait_for_sync(&client).await;
    assert!(done["last_failure"].is_null());
    assert_ne!(done["snapshot"]["id"], snapshot_id.as_str(), "new snapshot");
    assert_eq!(done["snapshot"]["customer_count"], 300);
}

/// Calls to Partner Center and the admin API (the simulator counts Graph's among its API calls).
async fn partner_center_calls(server: &TestServer) -> u64 {
    let counters = &server.sim_state().await["counters"];
    counters["apiCalls"].as_u64().unwrap() - counters["graphCalls"].as_u64().unwrap()
}

/// The admin API's documentation does not promise `@odata.count`: with it the sync reads the
/// other pages concurrently, without it it follows the next links; either way each page once.
#[tokio::test]
async fn a_sync_reads_every_page_once_with_or_without_the_total() {
    let server = TestServer::start_with(common::Options {
        customers: 1000,
        ..Default::default()
    })
    .await;
    let (client, _) = server.sign_in(ADMIN_UPN).await;
    server.wait_for_sync(&client).await;
    for count_omitted in [false, true] {
        server.simulator.set_faults(simulator::FaultConfig {
            count_omitted,
            ..Default::default()
        });
        let calls_before = partner_center_calls(&server).await;
        assert_eq!(server.call(&client, "start_sync").await.status(), 200);
        let done = server.wait_for_sync(&client).await;
        assert!(done["last_failure"].is_null(), "{done}");
        assert_eq!(done["snapshot"]["customer_count"], 1000);
        assert_eq!(
            partner_center_calls(&server).await - calls_before,
            4,
            "1,000 customers are 4 pages of 300 (count omitted: {count_omitted})"
        );
    }
}

#[tokio::test]
async fn a_customers_roles_and_members_match_the_simulator() {
    let server = TestServer::start().await;
    let (client, _) = server.sign_in(common::READER_UPN).await;
    let state = server.sim_state().await;
    let customer = state["customers"][7]["customerTenantId"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, html) = server
        .page(&client, &format!("/customers/{customer}"))
        .await;
    assert_eq!(status, 200, "{html}");

    let truth = server.sim_state_for(&customer).await;
    let roles = truth["roleMembers"][&customer].as_object().unwrap();
    let mut members = 0;
    for (role, holders) in roles {
        assert!(
            html.contains(&format!("data-role-id=\"{role}\"")),
            "role {role}"
        );
        for holder in holders.as_array().unwrap() {
            let holder = holder.as_str().unwrap();
            assert!(
                html.contains(&format!("<li data-user-id=\"{holder}\"")),
                "{holder}"
            );
            members += 1;
        }
    }
    assert_eq!(html.matches("<li data-user-id=").count(), members);
    let global_admins = roles["62e90394-69f5-4237-9190-012177145e10"]
        .as_array()
        .unwrap();
    assert!(!global_admins.is_empty());
    assert!(
        html.contains("class=\"global-admin\""),
        "Global Administrators stand out"
    );
}

#[tokio::test]
async fn malformed_tenant_ids_are_404_without_an_upstream_call() {
    let server = TestServer::start().await;
    let (client, _) = server.sign_in(ADMIN_UPN).await;
    let before = server.api_calls().await;
    for path in [
        "/customers/not-a-guid",
        "/customers/..%2F..%2Fusers",
        "/customers/%2e%2e%2fetc",
        "/customers/53018d99-ac51-4ec8-b86e-c8a61de4371",
        "/customers/{53018d99-ac51-4ec8-b86e-c8a61de43717}",
    ] {
        let (status, html) = server.page(&client, path).await;
        assert_eq!(status, 404, "{path}");
        assert!(html.contains("Not found"), "{path}");
    }
    assert_eq!(server.api_calls().await, before);
}

#[tokio::test]
async fn unknown_query_values_fall_back_to_defaults_shown_in_the_form() {
    let server = TestServer::start().await;
    let (client, _) = server.sign_in(ADMIN_UPN).await;
    let (status, html) = server
        .page(
            &client,
            "/customers?dap=maybe&stale=-4&sort=%3Cscript%3E&per_page=7&page=999",
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(summary_attribute(&html, "data-matching"), 300);
    assert!(html.contains("<option value=\"all\" selected"));
    assert!(html.contains("Page 6 of 6"), "the page is clamped");
    assert!(
        !html.contains("<script>"),
        "nothing from the query is echoed raw"
    );
}

#[tokio::test]
async fn a_refused_directory_read_names_the_gdap_roles_that_allow_it() {
    let server = TestServer::start().await;
    let (client, _) = server.sign_in(ADMIN_UPN).await;
    let customer = server.sim_state().await["customers"][2]["customerTenantId"]
        .as_str()
        .unwrap()
        .to_string();
    server.simulator.set_faults(simulator::FaultConfig {
        error_rates: BTreeMap::from([(403, 1.0)]),
        path_contains: Some(format!("customers/{customer}/directoryroles")),
        ..Default::default()
    });
    let page = client
        .get(server.url(&format!("/customers/{customer}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 403);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Directory Readers, Global Reader"),
        "the roles that allow reading"
    );
    assert!(html.contains("MS-CorrelationId"));
}

#[tokio::test]
async fn every_page_links_the_glossary_skips_to_its_content_and_marks_its_section() {
    let server = TestServer::start().await;
    let (avery, _) = server.sign_in(ADMIN_UPN).await;
    for (path, section) in [
        ("/customers", "/customers"),
        ("/customers?dap=on", "/customers"),
        ("/reviews", "/reviews"),
        ("/jobs", "/jobs"),
        ("/reports", "/reports"),
        ("/audit", "/audit"),
        ("/help", "/help"),
    ] {
        let (status, html) = server.page(&avery, path).await;
        assert_eq!(status, 200, "{path}");
        assert!(
            html.contains(r##"class="skip-link" href="#main""##),
            "{path}"
        );
        assert!(html.contains(r#"<main id="main""#), "{path}");
        assert!(
            html.contains(r#"href="/help""#),
            "{path}: the glossary is one click away"
        );
        let current: Vec<&str> = html
            .match_indices(r#"aria-current="page""#)
            .map(|(i, _)| &html[html[..i].rfind("<a").unwrap()..i])
            .collect();
        assert_eq!(current.len(), 1, "{path}: {current:?}");
        assert!(
            current[0].contains(&format!(r#"href="{section}""#)),
            "{path}: {current:?}"
        );
    }
    let (_, help) = server.page(&avery, "/help").await;
    for term in ["DAP", "GDAP", "CPV consent", "Admin Agents", "MS-RequestId"] {
        assert!(help.contains(&format!(">{term}</dt>")), "{term}");
    }
    let (_, customers) = server.page(&avery, "/customers").await;
    assert!(customers.contains("Partner sign-ins (last day)"));
    // Moments are written one way, with their zone, in <time datetime>.
    for path in ["/customers", "/audit"] {
        let (_, html) = server.page(&avery, path).await;
        let times: Vec<&str> = html.split("<time datetime=").skip(1).collect();
        assert!(!times.is_empty(), "{path}");
        for time in times {
            let text = &time[time.find('>').unwrap() + 1..time.find("</time>").unwrap()];
            assert!(text.len() == 20 && text.ends_with(" UTC"), "{path}: {text}");
        }
    }
}

#[tokio::test]
async fn the_page_and_the_csv_count_the_cpv_consents_the_dashboard_granted() {
    let server = TestServer::start().await;
    let (client, _) = server.sign_in(ADMIN_UPN).await;
    let tenant = server.sim_state().await["customers"][2]["customerTenantId"]
        .as_str()
        .unwrap()
        .to_string();
    let granted = server
        .call_with(
            &client,
            "grant_consent",
            &[
                ("customer_tenant_id", tenant.as_str()),
                ("application_id", "6a6e8d43-7c1b-4f0e-9f5e-2b8a1c3d4e5f"),
                ("display_name", "Contoso CPV"),
                ("preset_graph", "on"),
            ],
        )
        .await;
    assert_eq!(granted.status(), 200);
    let (status, text) = server
        .page(&client, &format!("/customers/export.csv?q={tenant}"))
        .await;
    assert_eq!(status, 200);
    let rows = parse_csv(&text);
    assert_eq!(
        rows[0].last().unwrap(),
        "CPV consents (applications the dashboard granted)"
    );
    assert_eq!(rows.len(), 2, "{text}");
    assert_eq!(rows[1][1], tenant);
    assert_eq!(rows[1].last().unwrap(), "1");

    // The page counts the consents of the customers it shows: the granted one, among others.
    let (_, html) = server.page(&client, "/customers?per_page=500").await;
    let row = html
        .split("<tr")
        .find(|row| row.contains(&format!("data-tenant-id=\"{tenant}\"")))
        .unwrap_or_else(|| panic!("{tenant} is listed"));
    assert!(row.contains("data-consents=\"1\""), "{row}");
    assert_eq!(html.matches("data-consents=\"0\"").count(), 299);
}

#[tokio::test]
async fn the_first_visit_explains_what_to_do_first_until_the_admin_hides_it() {
    let server = TestServer::start().await;
    let (avery, _) = server.sign_in(ADMIN_UPN).await;
    let (_, html) = server.page(&avery, "/customers").await;
    assert!(
        html.contains(r#"id="first-steps""#),
        "shown on the first visit"
    );
    assert!(html.contains("New here? What to do first"));
    let response = server.call_with(&avery, "hide_first_steps", &[]).await;
    assert_eq!(response.status(), 200);
    let (_, html) = server.page(&avery, "/customers").await;
    assert!(!html.contains(r#"id="first-steps""#), "hidden for good");
    // Hidden for that admin only.
    let (casey, _) = server.sign_in(APPROVER_UPN).await;
    let (_, html) = server.page(&casey, "/customers").await;
    assert!(html.contains(r#"id="first-steps""#));
}
