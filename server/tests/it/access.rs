//! Who may act: every server function and download checks the dashboard role it needs, a
//! refusal is a 403 naming the role and is audited, and a sign-in without any dashboard role
//! stores nothing.

use crate::common;

use common::{Options, TestServer, ADMIN_UPN, NO_ROLE_UPN, READER_UPN};
use std::collections::BTreeSet;

/// A server function, arguments that reach the check (they need not be valid beyond it), and
/// the dashboard role it needs (`None`: open to visitors).
type Row = (
    &'static str,
    &'static [(&'static str, &'static str)],
    Option<&'static str>,
);

const SERVER_FUNCTIONS: &[Row] = &[
    ("current_session", &[], None),
    (
        "customers_view",
        &[
            ("query[q]", ""),
            ("query[dap]", "All"),
            ("query[sort]", "Name"),
            ("query[dir]", "Asc"),
            ("query[page]", "1"),
            ("query[per_page]", "50"),
        ],
        Some("Dashboard.Read"),
    ),
    ("sync_status", &[], Some("Dashboard.Read")),
    ("start_sync", &[], Some("Dashboard.Operate")),
    (
        "customer_directory",
        &[("customer_tenant_id", "not-a-guid")],
        Some("Dashboard.Read"),
    ),
    (
        "add_role_member",
        &[
            ("customer_tenant_id", "x"),
            ("role_id", "x"),
            ("user_id", "x"),
        ],
        Some("Dashboard.Operate"),
    ),
    (
        "remove_role_member",
        &[
            ("customer_tenant_id", "x"),
            ("role_id", "x"),
            ("user_id", "x"),
        ],
        Some("Dashboard.Operate"),
    ),
    (
        "grant_consent",
        &[
            ("customer_tenant_id", "x"),
            ("application_id", "x"),
            ("display_name", ""),
        ],
        Some("Dashboard.Operate"),
    ),
    (
        "revoke_consent",
        &[("customer_tenant_id", "x"), ("application_id", "x")],
        Some("Dashboard.Operate"),
    ),
    (
        "restore_consent",
        &[("customer_tenant_id", "x"), ("application_id", "x")],
        Some("Dashboard.Operate"),
    ),
    (
        "customer_gdap",
        &[("customer_tenant_id", "x")],
        Some("Dashboard.Read"),
    ),
    (
        "consents",
        &[("customer_tenant_id", "x")],
        Some("Dashboard.Read"),
    ),
    (
        "start_role_report",
        &[("filter", "name=zzzz-nothing-matches")],
        Some("Dashboard.Operate"),
    ),
    ("role_report", &[("id", "x")], Some("Dashboard.Read")),
    ("role_reports", &[], Some("Dashboard.Read")),
    ("bulk_selection", &[("filter", "")], Some("Dashboard.Read")),
    (
        "start_consent_job",
        &[
            ("filter", ""),
            ("action", "neither"),
            ("application_id", "x"),
            ("display_name", ""),
        ],
        Some("Dashboard.Operate"),
    ),
    ("jobs", &[], Some("Dashboard.Read")),
    ("job", &[("id", "x")], Some("Dashboard.Read")),
    ("cancel_job", &[("id", "x")], Some("Dashboard.Operate")),
    ("retry_failed", &[("id", "x")], Some("Dashboard.Operate")),
    (
        "release_held",
        &[
            ("id", "x"),
            ("customer", "x"),
            ("confirm", "on"),
            ("note", "n"),
        ],
        Some("Dashboard.Operate"),
    ),
    (
        "audit_log",
        &[
            ("query[actor]", ""),
            ("query[action]", ""),
            ("query[customer]", ""),
        ],
        Some("Dashboard.Read"),
    ),
    (
        "start_review",
        &[("filter", "name=zzzz-nothing-matches"), ("title", "")],
        Some("Dashboard.Operate"),
    ),
    ("reviews", &[], Some("Dashboard.Read")),
    ("review", &[("id", "x")], Some("Dashboard.Read")),
    (
        "decide",
        &[
            ("review", "x"),
            ("customer_tenant_id", "x"),
            ("decision", "remove"),
        ],
        Some("Dashboard.Operate"),
    ),
    ("execute_review", &[("id", "x")], Some("Dashboard.Operate")),
    ("hide_first_steps", &[], Some("Dashboard.Read")),
    (
        "close_review",
        &[("id", "x"), ("confirm", "on")],
        Some("Dashboard.Operate"),
    ),
    (
        "decide_many",
        &[
            ("review", "x"),
            ("decision", "keep"),
            ("all_matching", "on"),
        ],
        Some("Dashboard.Operate"),
    ),
];

/// `decide` needs another role for an approval than for a decision.
const APPROVAL: (&str, &[(&str, &str)], &str) = (
    "decide",
    &[
        ("review", "x"),
        ("customer_tenant_id", "x"),
        ("decision", "approve"),
    ],
    "DapReview.Approve",
);

const DOWNLOADS: &[&str] = &[
    "/customers/export.csv",
    "/audit/export.csv",
    "/jobs/00000000-0000-0000-0000-000000000000/export.csv",
    "/jobs/00000000-0000-0000-0000-000000000000.json",
    "/reports/00000000-0000-0000-0000-000000000000/export.csv",
    "/reviews/00000000-0000-0000-0000-000000000000/export.csv",
];

/// True when the answer is the dashboard's own refusal for `role`.
async fn refused_for(response: reqwest::Response, role: &str) -> (u16, bool, String) {
    let status = response.status().as_u16();
    let body = response.text().await.unwrap();
    let refused = status == 403 && body.contains(role);
    (status, refused, body)
}

#[test]
fn the_table_lists_every_server_function() {
    let registered: BTreeSet<String> = leptos::server_fn::axum::server_fn_paths()
        .map(|(path, _)| path.trim_start_matches("/api/").to_string())
        .collect();
    let listed: BTreeSet<String> = SERVER_FUNCTIONS
        .iter()
        .map(|(name, _, _)| (*name).to_string())
        .collect();
    assert_eq!(
        registered, listed,
        "every server function needs a row: a new one must say which role it needs"
    );
}

#[tokio::test]
async fn each_role_on_each_server_function() {
    let server = TestServer::start().await;
    let (reader, _) = server.sign_in(READER_UPN).await;
    let (operator, _) = server.sign_in(ADMIN_UPN).await;
    let visitor = server.browser();
    let before = server.api_calls().await;

    let mut refused_actions = 0;
    for (name, args, role) in SERVER_FUNCTIONS {
        let anonymous = server.call_with(&visitor, name, args).await.status();
        match role {
            None => assert_eq!(anonymous, 200, "{name} is open to visitors"),
            Some(_) => assert_eq!(anonymous, 401, "{name} without a session"),
        }
        let Some(role) = role else { continue };
        if *role == "Dashboard.Read" {
            continue;
        }
        let (status, refused, body) =
            refused_for(server.call_with(&reader, name, args).await, role).await;
        assert!(
            refused,
            "{name}: a reader must be refused, got {status} {body}"
        );
        refused_actions += 1;
    }
    let (name, args, role) = APPROVAL;
    let (status, refused, body) =
        refused_for(server.call_with(&reader, name, args).await, role).await;
    assert!(refused, "an approval by a reader: {status} {body}");
    refused_actions += 1;
    assert_eq!(server.api_calls().await, before, "refusals call nobody");

    for (name, args, role) in SERVER_FUNCTIONS {
        let Some(role) = role else { continue };
        if *role == "Dashboard.Read" {
            let (status, refused, body) =
                refused_for(server.call_with(&reader, name, args).await, role).await;
            assert!(!refused, "{name}: a reader may read, got {status} {body}");
        }
        let (status, refused, body) =
            refused_for(server.call_with(&operator, name, args).await, role).await;
        assert!(!refused, "{name}: an operator may, got {status} {body}");
    }

    // Each refusal is in the audit log.
    let audited: Vec<(String, String)> = sqlx::query_as(
        "SELECT action, COALESCE(error, '') FROM audit_log
         WHERE actor_upn = $1 AND outcome = 'refused' ORDER BY at_ms, id",
    )
    .bind(READER_UPN)
    .fetch_all(&server.state.storage.pool)
    .await
    .unwrap();
    assert_eq!(audited.len(), refused_actions, "{audited:?}");
    assert!(audited
        .iter()
        .any(|(action, error)| action == "cancel-job" && error.contains("Dashboard.Operate")));
    assert!(audited
        .iter()
        .any(|(action, error)| action == "review-decision" && error.contains("DapReview.Approve")));
}

#[tokio::test]
async fn each_role_on_each_download() {
    let server = TestServer::start().await;
    let (reader, _) = server.sign_in(READER_UPN).await;
    let visitor = server.browser();
    for path in DOWNLOADS {
        let anonymous = visitor.get(server.url(path)).send().await.unwrap();
        assert_eq!(anonymous.status(), 401, "{path} without a session");
        let read = reader.get(server.url(path)).send().await.unwrap();
        assert!(
            [200, 404].contains(&read.status().as_u16()),
            "{path}: a reader may download, got {}",
            read.status()
        );
    }
}

#[tokio::test]
async fn a_sign_in_without_any_dashboard_role_stores_nothing_and_says_which_role_to_ask_for() {
    let server = TestServer::start().await;
    let client = server.browser();
    let landing = client
        .get(server.url(&format!(
            "/login?login_hint={NO_ROLE_UPN}&return_to=/customers"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(landing.url().path(), "/signin-error");
    let page = landing.text().await.unwrap();
    assert!(page.contains("Dashboard.Read"), "{page}");

    // No session: every call is a visitor's.
    assert_eq!(server.call(&client, "jobs").await.status(), 401);
    let session = server.call(&client, "current_session").await;
    let session: serde_json::Value = session.json().await.unwrap();
    assert_eq!(session["user"], serde_json::Value::Null);

    let stored: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM user_credentials WHERE user_key = $1")
            .bind(server.user_key(NO_ROLE_UPN))
            .fetch_one(&server.state.storage.pool)
            .await
            .unwrap();
    assert_eq!(stored, 0, "no credential kept");
    let audited: Vec<(String, String)> =
        sqlx::query_as("SELECT action, outcome FROM audit_log WHERE actor_upn = $1")
            .bind(NO_ROLE_UPN)
            .fetch_all(&server.state.storage.pool)
            .await
            .unwrap();
    assert_eq!(audited, [("sign-in".to_string(), "refused".to_string())]);
}

#[tokio::test]
async fn the_session_tells_the_pages_what_the_admin_may_do() {
    let server = TestServer::start().await;
    let (reader, _) = server.sign_in(READER_UPN).await;
    let info: serde_json::Value = server
        .call(&reader, "current_session")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        info["user"]["permissions"],
        serde_json::json!({"read": true, "operate": false, "approve": false})
    );
    let (_, page) = server.page(&reader, "/customers").await;
    assert!(
        page.contains("id=\"read-only\""),
        "the header says read only"
    );
    assert!(
        !page.contains("id=\"sync-now\""),
        "no sync button for a reader"
    );
    assert!(
        !page.contains("start-review"),
        "no review button for a reader"
    );
}

#[tokio::test]
async fn a_role_removed_in_entra_is_lost_at_the_next_refresh() {
    let server = TestServer::start_with(Options {
        token_lifetime: std::time::Duration::from_secs(2),
        ..Options::default()
    })
    .await;
    let (avery, _) = server.sign_in(ADMIN_UPN).await;
    assert_eq!(server.call(&avery, "start_sync").await.status(), 200);

    // Entra now assigns Avery only Dashboard.Read; the next refresh brings that in.
    assert!(server
        .simulator
        .set_app_roles(ADMIN_UPN, vec!["Dashboard.Read".into()]));
    let key = server.user_key(ADMIN_UPN);
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    server
        .state
        .tokens
        .access_token(&key, &server.state.config.graph_audience)
        .await
        .unwrap();

    let (status, refused, body) =
        refused_for(server.call(&avery, "start_sync").await, "Dashboard.Operate").await;
    assert!(
        refused,
        "the session's old roles still acted: {status} {body}"
    );
    let info: serde_json::Value = server
        .call(&avery, "current_session")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(info["user"]["permissions"]["operate"], false);
}

#[tokio::test]
async fn internal_error_text_reaches_the_browser_only_as_a_reference() {
    let server = TestServer::start().await;
    let (avery, _) = server.sign_in(ADMIN_UPN).await;
    let pool = &server.state.storage.pool;
    sqlx::query("ALTER TABLE user_credentials RENAME TO user_credentials_away")
        .execute(pool)
        .await
        .unwrap();
    let function = server.call(&avery, "jobs").await;
    let download = avery
        .get(server.url("/audit/export.csv"))
        .send()
        .await
        .unwrap();
    let json = avery
        .get(server.url("/jobs/00000000-0000-0000-0000-000000000000.json"))
        .send()
        .await
        .unwrap();
    sqlx::query("ALTER TABLE user_credentials_away RENAME TO user_credentials")
        .execute(pool)
        .await
        .unwrap();
    for (what, response) in [
        ("server function", function),
        ("download", download),
        ("job JSON", json),
    ] {
        assert_eq!(response.status(), 500, "{what}");
        let body = response.text().await.unwrap();
        assert!(body.contains("reference"), "{what}: {body}");
        assert!(
            !body.contains("user_credentials") && !body.contains("no such table"),
            "{what} leaks SQL: {body}"
        );
    }
}
