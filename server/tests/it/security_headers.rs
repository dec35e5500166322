//! Security headers: a Content-Security-Policy with a fresh nonce per page (the one on the
//! hydration scripts), frame-ancestors 'none', nosniff and Referrer-Policy on every response;
//! no-store on everything rendered per admin, HSTS and a `__Host-` cookie over https. And what a
//! browser-facing reviewer tries next: a forged Host, a crafted sign-in error link, the
//! simulator outside demo mode, an id token of another tenant, a session kept alive forever.

use crate::common;

use common::{Options, TestServer, ADMIN_UPN};
use std::time::Duration;

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn nonce_of(policy: &str) -> String {
    let start = policy.find("'nonce-").unwrap() + "'nonce-".len();
    let end = policy[start..].find('\'').unwrap() + start;
    policy[start..end].to_string()
}

#[tokio::test]
async fn pages_carry_a_per_response_nonce_and_every_response_the_security_headers() {
    let server = TestServer::start().await;
    let (client, _) = server.sign_in(ADMIN_UPN).await;
    let mut nonces = Vec::new();
    for path in [
        "/customers",
        "/customers",
        "/jobs",
        "/reviews",
        "/no-such-page",
    ] {
        let response = client.get(server.url(path)).send().await.unwrap();
        let headers = response.headers().clone();
        let policy = headers["content-security-policy"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(
            policy.contains("frame-ancestors 'none'"),
            "{path}: {policy}"
        );
        assert!(policy.contains("object-src 'none'"));
        assert!(!policy.contains("unsafe-inline"), "{policy}");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["referrer-policy"], "same-origin");
        let nonce = nonce_of(&policy);
        assert!(nonce.len() >= 16);
        let html = response.text().await.unwrap();
        // Every inline script carries this response's nonce.
        let scripts = html.matches("<script").count();
        assert!(scripts > 0, "{path}");
        assert_eq!(
            html.matches(&format!("nonce=\"{nonce}\"")).count(),
            scripts,
            "{path}: every script has the nonce"
        );
        nonces.push(nonce);
    }
    assert_ne!(nonces[0], nonces[1], "a fresh nonce per response");

    // JSON, CSV and server-function answers: nothing may load or frame them.
    let json = server.call(&client, "jobs").await;
    let policy = json.headers()["content-security-policy"].to_str().unwrap();
    assert!(policy.starts_with("default-src 'none'"), "{policy}");
    assert_eq!(json.headers()["x-content-type-options"], "nosniff");
    let csv = client
        .get(server.url("/customers/export.csv"))
        .send()
        .await
        .unwrap();
    assert!(csv.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));
}

#[tokio::test]
async fn pages_server_functions_and_downloads_are_never_cached_static_files_may_be() {
    let server = TestServer::start().await;
    let (client, _) = server.sign_in(ADMIN_UPN).await;
    let mut responses = Vec::new();
    for path in [
        "/customers",
        "/jobs",
        "/audit",
        "/signin-error?error=state_mismatch",
        "/no-such-page",
        "/customers/export.csv",
        "/audit/export.csv",
    ] {
        responses.push((path, client.get(server.url(path)).send().await.unwrap()));
    }
    responses.push(("server function jobs", server.call(&client, "jobs").await));
    responses.push((
        "sign-in redirect",
        no_redirects()
            .get(server.url("/login"))
            .send()
            .await
            .unwrap(),
    ));
    for (what, response) in responses {
        assert_eq!(
            response
                .headers()
                .get("cache-control")
                .map(|v| v.to_str().unwrap()),
            Some("no-store"),
            "{what} ({})",
            response.status()
        );
        assert!(
            response
                .headers()
                .get("strict-transport-security")
                .is_none(),
            "no HSTS over plain http: {what}"
        );
    }
    // No site is built for these tests: this is the not-found page, which is personal. The
    // real site files are checked against the release build (end2end/tests/assets.spec.ts).
    let missing = client
        .get(server.url("/pkg/csp-dashboard.Zm9vYmFyYmF6cXV4cXV1eA.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(
        missing.headers().get("cache-control").unwrap(),
        "no-store",
        "a missing site file's answer is not kept"
    );
}

#[tokio::test]
async fn over_https_the_session_cookie_is_host_prefixed_and_hsts_is_sent() {
    // Sign-in configured (not demo mode, which refuses https) with an https public URL; the
    // test talks plain http to it, as a TLS-terminating proxy would.
    let server = TestServer::start_with(Options {
        configured: true,
        vars: vec![(
            "DASHBOARD_PUBLIC_URL",
            "https://dashboard.example.com/".into(),
        )],
        ..Options::default()
    })
    .await;
    let login = no_redirects()
        .get(server.url("/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 303);
    let cookie = login.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.starts_with("__Host-dashboard_session="), "{cookie}");
    assert!(cookie.contains("Secure"), "{cookie}");
    assert!(cookie.contains("Path=/"), "{cookie}");
    assert!(!cookie.to_ascii_lowercase().contains("domain="), "{cookie}");
    for path in ["/login", "/healthz", "/customers", "/no-such-page"] {
        let response = no_redirects().get(server.url(path)).send().await.unwrap();
        assert_eq!(
            response.headers()["strict-transport-security"],
            "max-age=31536000; includeSubDomains",
            "{path}"
        );
    }

    // Over plain http the cookie keeps its plain name (a __Host- cookie needs Secure).
    let plain = TestServer::start().await;
    let login = no_redirects()
        .get(plain.url("/login"))
        .send()
        .await
        .unwrap();
    let cookie = login.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.starts_with("dashboard_session="), "{cookie}");
}

#[tokio::test]
async fn the_origin_check_trusts_the_configured_public_url_not_the_host_header() {
    let server = TestServer::start().await;
    let (client, _) = server.sign_in(ADMIN_UPN).await;
    // DNS rebinding: evil.example resolves to us; the browser sends its own name as Host and
    // Origin alike.
    for (host, origin) in [
        ("evil.example", "http://evil.example"),
        ("evil.example:443", "https://evil.example:443"),
        ("127.0.0.1:1", "http://127.0.0.1:1"),
    ] {
        let response = client
            .post(server.url("/api/start_sync"))
            .header("Host", host)
            .header("Origin", origin)
            .header("Accept", "application/json")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "Host {host}, Origin {origin}");
    }
    // The configured public URL's origin is accepted whatever the Host says.
    let response = client
        .post(server.url("/api/jobs"))
        .header("Host", "evil.example")
        .header("Origin", &server.base)
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn the_sign_in_error_page_shows_only_the_dashboards_own_words() {
    let server = TestServer::start().await;
    let client = server.browser();
    let planted = "Your account is locked. Call +1 555 0100 now";
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("error", "account_locked_call_support")
        .append_pair("description", planted)
        .append_pair("aadsts", "AADSTS999999")
        .finish();
    let html = client
        .get(server.url(&format!("/signin-error?{query}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("Sign-in did not complete"), "{html}");
    assert!(
        !html.contains("Call +1 555"),
        "text from the URL shown: {html}"
    );
    assert!(!html.contains("account_locked_call_support"), "{html}");
    assert!(!html.contains("AADSTS999999"), "{html}");
    assert!(html.contains("The sign-in did not complete. Start again."));

    // A known code in the dashboard's words, with a known AADSTS code's explanation; the
    // description in the URL is still ignored.
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("error", "access_denied")
        .append_pair("aadsts", "AADSTS65004")
        .append_pair("description", planted)
        .finish();
    let html = client
        .get(server.url(&format!("/signin-error?{query}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("The sign-in was declined or not allowed."),
        "{html}"
    );
    assert!(html.contains("AADSTS65004: consent was declined"), "{html}");
    assert!(!html.contains("Call +1 555"), "{html}");

    // The dashboard's own redirects carry no free text either.
    let refused = no_redirects()
        .get(server.url(
            "/auth/callback?error=access_denied&error_description=AADSTS65004%3A+Call+%2B1+555+0100",
        ))
        .send()
        .await
        .unwrap();
    let location = refused.headers()["location"].to_str().unwrap();
    assert_eq!(
        location,
        "/signin-error?error=access_denied&aadsts=AADSTS65004"
    );
}

#[tokio::test]
async fn the_simulator_does_not_exist_outside_demo_mode() {
    let server = TestServer::start_with(Options {
        configured: true,
        ..Options::default()
    })
    .await;
    assert!(!server.state.config.is_demo());
    // The simulator answers on its own port (the test's "Microsoft")...
    let state = reqwest::get(server.sim_url("/_sim/state")).await.unwrap();
    assert_eq!(state.status(), 200);
    // ...and nothing of it on the dashboard's.
    let tenant = simulator::PARTNER_TENANT_ID;
    let client = no_redirects();
    for path in [
        "/_sim".to_string(),
        "/_sim/".to_string(),
        "/_sim/state".to_string(),
        "/_sim/faults".to_string(),
        format!("/_sim/login/{tenant}/v2.0/.well-known/openid-configuration"),
        format!("/_sim/login/{tenant}/oauth2/v2.0/authorize?login_hint={ADMIN_UPN}"),
        "/_sim/partnercenter/v1/customers".to_string(),
    ] {
        let response = client.get(server.url(&path)).send().await.unwrap();
        assert_eq!(response.status(), 404, "{path}");
    }
    let revoke = client
        .post(server.url("/_sim/refresh-tokens/revoke"))
        .header("Origin", &server.base)
        .form(&[("upn", ADMIN_UPN)])
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status(), 404);
    // Sign-in works, through the simulator as the configured authority.
    let (client, _) = server.sign_in(ADMIN_UPN).await;
    assert_eq!(server.call(&client, "jobs").await.status(), 200);
}

#[tokio::test]
async fn an_id_token_of_another_tenant_is_refused_and_nothing_is_kept() {
    let server = TestServer::start().await;
    let foreign = "0b8e5a1c-2d3f-4e5a-8b6c-7d8e9f0a1b2c";
    server.simulator.set_id_token_tenant(Some(foreign));
    let client = server.browser();
    let page = client
        .get(server.url(&format!(
            "/login?login_hint={ADMIN_UPN}&return_to=/customers"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(page.url().path(), "/signin-error", "{}", page.url());
    assert_eq!(page.url().query(), Some("error=foreign_tenant"));
    let html = page.text().await.unwrap();
    assert!(html.contains("belongs to another organisation"), "{html}");

    let pool = &server.state.storage.pool;
    let credentials: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM user_credentials")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(credentials, 0, "no credential stored for a foreign tenant");
    let session = server.call(&client, "jobs").await;
    assert_eq!(session.status(), 401, "the session holds no user");
    let (status, body) = server.page(&client, "/customers").await;
    assert_eq!(status, 200);
    assert!(
        !body.contains("data-tenant-id="),
        "customers shown to a foreign account"
    );

    let audit: Vec<(String, String, Option<String>)> =
        sqlx::query_as("SELECT action, outcome, target FROM audit_log WHERE actor_upn = $1")
            .bind(ADMIN_UPN)
            .fetch_all(pool)
            .await
            .unwrap();
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0].0, "sign-in");
    assert_eq!(audit[0].1, "refused", "{audit:?}");
    assert!(
        audit[0].2.as_deref().unwrap_or_default().contains(foreign),
        "{audit:?}"
    );

    // The partner tenant's own token signs in as before.
    server.simulator.set_id_token_tenant(None);
    server.sign_in(ADMIN_UPN).await;
}

#[tokio::test]
async fn a_session_ends_at_its_absolute_lifetime_however_active() {
    let lifetime = Duration::from_secs(4);
    let server = TestServer::start_with(Options {
        session_max_age: Some(lifetime),
        ..Options::default()
    })
    .await;
    // The session starts during the sign-in, so it is younger than this all along; calls are
    // made only in the first half of its lifetime, however slow the machine.
    let before_sign_in = std::time::Instant::now();
    let (client, _) = server.sign_in(ADMIN_UPN).await;
    // Busy all along: the idle timeout (8 h) never comes near.
    while before_sign_in.elapsed() < lifetime / 2 {
        assert_eq!(server.call(&client, "jobs").await.status(), 200);
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    let over = (lifetime + Duration::from_millis(500)).saturating_sub(before_sign_in.elapsed());
    tokio::time::sleep(over).await;
    assert_eq!(
        server.call(&client, "jobs").await.status(),
        401,
        "a session older than its lifetime still works"
    );
    let csv = client
        .get(server.url("/customers/export.csv"))
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 401);
    // Signing in again starts a new lifetime.
    let (client, _) = server.sign_in(ADMIN_UPN).await;
    assert_eq!(server.call(&client, "jobs").await.status(), 200);
}

#[tokio::test]
async fn a_csv_export_neutralises_formulas_in_ascii_and_full_width_signs() {
    let server = TestServer::start().await;
    let (client, _) = server.sign_in(ADMIN_UPN).await;
    let started = server
        .call_with(
            &client,
            "start_review",
            &[("filter", "dap=on&stale=90"), ("title", "")],
        )
        .await;
    assert_eq!(started.status(), 200);
    let id: String = started.json().await.unwrap();
    let review: serde_json::Value = server
        .call_with(&client, "review", &[("id", id.as_str())])
        .await
        .json()
        .await
        .unwrap();
    let customers: Vec<String> = review["customers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["customer_tenant_id"].as_str().unwrap().to_string())
        .collect();
    // Notes are typed by admins; a spreadsheet would run each of these as a formula. (The
    // review trims notes, so leading spaces and line breaks are the csv unit tests' part.)
    let notes = [
        "  =HYPERLINK(\"http://evil.example\",\"details\")",
        "\n+1+cmd|' /C calc'!A0",
        "＠SUM(1+1)*cmd|' /C calc'!A0",
        "－1+1",
    ];
    assert!(customers.len() >= notes.len());
    for (customer, note) in customers.iter().zip(notes) {
        let response = server
            .call_with(
                &client,
                "decide",
                &[
                    ("review", id.as_str()),
                    ("customer_tenant_id", customer.as_str()),
                    ("decision", "keep"),
                    ("note", note),
                ],
            )
            .await;
        assert_eq!(response.status(), 200, "{note:?}");
    }
    let csv = client
        .get(server.url(&format!("/reviews/{id}/export.csv")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(csv.as_bytes());
    let cells: Vec<String> = reader
        .records()
        .flat_map(|record| {
            record
                .unwrap()
                .iter()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect();
    for note in notes {
        assert!(
            cells.contains(&format!("'{}", note.trim())),
            "{note:?} not neutralised in:\n{csv}"
        );
    }
    for cell in &cells {
        let significant = cell.trim_start_matches([' ', '\n', '\r', '\t']);
        assert!(
            !significant.starts_with(['=', '+', '-', '@', '＝', '＋', '－', '＠']),
            "formula cell {cell:?}"
        );
    }
}

/// Runs the real `server` binary with only `vars` set; it must exit at once with an error.
fn refused_at_start_up(vars: &[(&str, &str)]) -> String {
    let dir = common::TempDir::new();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .env_clear()
        .envs(vars.iter().copied())
        .current_dir(&dir.path)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if child.try_wait().unwrap().is_some() {
            let output = child.wait_with_output().unwrap();
            assert!(!output.status.success(), "{vars:?} started");
            return String::from_utf8_lossy(&output.stderr).into_owned();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    panic!("the server started with {vars:?}");
}

#[test]
fn the_binary_refuses_unsafe_demo_settings_and_says_what_to_set() {
    let text = refused_at_start_up(&[]);
    for option in [
        "DASHBOARD_DEMO=true",
        "DASHBOARD_AUTHORITY",
        "DASHBOARD_TOKEN_ENCRYPTION_KEY",
    ] {
        assert!(text.contains(option), "{option} missing: {text}");
    }
    // Nothing listens on port 1: were the refusal gone, the server would fail differently
    // (without naming DASHBOARD_DEMO) instead of migrating a real database.
    for (name, value) in [
        (
            "DASHBOARD_DATABASE_URL",
            "postgres://dashboard@127.0.0.1:1/dashboard",
        ),
        ("DASHBOARD_BIND_ADDR", "0.0.0.0:0"),
        ("DASHBOARD_PUBLIC_URL", "https://dashboard.example.com/"),
        (
            "DASHBOARD_TOKEN_ENCRYPTION_KEY",
            "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
        ),
        (
            "DASHBOARD_AUTHORITY",
            "https://login.microsoftonline.com/organizations/v2.0",
        ),
    ] {
        let text = refused_at_start_up(&[
            ("DASHBOARD_DEMO", "true"),
            ("DASHBOARD_BIND_ADDR", "127.0.0.1:0"),
            (name, value),
        ]);
        assert!(
            text.contains(name) && text.contains("DASHBOARD_DEMO"),
            "{name}: {text}"
        );
    }
}
