//! The bad-input suite (issue #5): a catalogue of hostile or broken requests, each refused with a
//! clear error before anything reaches Partner Center.
//!
//! * ids that are not GUIDs or try path traversal, in every id-taking server function and in
//!   every `{id}` URL (plus the static-file fallback);
//! * bodies over the 256 KiB limit, with and without a Content-Length;
//! * cross-origin writes (and GET as a way around the check);
//! * missing, garbage, unknown, tampered, signed-out and expired session cookies;
//! * revoked (AADSTS50173) and expired (AADSTS700082) refresh tokens;
//! * every server function, page and download without a session;
//! * HTML/script in upstream organisation names, review notes and titles, consent display names;
//! * and no access, id or refresh token in any page, JSON, CSV or log line the suite produced.
//!
//! Every response read here goes through `Reply`, which records it; every log line of the
//! process is captured by a tracing subscriber installed by `capture_logs`. Each test ends by
//! scanning what was recorded so far for tokens (`assert_no_token_leaked`).

use crate::common;

use app::error::AppError;
use app::ssr::state::AppState;
use common::{Options, TestServer, ADMIN_UPN, READER_UPN};
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A server function, the argument under test, and its other (valid) arguments.
type IdSlot<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>);

const APP: &str = "6a6e8d43-7c1b-4f0e-9f5e-2b8a1c3d4e5f";
const GLOBAL_READER: &str = "f2ef992c-3afb-46b9-b7cf-a126ee74c451";
/// A well-formed GUID nothing in the simulator or the database has.
const UNKNOWN: &str = "53018d99-ac51-4ec8-b86e-c8a61de43717";
/// The token key of `common::TestServer` (its demo key file), decoded: opens the sealed refresh
/// tokens so the leak check knows their plain values.
const TOKEN_KEY_BASE64: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
const LIMIT: usize = 256 * 1024;

// ---------------------------------------------------------------------------------------------
// Recording: every response body and header the suite reads, and every log line of the process.
// ---------------------------------------------------------------------------------------------

static SEEN: Mutex<Vec<String>> = Mutex::new(Vec::new());
/// Keeps every log line of this test process (dashboard and simulator run in it), at a more
/// verbose level than production so that anything a token could hide in is written out.
fn capture_logs() {
    common::logs::keep_all();
}

fn record(text: String) {
    SEEN.lock().unwrap().push(text);
}

/// A response as read by the suite (and recorded).
struct Reply {
    status: u16,
    content_type: String,
    headers: String,
    body: String,
}

impl Reply {
    async fn of(response: reqwest::Response) -> Reply {
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let headers = format!("{:?}", response.headers());
        let url = response.url().to_string();
        let body = response
            .text()
            .await
            .unwrap_or_else(|e| panic!("reading the answer to {url} ({status}): {e}"));
        record(format!("{headers}\n{body}"));
        Reply {
            status,
            content_type,
            headers,
            body,
        }
    }

    fn error(&self) -> AppError {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not an AppError ({e}): {} {}", self.status, self.body))
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

/// A client without a cookie store (cookies are set by hand) that does not follow redirects and
/// gives up after a minute, naming the request, rather than hanging the suite.
fn plain_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// A server function called as the hydrated page does (same-origin, form-encoded).
async fn call(
    server: &TestServer,
    client: &reqwest::Client,
    function: &str,
    args: &[(&str, &str)],
) -> Reply {
    Reply::of(server.call_with(client, function, args).await).await
}

/// A server function called with exactly this `Cookie` header (or none).
async fn call_with_cookie(
    base: &str,
    cookie: Option<&str>,
    function: &str,
    args: &[(&str, &str)],
) -> Reply {
    let mut request = plain_client()
        .post(format!("{base}/api/{function}"))
        .header("Origin", base)
        .header("Accept", "application/json")
        .form(args);
    if let Some(cookie) = cookie {
        request = request.header("Cookie", cookie);
    }
    Reply::of(request.send().await.unwrap()).await
}

async fn page(server: &TestServer, client: &reqwest::Client, path: &str) -> Reply {
    Reply::of(client.get(server.url(path)).send().await.unwrap()).await
}

async fn page_with_cookie(base: &str, cookie: Option<&str>, path: &str) -> Reply {
    let mut request = plain_client().get(format!("{base}{path}"));
    if let Some(cookie) = cookie {
        request = request.header("Cookie", cookie);
    }
    Reply::of(request.send().await.unwrap()).await
}

/// Sends `request` byte for byte: reqwest (the url crate) would resolve `..` and `%2e%2e`
/// segments and could not send a chunked form body.
async fn raw(base: &str, request: &[u8]) -> Reply {
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(base.trim_start_matches("http://"))
            .await
            .unwrap();
        stream.write_all(request).await.unwrap();
        let mut bytes = Vec::new();
        stream.read_to_end(&mut bytes).await.unwrap();
        bytes
    };
    let first_line = String::from_utf8_lossy(&request[..request.len().min(120)]).to_string();
    let bytes = tokio::time::timeout(Duration::from_secs(60), exchange)
        .await
        .unwrap_or_else(|_| panic!("no complete answer within 60 s to {first_line}"));
    let split = find(&bytes, b"\r\n\r\n").unwrap_or(bytes.len());
    let head = String::from_utf8_lossy(&bytes[..split]).to_string();
    let rest = bytes.get(split + 4..).unwrap_or_default();
    let lower = head.to_ascii_lowercase();
    let body = if lower.contains("transfer-encoding: chunked") {
        decode_chunked(rest)
    } else {
        rest.to_vec()
    };
    let body = String::from_utf8_lossy(&body).to_string();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let content_type = lower
        .lines()
        .find_map(|l| l.strip_prefix("content-type: "))
        .unwrap_or_default()
        .to_string();
    record(format!("{head}\n{body}"));
    Reply {
        status,
        content_type,
        headers: head,
        body,
    }
}

async fn raw_get(base: &str, path: &str, cookie: &str) -> Reply {
    let host = base.trim_start_matches("http://");
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"
    );
    raw(base, request.as_bytes()).await
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn decode_chunked(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = find(body, b"\r\n") {
        let size_text = String::from_utf8_lossy(&body[..end]).to_string();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .unwrap_or(0);
        body = &body[end + 2..];
        if size == 0 {
            break;
        }
        out.extend_from_slice(&body[..size.min(body.len())]);
        body = &body[(size + 2).min(body.len())..];
    }
    out
}

/// Signs in without a cookie store and returns the session cookie (`dashboard_session=...`), for
/// requests that set their `Cookie` header by hand.
async fn sign_in_cookie(server: &TestServer, upn: &str) -> String {
    let client = plain_client();
    let cookie_of = |response: &reqwest::Response| {
        response.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string()
    };
    let login = client
        .get(server.url(&format!("/login?login_hint={upn}&return_to=/")))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 303);
    let pending = cookie_of(&login);
    let authorize = login.headers()["location"].to_str().unwrap().to_string();
    let to_callback = client.get(&authorize).send().await.unwrap();
    let callback = to_callback.headers()["location"]
        .to_str()
        .unwrap()
        .to_string();
    let done = client
        .get(&callback)
        .header("Cookie", &pending)
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 303, "sign-in of {upn} did not complete");
    cookie_of(&done)
}

async fn count(state: &AppState, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(&state.storage.pool)
        .await
        .unwrap()
}

/// Row counts of every table a request could write to: "nothing changed" means these are equal.
async fn row_counts(state: &AppState) -> Vec<(&'static str, i64)> {
    let mut counts = Vec::new();
    for table in [
        "audit_log",
        "consents",
        "user_credentials",
        "customer_snapshots",
        "jobs",
        "job_items",
        "reviews",
        "review_decisions",
        "role_reports",
    ] {
        counts.push((table, count(state, table).await));
    }
    counts
}

async fn customers(server: &TestServer) -> Vec<(String, String, bool)> {
    server.sim_state().await["customers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["customerTenantId"].as_str().unwrap().to_string(),
                c["organizationDisplayName"].as_str().unwrap().to_string(),
                c["dapEnabled"].as_bool().unwrap(),
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The token check.
// ---------------------------------------------------------------------------------------------

fn sealer() -> app::ssr::auth::seal::Sealer {
    use base64::Engine;
    let key: [u8; 32] = base64::engine::general_purpose::STANDARD
        .decode(TOKEN_KEY_BASE64)
        .unwrap()
        .try_into()
        .unwrap();
    app::ssr::auth::seal::Sealer::new(&key)
}

/// The plain refresh tokens the dashboard holds now, and the access tokens it would use now for
/// both audiences (from its cache, or freshly redeemed; refused redemptions are skipped).
async fn tokens_held(state: &AppState) -> BTreeSet<String> {
    let mut tokens = BTreeSet::new();
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT user_key, refresh_token_sealed FROM user_credentials")
            .fetch_all(&state.storage.pool)
            .await
            .unwrap();
    for (user_key, sealed) in rows {
        let refresh = sealer().open(&sealed, &user_key).unwrap();
        assert!(
            !sealed.contains(&refresh),
            "the refresh token is stored in the clear"
        );
        tokens.insert(refresh);
        for audience in [
            &state.config.partner_center_audience,
            &state.config.admin_api_audience,
        ] {
            if let Ok(token) = state.tokens.access_token(&user_key, audience).await {
                let request = token
                    .bearer()
                    .authorize(reqwest::Client::new().get("http://127.0.0.1/"))
                    .build()
                    .unwrap();
                let bearer = request.headers()["authorization"].to_str().unwrap();
                tokens.insert(bearer.trim_start_matches("Bearer ").to_string());
            }
        }
    }
    tokens
}

/// A JWT (access or id token): `eyJ` + base64url, three dot-separated parts.
fn jwt_in(text: &str) -> Option<String> {
    let mut from = 0;
    while let Some(at) = text[from..].find("eyJ") {
        let start = from + at;
        let candidate: String = text[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            .collect();
        let parts: Vec<&str> = candidate.split('.').collect();
        if parts.len() >= 3 && parts[..3].iter().all(|p| p.len() >= 8) {
            return Some(candidate);
        }
        from = start + 3;
    }
    None
}

/// Scans everything recorded so far (every test of this file adds to it) and the whole log:
/// no token `state`'s dashboard holds, no JWT, no bearer header.
async fn assert_no_token_leaked(state: &AppState, extra: &BTreeSet<String>) {
    let mut tokens = tokens_held(state).await;
    tokens.extend(extra.iter().cloned());
    let logs = common::logs::kept();
    let seen = SEEN.lock().unwrap().clone();
    let mut texts: Vec<(&str, &str)> = seen.iter().map(|s| ("response", s.as_str())).collect();
    texts.extend(logs.lines().map(|l| ("log line", l)));
    for (kind, text) in texts {
        for token in &tokens {
            assert!(
                !text.contains(token.as_str()),
                "a token the dashboard holds appears in a {kind}: {}",
                text.chars().take(500).collect::<String>()
            );
        }
        if let Some(jwt) = jwt_in(text) {
            panic!(
                "a JWT appears in a {kind}: {}…\n{}",
                &jwt[..jwt.len().min(40)],
                text.chars().take(500).collect::<String>()
            );
        }
        assert!(
            !text.contains("Bearer ey"),
            "a bearer header appears in a {kind}: {}",
            text.chars().take(500).collect::<String>()
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 1. Ids in server-function arguments.
// ---------------------------------------------------------------------------------------------

/// Values that are not a customer, application, role, user, job, review or report id.
fn bad_ids() -> Vec<String> {
    vec![
        "../../etc/passwd".into(),
        "..%2f..%2fetc%2fpasswd".into(),
        "%2e%2e%2f%2e%2e%2f".into(),
        "..\\..\\windows\\win.ini".into(),
        "a/b".into(),
        "customers/../users".into(),
        "\0".into(),
        format!("{UNKNOWN}\0"),
        String::new(),
        "a".repeat(5000),
        format!("{UNKNOWN}junk"),
        format!("{UNKNOWN}/.."),
        format!("{UNKNOWN}%2f.."),
        format!("{{{UNKNOWN}}}"),
        format!("urn:uuid:{UNKNOWN}"),
        UNKNOWN.replace('-', ""),
        "<script>alert(1)</script>".into(),
        "' OR '1'='1".into(),
    ]
}

#[tokio::test]
async fn non_guid_and_traversal_ids_in_server_functions_are_refused_before_any_upstream_call() {
    capture_logs();
    let server = TestServer::start_with(Options {
        customers: 60,
        ..Options::default()
    })
    .await;
    let (client, _) = server.sign_in(ADMIN_UPN).await;
    let customer = customers(&server).await[0].0.clone();
    let review: String = call(
        &server,
        &client,
        "start_review",
        &[("filter", "dap=on"), ("title", "")],
    )
    .await
    .json()
    .as_str()
    .unwrap()
    .to_string();
    let in_review = call(&server, &client, "review", &[("id", review.as_str())])
        .await
        .json()["customers"][0]["customer_tenant_id"]
        .as_str()
        .unwrap()
        .to_string();

    // (function, argument under test, the other arguments: valid)
    let c = customer.as_str();
    let slots: Vec<IdSlot> = vec![
        ("customer_directory", "customer_tenant_id", vec![]),
        ("consents", "customer_tenant_id", vec![]),
        (
            "grant_consent",
            "customer_tenant_id",
            vec![
                ("application_id", APP),
                ("display_name", ""),
                ("preset_graph", "on"),
            ],
        ),
        (
            "grant_consent",
            "application_id",
            vec![
                ("customer_tenant_id", c),
                ("display_name", ""),
                ("preset_graph", "on"),
            ],
        ),
        (
            "revoke_consent",
            "customer_tenant_id",
            vec![("application_id", APP)],
        ),
        (
            "revoke_consent",
            "application_id",
            vec![("customer_tenant_id", c)],
        ),
        (
            "restore_consent",
            "customer_tenant_id",
            vec![("application_id", APP)],
        ),
        (
            "restore_consent",
            "application_id",
            vec![("customer_tenant_id", c)],
        ),
        (
            "add_role_member",
            "customer_tenant_id",
            vec![("role_id", GLOBAL_READER), ("user_id", UNKNOWN)],
        ),
        (
            "add_role_member",
            "role_id",
            vec![("customer_tenant_id", c), ("user_id", UNKNOWN)],
        ),
        (
            "add_role_member",
            "user_id",
            vec![("customer_tenant_id", c), ("role_id", GLOBAL_READER)],
        ),
        (
            "remove_role_member",
            "customer_tenant_id",
            vec![("role_id", GLOBAL_READER), ("user_id", UNKNOWN)],
        ),
        (
            "remove_role_member",
            "role_id",
            vec![("customer_tenant_id", c), ("user_id", UNKNOWN)],
        ),
        (
            "remove_role_member",
            "user_id",
            vec![("customer_tenant_id", c), ("role_id", GLOBAL_READER)],
        ),
        (
            "start_consent_job",
            "application_id",
            vec![
                ("filter", ""),
                ("action", "grant"),
                ("display_name", ""),
                ("preset_graph", "on"),
                ("confirm", "on"),
            ],
        ),
        ("job", "id", vec![]),
        ("cancel_job", "id", vec![]),
        ("retry_failed", "id", vec![]),
        (
            "release_held",
            "id",
            vec![("customer", UNKNOWN), ("confirm", "on"), ("note", "n")],
        ),
        (
            "release_held",
            "customer",
            vec![("id", UNKNOWN), ("confirm", "on"), ("note", "n")],
        ),
        ("review", "id", vec![]),
        ("execute_review", "id", vec![]),
        ("close_review", "id", vec![("confirm", "on")]),
        (
            "decide_many",
            "review",
            vec![("decision", "keep"), ("all_matching", "on")],
        ),
        (
            "decide",
            "review",
            vec![
                ("customer_tenant_id", in_review.as_str()),
                ("decision", "keep"),
                ("note", ""),
            ],
        ),
        (
            "decide",
            "customer_tenant_id",
            vec![
                ("review", review.as_str()),
                ("decision", "keep"),
                ("note", ""),
            ],
        ),
        ("role_report", "id", vec![]),
    ];

    let before = server.api_calls().await;
    let rows_before = row_counts(&server.state).await;
    let mut checked = 0;
    for (function, argument, others) in &slots {
        for bad in bad_ids() {
            let mut args = others.clone();
            args.push((argument, bad.as_str()));
            let reply = call(&server, &client, function, &args).await;
            let case = format!(
                "{function}({argument}={:?}) answered {}: {}",
                bad.chars().take(50).collect::<String>(),
                reply.status,
                reply.body.chars().take(300).collect::<String>()
            );
            assert!(matches!(reply.status, 400 | 404), "{case}");
            assert!(reply.content_type.starts_with("application/json"), "{case}");
            match reply.error() {
                AppError::InvalidInput(message) => {
                    assert!(message.contains("not a GUID"), "{case}");
                }
                AppError::NotFound { what } => assert!(!what.is_empty(), "{case}"),
                other => panic!("{case}: unexpected {other:?}"),
            }
            assert!(
                reply.body.len() < 400,
                "the error does not echo the whole input: {case}"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, slots.len() * bad_ids().len());
    assert_eq!(
        server.api_calls().await,
        before,
        "no bad id reached Partner Center"
    );
    let sim = server.sim_state().await;
    assert!(
        sim["writes"].as_object().unwrap().is_empty(),
        "no write at all"
    );
    assert_eq!(
        row_counts(&server.state).await,
        rows_before,
        "nothing stored"
    );
    assert_no_token_leaked(&server.state, &BTreeSet::new()).await;
}

// ---------------------------------------------------------------------------------------------
// 1b. Ids in URLs, byte for byte.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn non_guid_and_traversal_ids_in_urls_are_404_without_an_upstream_call() {
    capture_logs();
    let server = TestServer::start_with(Options {
        customers: 60,
        ..Options::default()
    })
    .await;
    let cookie = sign_in_cookie(&server, ADMIN_UPN).await;
    // The first view syncs the customers; afterwards a bad URL must not cause any call.
    assert_eq!(
        page_with_cookie(&server.base, Some(&cookie), "/customers")
            .await
            .status,
        200
    );
    let before = server.api_calls().await;

    let long = "a".repeat(5000);
    // Path segments exactly as sent (already percent-encoded where needed).
    let segments = [
        "..%2f..%2fetc%2fpasswd",
        "..%2F..%2F..%2FCargo.toml",
        "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "..%5c..%5cwindows%5cwin.ini",
        "%252e%252e%252fetc%252fpasswd",
        "a%2fb",
        "%00",
        "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        long.as_str(),
        &format!("{UNKNOWN}junk"),
        &format!("{UNKNOWN}%2f.."),
        &format!("{UNKNOWN}%00"),
        &format!("%7B{UNKNOWN}%7D"),
    ];
    let templates = [
        "/customers/{}",
        "/jobs/{}",
        "/jobs/{}.json",
        "/jobs/{}/export.csv",
        "/reviews/{}",
        "/reviews/{}/export.csv",
        "/reports/{}",
        "/reports/{}/export.csv",
    ];
    let mut paths: Vec<String> = Vec::new();
    for template in templates {
        for segment in &segments {
            paths.push(template.replace("{}", segment));
        }
    }
    // Unencoded traversal, and the static-file fallback (it serves the site root).
    paths.extend(
        [
            "/customers/../../etc/passwd",
            "/jobs/../../etc/passwd.json",
            "/jobs/../../../Cargo.toml/export.csv",
            "/reviews/%2e%2e/%2e%2e/Cargo.toml/export.csv",
            "/../../../../etc/passwd",
            "/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
            "/pkg/..%2f..%2f..%2fCargo.toml",
            "/pkg/%2e%2e/%2e%2e/%2e%2e/Cargo.toml",
            "/favicon.svg/..%2f..%2f..%2fCargo.toml",
        ]
        .map(String::from),
    );

    for path in &paths {
        let reply = raw_get(&server.base, path, &cookie).await;
        let case = format!(
            "GET {} answered {}: {}",
            path.chars().take(80).collect::<String>(),
            reply.status,
            reply.body.chars().take(300).collect::<String>()
        );
        assert!(matches!(reply.status, 400 | 404), "{case}");
        let typed_not_found = matches!(
            serde_json::from_str::<AppError>(&reply.body),
            Ok(AppError::NotFound { .. })
        );
        assert!(
            typed_not_found || reply.body.to_lowercase().contains("not found"),
            "a clear message: {case}"
        );
        assert!(
            !reply.body.contains("root:x:0:0") && !reply.body.contains("[workspace]"),
            "a file outside the site was served: {case}"
        );
        assert!(
            !reply.body.contains("<script>alert(1)"),
            "the id is echoed as markup: {case}"
        );
        assert!(
            !reply.body.contains(&long),
            "the whole id is echoed: {case}"
        );
    }

    // A segment that is only dots is a dot-segment, not an id: `/customers/%2e%2e` means `/`
    // (RFC 3986 5.2.4; a browser resolves it before sending). The page of the resolved path is
    // served; the dots never become an id.
    for template in ["/customers/{}", "/jobs/{}", "/reviews/{}", "/reports/{}"] {
        for dots in ["%2e%2e", "%2E%2E", ".%2e"] {
            let path = template.replace("{}", dots);
            let reply = raw_get(&server.base, &path, &cookie).await;
            assert_eq!(reply.status, 200, "GET {path}: {}", reply.body);
            assert!(
                reply.body.contains("Welcome back"),
                "GET {path} is the home page"
            );
        }
    }

    assert_eq!(
        server.api_calls().await,
        before,
        "no bad URL reached Partner Center"
    );
    assert_no_token_leaked(&server.state, &BTreeSet::new()).await;
}

// ---------------------------------------------------------------------------------------------
// 2. Bodies over the size limit.
// ---------------------------------------------------------------------------------------------

fn form_post(base: &str, path: &str, cookie: Option<&str>, body: &str, chunked: bool) -> Vec<u8> {
    let host = base.trim_start_matches("http://");
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nOrigin: {base}\r\nAccept: application/json\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nConnection: close\r\n"
    );
    if let Some(cookie) = cookie {
        request.push_str(&format!("Cookie: {cookie}\r\n"));
    }
    if chunked {
        request.push_str("Transfer-Encoding: chunked\r\n\r\n");
        for chunk in body.as_bytes().chunks(16 * 1024) {
            request.push_str(&format!("{:x}\r\n", chunk.len()));
            request.push_str(std::str::from_utf8(chunk).unwrap());
            request.push_str("\r\n");
        }
        request.push_str("0\r\n\r\n");
    } else {
        request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    }
    request.into_bytes()
}

#[tokio::test]
async fn bodies_over_the_256_kib_limit_are_refused_with_413() {
    capture_logs();
    let server = TestServer::start_with(Options {
        customers: 20,
        ..Options::default()
    })
    .await;
    let cookie = sign_in_cookie(&server, ADMIN_UPN).await;
    let rows_before = row_counts(&server.state).await;
    let base = server.base.as_str();
    let over = format!("id={}", "a".repeat(300 * 1024));
    let just_over = format!("id={}", "a".repeat(LIMIT + 1 - 3));
    assert_eq!(just_over.len(), LIMIT + 1);

    // (case, request)
    let cases = [
        (
            "a server function, with Content-Length",
            form_post(base, "/api/job", Some(&cookie), &over, false),
        ),
        (
            "a server function, one byte over, with Content-Length",
            form_post(base, "/api/job", Some(&cookie), &just_over, false),
        ),
        (
            "a server function, chunked (no Content-Length)",
            form_post(base, "/api/job", Some(&cookie), &over, true),
        ),
        (
            "a writing server function, chunked",
            form_post(
                base,
                "/api/decide",
                Some(&cookie),
                &format!(
                    "review={UNKNOWN}&customer_tenant_id={UNKNOWN}&decision=keep&note={}",
                    "n".repeat(300 * 1024)
                ),
                true,
            ),
        ),
        (
            "a server function without a session",
            form_post(base, "/api/job", None, &over, false),
        ),
        (
            "sign-out",
            form_post(base, "/logout", Some(&cookie), &over, false),
        ),
    ];
    let mut wrong = Vec::new();
    for (case, request) in cases {
        let reply = raw(base, &request).await;
        if reply.status != 413 {
            wrong.push(format!(
                "{case}: {} {}",
                reply.status,
                reply.body.chars().take(300).collect::<String>()
            ));
        }
    }
    assert!(wrong.is_empty(), "not 413:\n{}", wrong.join("\n"));

    // At the limit the body is read and the usual validation answers.
    let at_limit = format!("id={}", "a".repeat(LIMIT - 3));
    let reply = raw(
        base,
        &form_post(base, "/api/job", Some(&cookie), &at_limit, false),
    )
    .await;
    assert_eq!(reply.status, 404, "{}", reply.body);
    assert!(matches!(reply.error(), AppError::NotFound { .. }));

    assert_eq!(
        row_counts(&server.state).await,
        rows_before,
        "nothing changed"
    );
    let still = call_with_cookie(base, Some(&cookie), "sync_status", &[]).await;
    assert_eq!(still.status, 200, "the session survived: {}", still.body);
    assert_no_token_leaked(&server.state, &BTreeSet::new()).await;
}

// ---------------------------------------------------------------------------------------------
// 2b. Server-function bodies that do not parse.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn server_function_arguments_that_do_not_parse_are_400_not_500() {
    capture_logs();
    let server = TestServer::start_with(Options {
        customers: 20,
        ..Options::default()
    })
    .await;
    let cookie = sign_in_cookie(&server, ADMIN_UPN).await;
    let base = server.base.as_str();
    let rows_before = row_counts(&server.state).await;

    // (case, function, content type, body)
    let cases = [
        ("a missing id", "job", "application/x-www-form-urlencoded", String::new()),
        (
            "a missing customer id",
            "revoke_consent",
            "application/x-www-form-urlencoded",
            format!("application_id={APP}"),
        ),
        (
            "a JSON body",
            "job",
            "application/json",
            format!("{{\"id\": \"{UNKNOWN}\"}}"),
        ),
        (
            "a number where the page number goes",
            "customers_view",
            "application/x-www-form-urlencoded",
            "query[q]=&query[dap]=All&query[sort]=Name&query[dir]=Asc&query[page]=-1&query[per_page]=x"
                .to_string(),
        ),
        (
            "an unknown enum value",
            "customers_view",
            "application/x-www-form-urlencoded",
            "query[q]=&query[dap]=<script>&query[sort]=Name&query[dir]=Asc&query[page]=1&query[per_page]=50"
                .to_string(),
        ),
    ];
    let mut wrong = Vec::new();
    for (case, function, content_type, body) in cases {
        let reply = Reply::of(
            plain_client()
                .post(format!("{base}/api/{function}"))
                .header("Origin", base)
                .header("Accept", "application/json")
                .header("Cookie", &cookie)
                .header("Content-Type", content_type)
                .body(body)
                .send()
                .await
                .unwrap(),
        )
        .await;
        let clear = matches!(
            serde_json::from_str::<AppError>(&reply.body),
            Ok(AppError::InvalidInput(_))
        );
        if reply.status != 400 || !clear {
            wrong.push(format!(
                "{case} ({function}): {} {}",
                reply.status, reply.body
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "expected 400 with an InvalidInput error:\n{}",
        wrong.join("\n")
    );
    assert_eq!(row_counts(&server.state).await, rows_before);
    assert_no_token_leaked(&server.state, &BTreeSet::new()).await;
}

// ---------------------------------------------------------------------------------------------
// 3. Cross-origin writes.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn cross_origin_writes_are_refused_and_change_nothing() {
    capture_logs();
    let server = TestServer::start_with(Options {
        customers: 40,
        ..Options::default()
    })
    .await;
    let (client, _) = server.sign_in(ADMIN_UPN).await;
    let customer = customers(&server).await[3].0.clone();
    let c = customer.as_str();
    let host = server.base.trim_start_matches("http://").to_string();
    let port = host.rsplit(':').next().unwrap().to_string();
    let before = server.api_calls().await;
    let rows_before = row_counts(&server.state).await;

    // The policy (app/src/ssr/security.rs): a non-GET request is refused when its Origin is not
    // ours, or, without an Origin, when Sec-Fetch-Site says cross-site.
    let other_port = "http://127.0.0.1:1".to_string();
    let other_host = format!("http://localhost:{port}");
    let prefix = format!("{}.evil.example", server.base);
    let https_evil = "https://evil.example".to_string();
    let variants: Vec<Vec<(&str, &str)>> = vec![
        vec![("Origin", https_evil.as_str())],
        vec![("Origin", "null")],
        vec![("Origin", other_port.as_str())],
        vec![("Origin", other_host.as_str())],
        vec![("Origin", prefix.as_str())],
        vec![("Sec-Fetch-Site", "cross-site")],
        vec![
            ("Origin", https_evil.as_str()),
            ("Sec-Fetch-Site", "same-origin"),
        ],
    ];
    let writes: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("/api/start_sync", vec![]),
        (
            "/api/grant_consent",
            vec![
                ("customer_tenant_id", c),
                ("application_id", APP),
                ("display_name", "Contoso CPV"),
                ("preset_graph", "on"),
            ],
        ),
        (
            "/api/revoke_consent",
            vec![("customer_tenant_id", c), ("application_id", APP)],
        ),
        (
            "/api/add_role_member",
            vec![
                ("customer_tenant_id", c),
                ("role_id", GLOBAL_READER),
                ("user_id", UNKNOWN),
            ],
        ),
        (
            "/api/start_consent_job",
            vec![
                ("filter", ""),
                ("action", "grant"),
                ("application_id", APP),
                ("display_name", ""),
                ("preset_graph", "on"),
            ],
        ),
        (
            "/api/start_review",
            vec![("filter", "dap=on"), ("title", "")],
        ),
        ("/api/start_role_report", vec![("filter", "")]),
        ("/api/cancel_job", vec![("id", UNKNOWN)]),
        ("/logout", vec![]),
    ];
    for headers in &variants {
        for (path, args) in &writes {
            let mut request = client.post(server.url(path)).form(args);
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            let reply = Reply::of(request.send().await.unwrap()).await;
            assert_eq!(
                reply.status, 403,
                "POST {path} with {headers:?}: {}",
                reply.body
            );
            assert!(
                reply
                    .body
                    .contains("Cross-origin requests are not accepted"),
                "{}",
                reply.body
            );
        }
    }

    // GET is not a way around the check: server functions and sign-out only take POST.
    for path in [
        "/api/start_sync".to_string(),
        format!("/api/grant_consent?customer_tenant_id={c}&application_id={APP}&display_name=x&preset_graph=on"),
        format!("/api/cancel_job?id={UNKNOWN}"),
        "/logout".to_string(),
    ] {
        let reply = page(&server, &client, &path).await;
        assert_eq!(reply.status, 405, "GET {path}: {}", reply.body);
    }

    assert_eq!(
        server.api_calls().await,
        before,
        "nothing reached Partner Center"
    );
    assert!(server.sim_state().await["consents"][c].is_null());
    assert_eq!(
        row_counts(&server.state).await,
        rows_before,
        "nothing changed"
    );
    // Still signed in, and the same grant from our own origin works.
    let granted = call(
        &server,
        &client,
        "grant_consent",
        &[
            ("customer_tenant_id", c),
            ("application_id", APP),
            ("display_name", "Contoso CPV"),
            ("preset_graph", "on"),
        ],
    )
    .await;
    assert_eq!(granted.status, 200, "{}", granted.body);
    assert_no_token_leaked(&server.state, &BTreeSet::new()).await;
}

// ---------------------------------------------------------------------------------------------
// 4. Session cookies.
// ---------------------------------------------------------------------------------------------

/// Changes one character in the middle of the cookie's value.
fn tampered(cookie: &str) -> String {
    let (name, value) = cookie.split_once('=').unwrap();
    let mut chars: Vec<char> = value.chars().collect();
    let i = chars.len() / 2;
    chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
    format!("{name}={}", chars.into_iter().collect::<String>())
}

#[tokio::test]
async fn missing_garbage_unknown_tampered_signed_out_and_expired_session_cookies_sign_nobody_in() {
    capture_logs();
    let server = TestServer::start_with(Options {
        customers: 30,
        ..Options::default()
    })
    .await;
    let base = server.base.as_str();
    let real = sign_in_cookie(&server, ADMIN_UPN).await;
    let value = real.split_once('=').unwrap().1.to_string();

    let signed_out = sign_in_cookie(&server, ADMIN_UPN).await;
    let logout = plain_client()
        .post(server.url("/logout"))
        .header("Origin", base)
        .header("Cookie", &signed_out)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 303);

    let expired = sign_in_cookie(&server, READER_UPN).await;
    let expired_id = expired.split_once('=').unwrap().1;
    let updated = sqlx::query("UPDATE tower_sessions SET expiry_date = 0 WHERE id = $1")
        .bind(expired_id)
        .execute(&server.state.storage.pool)
        .await
        .unwrap();
    assert_eq!(updated.rows_affected(), 1, "the expired session's row");

    let cases: Vec<(&str, Option<String>)> = vec![
        ("no cookie", None),
        ("an empty value", Some("dashboard_session=".into())),
        ("garbage", Some("dashboard_session=garbage!%00".into())),
        (
            "a valid-looking unknown id",
            Some(format!("dashboard_session={}", "A".repeat(value.len()))),
        ),
        ("a tampered copy of a real cookie", Some(tampered(&real))),
        (
            "a truncated real cookie",
            Some(real[..real.len() - 1].to_string()),
        ),
        ("a real cookie with junk appended", Some(format!("{real}x"))),
        (
            "the real id under another name",
            Some(format!("session={value}")),
        ),
        ("a signed-out session", Some(signed_out.clone())),
        ("an expired session", Some(expired.clone())),
    ];
    for (case, cookie) in &cases {
        let cookie = cookie.as_deref();
        let reply = call_with_cookie(base, cookie, "sync_status", &[]).await;
        assert_eq!(reply.status, 401, "{case}: {}", reply.body);
        assert_eq!(reply.error(), AppError::Unauthenticated, "{case}");

        let html = page_with_cookie(base, cookie, "/customers").await;
        assert!(matches!(html.status, 200 | 401), "{case}: {}", html.status);
        assert!(
            html.body.contains("Sign in with Microsoft"),
            "{case}: the sign-in panel"
        );
        assert!(!html.body.contains("data-tenant-id="), "{case}: no data");

        for download in ["/customers/export.csv", &format!("/jobs/{UNKNOWN}.json")] {
            let reply = page_with_cookie(base, cookie, download).await;
            assert_eq!(reply.status, 401, "{case}: {download}: {}", reply.body);
        }
    }

    // None of that disturbed the real session.
    let reply = call_with_cookie(base, Some(&real), "current_session", &[]).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["user"]["upn"], ADMIN_UPN);
    assert_no_token_leaked(&server.state, &BTreeSet::new()).await;
}

// ---------------------------------------------------------------------------------------------
// 5. Refused refresh tokens.
// ---------------------------------------------------------------------------------------------

async fn stored_credentials(state: &AppState, user_key: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM user_credentials WHERE user_key = $1")
        .bind(user_key)
        .fetch_one(&state.storage.pool)
        .await
        .unwrap()
}

/// What the admin meets once Entra refuses the refresh token: a 401 from the server function
/// naming the AADSTS code, the page's "Please sign in again" panel with a sign-in link back to the
/// page, and the useless credential deleted.
async fn assert_sign_in_again(
    base: &str,
    state: &AppState,
    client: &reqwest::Client,
    user_key: &str,
    customer: &str,
    code: &str,
) {
    let response = client
        .post(format!("{base}/api/customer_directory"))
        .header("Origin", base)
        .header("Accept", "application/json")
        .form(&[("customer_tenant_id", customer)])
        .send()
        .await
        .unwrap();
    let reply = Reply::of(response).await;
    assert_eq!(reply.status, 401, "{}", reply.body);
    match reply.error() {
        AppError::SignInRequired { reason } => assert!(reason.contains(code), "{reason}"),
        other => panic!("expected SignInRequired, got {other:?}"),
    }
    let text = reply.error().to_string();
    assert!(text.contains("Please sign in again"), "{text}");

    let html = Reply::of(
        client
            .get(format!("{base}/customers/{customer}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(html.status, 401);
    assert!(html.body.contains("Please sign in again"), "{}", html.body);
    assert!(html.body.contains(code));
    assert!(
        html.body
            .contains(&format!("/login?return_to=%2Fcustomers%2F{customer}")),
        "a sign-in link back to the page"
    );

    assert_eq!(
        stored_credentials(state, user_key).await,
        0,
        "the refused refresh token is forgotten, not kept for the next request"
    );
}

#[tokio::test]
async fn a_revoked_refresh_token_aadsts50173_means_sign_in_again() {
    capture_logs();
    let server = TestServer::start_with(Options {
        customers: 30,
        token_lifetime: Duration::from_secs(1),
        ..Options::default()
    })
    .await;
    let (client, _) = server.sign_in(ADMIN_UPN).await;
    let customer = customers(&server).await[0].0.clone();
    let mut issued = tokens_held(&server.state).await;
    let revoke = plain_client()
        .post(server.url("/_sim/refresh-tokens/revoke"))
        .json(&serde_json::json!({ "upn": ADMIN_UPN }))
        .send()
        .await
        .unwrap();
    assert!(revoke.status().is_success());
    tokio::time::sleep(Duration::from_millis(1300)).await;

    let user_key = server.user_key(ADMIN_UPN);
    let failed_before = server.sim_state().await["counters"]["refreshTokenGrants"].clone();
    assert_sign_in_again(
        &server.base,
        &server.state,
        &client,
        &user_key,
        &customer,
        "AADSTS50173",
    )
    .await;
    assert_eq!(
        server.sim_state().await["counters"]["refreshTokenGrants"],
        failed_before,
        "no token was issued"
    );

    // Signing in again is the way out. (With this test's one-second access tokens a slow
    // machine can present a token that expires in flight; that attempt is repeated.)
    let (client, _) = server.sign_in(ADMIN_UPN).await;
    issued.extend(tokens_held(&server.state).await);
    let mut reply = None;
    for _ in 0..3 {
        let attempt = call(
            &server,
            &client,
            "customer_directory",
            &[("customer_tenant_id", customer.as_str())],
        )
        .await;
        let expired_in_flight = attempt.body.contains("The access token expired");
        reply = Some(attempt);
        if !expired_in_flight {
            break;
        }
    }
    let reply = reply.unwrap();
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_no_token_leaked(&server.state, &issued).await;
}

/// A dashboard whose simulator issues refresh tokens that expire after `refresh_lifetime`
/// (`common::Options` has no such setting).
struct ShortRefreshServer {
    base: String,
    state: AppState,
    _dir: common::TempDir,
}

async fn start_with_refresh_lifetime(refresh_lifetime: Duration) -> ShortRefreshServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let dir = common::TempDir::new();
    let vars = std::collections::HashMap::from([
        ("DASHBOARD_BIND_ADDR", addr.to_string()),
        (
            "DASHBOARD_DATABASE_URL",
            format!("sqlite://{}/dashboard.db?mode=rwc", dir.path.display()),
        ),
        ("DASHBOARD_DEMO", "true".to_string()),
    ]);
    // Demo mode keeps its key beside the database; the known one opens what it seals.
    std::fs::write(dir.path.join("token-encryption.key"), TOKEN_KEY_BASE64).unwrap();
    let config = app::ssr::config::Config::from_lookup(|k| vars.get(k).cloned()).unwrap();
    let mut sim = simulator::SimConfig::demo(config.public_url.clone());
    sim.customers = 30;
    sim.access_token_lifetime = Duration::from_secs(1);
    sim.refresh_token_lifetime = refresh_lifetime;
    let dashboard = server::build(config, Some(sim)).await.unwrap();
    let state = dashboard.state.clone();
    tokio::spawn(async move {
        let _ = server::serve_on(dashboard, listener).await;
    });
    ShortRefreshServer {
        base: format!("http://{addr}"),
        state,
        _dir: dir,
    }
}

#[tokio::test]
async fn an_expired_refresh_token_aadsts700082_means_sign_in_again() {
    capture_logs();
    let server = start_with_refresh_lifetime(Duration::from_secs(3)).await;
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let landing = Reply::of(
        client
            .get(format!(
                "{}/login?login_hint={ADMIN_UPN}&return_to=/customers",
                server.base
            ))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(landing.status, 200);
    let issued = tokens_held(&server.state).await;
    let state: Value = reqwest::get(format!("{}/_sim/state", server.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let customer = state["customers"][0]["customerTenantId"]
        .as_str()
        .unwrap()
        .to_string();
    let (user_key,): (String,) = sqlx::query_as("SELECT user_key FROM user_credentials")
        .fetch_one(&server.state.storage.pool)
        .await
        .unwrap();

    // Unused for longer than its lifetime: the simulator answers AADSTS700082.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert_sign_in_again(
        &server.base,
        &server.state,
        &client,
        &user_key,
        &customer,
        "AADSTS700082",
    )
    .await;
    assert_no_token_leaked(&server.state, &issued).await;
}

// ---------------------------------------------------------------------------------------------
// 6. Without a session.
// ---------------------------------------------------------------------------------------------

/// Every server function, with arguments that parse, so that only the missing session is wrong.
fn every_server_function() -> Vec<(&'static str, Vec<(&'static str, &'static str)>)> {
    let customer_query = vec![
        ("query[q]", ""),
        ("query[dap]", "All"),
        ("query[sort]", "Name"),
        ("query[dir]", "Asc"),
        ("query[page]", "1"),
        ("query[per_page]", "50"),
    ];
    let member = vec![
        ("customer_tenant_id", UNKNOWN),
        ("role_id", GLOBAL_READER),
        ("user_id", UNKNOWN),
    ];
    let consent = vec![("customer_tenant_id", UNKNOWN), ("application_id", APP)];
    let grant = vec![
        ("customer_tenant_id", UNKNOWN),
        ("application_id", APP),
        ("display_name", ""),
        ("preset_graph", "on"),
    ];
    vec![
        ("add_role_member", member.clone()),
        (
            "audit_log",
            vec![
                ("query[actor]", ""),
                ("query[action]", ""),
                ("query[customer]", ""),
            ],
        ),
        ("bulk_selection", vec![("filter", "")]),
        ("cancel_job", vec![("id", UNKNOWN)]),
        ("consents", vec![("customer_tenant_id", UNKNOWN)]),
        ("customer_gdap", vec![("customer_tenant_id", UNKNOWN)]),
        ("current_session", vec![]),
        ("customer_directory", vec![("customer_tenant_id", UNKNOWN)]),
        ("customers_view", customer_query),
        (
            "decide",
            vec![
                ("review", UNKNOWN),
                ("customer_tenant_id", UNKNOWN),
                ("decision", "keep"),
                ("note", ""),
            ],
        ),
        ("execute_review", vec![("id", UNKNOWN)]),
        ("hide_first_steps", vec![]),
        ("close_review", vec![("id", UNKNOWN), ("confirm", "on")]),
        (
            "decide_many",
            vec![
                ("review", UNKNOWN),
                ("decision", "keep"),
                ("all_matching", "on"),
            ],
        ),
        ("grant_consent", grant),
        ("job", vec![("id", UNKNOWN)]),
        ("jobs", vec![]),
        ("remove_role_member", member),
        ("restore_consent", consent.clone()),
        ("retry_failed", vec![("id", UNKNOWN)]),
        (
            "release_held",
            vec![
                ("id", UNKNOWN),
                ("customer", UNKNOWN),
                ("confirm", "on"),
                ("note", "n"),
            ],
        ),
        ("review", vec![("id", UNKNOWN)]),
        ("reviews", vec![]),
        ("revoke_consent", consent),
        ("role_report", vec![("id", UNKNOWN)]),
        ("role_reports", vec![]),
        (
            "start_consent_job",
            vec![
                ("filter", ""),
                ("action", "grant"),
                ("application_id", APP),
                ("display_name", ""),
                ("preset_graph", "on"),
                ("confirm", "on"),
            ],
        ),
        ("start_review", vec![("filter", "dap=on"), ("title", "")]),
        ("start_role_report", vec![("filter", "")]),
        ("start_sync", vec![]),
        ("sync_status", vec![]),
    ]
}

/// The endpoints declared in app/src/api/*.rs (`#[server(..., endpoint = "...")]`).
fn declared_server_functions() -> BTreeSet<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../app/src/api");
    let mut names = BTreeSet::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let source = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for part in source.split("endpoint = \"").skip(1) {
            names.insert(part.split('"').next().unwrap().to_string());
        }
    }
    names
}

#[tokio::test]
async fn every_server_function_page_and_download_refuses_a_visitor_without_a_session() {
    capture_logs();
    let server = TestServer::start_with(Options {
        customers: 30,
        ..Options::default()
    })
    .await;
    let base = server.base.as_str();
    let functions = every_server_function();
    let listed: BTreeSet<String> = functions.iter().map(|(f, _)| f.to_string()).collect();
    assert_eq!(
        listed,
        declared_server_functions(),
        "this table lists every server function"
    );

    for cookie in [None, Some("dashboard_session=garbage")] {
        for (function, args) in &functions {
            let reply = call_with_cookie(base, cookie, function, args).await;
            if *function == "current_session" {
                // The header renders for visitors too: it says nobody is signed in.
                assert_eq!(reply.status, 200, "{}", reply.body);
                assert!(reply.json()["user"].is_null());
                continue;
            }
            assert_eq!(
                reply.status, 401,
                "{function} with {cookie:?}: {}",
                reply.body
            );
            assert_eq!(reply.error(), AppError::Unauthenticated, "{function}");
        }
    }

    for path in [
        "/customers".to_string(),
        format!("/customers/{UNKNOWN}"),
        "/jobs".to_string(),
        "/jobs/new".to_string(),
        format!("/jobs/{UNKNOWN}"),
        "/reviews".to_string(),
        format!("/reviews/{UNKNOWN}"),
        "/reports".to_string(),
        format!("/reports/{UNKNOWN}"),
        "/audit".to_string(),
        "/".to_string(),
    ] {
        let reply = page_with_cookie(base, None, &path).await;
        assert!(
            matches!(reply.status, 200 | 401),
            "{path}: {}",
            reply.status
        );
        assert!(
            reply.body.contains("Sign in with Microsoft"),
            "{path}: the sign-in panel"
        );
        assert!(
            !reply.body.contains("data-tenant-id=") && !reply.body.contains("data-user-id="),
            "{path}: no data"
        );
    }
    for path in [
        "/customers/export.csv".to_string(),
        "/audit/export.csv".to_string(),
        format!("/jobs/{UNKNOWN}.json"),
        format!("/jobs/{UNKNOWN}/export.csv"),
        format!("/reviews/{UNKNOWN}/export.csv"),
        format!("/reports/{UNKNOWN}/export.csv"),
    ] {
        let reply = page_with_cookie(base, None, &path).await;
        assert_eq!(reply.status, 401, "{path}: {}", reply.body);
        assert!(
            reply.body.contains("not signed in") || reply.body.contains("Unauthenticated"),
            "{path}: {}",
            reply.body
        );
    }

    assert_eq!(
        server.api_calls().await,
        0,
        "nothing reached Partner Center"
    );
    assert_eq!(count(&server.state, "audit_log").await, 0);
    assert_eq!(count(&server.state, "customer_snapshots").await, 0);
    assert_no_token_leaked(&server.state, &BTreeSet::new()).await;
}

// ---------------------------------------------------------------------------------------------
// 7. HTML and script in upstream names, review notes and titles, consent display names.
// ---------------------------------------------------------------------------------------------

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// `text` is on the page as text: escaped, never as markup.
fn assert_shown_as_text(html: &str, text: &str, page: &str) {
    assert!(
        !html.contains(text),
        "{page}: raw markup from {text:?} reached the page"
    );
    let normalised = html
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&#34;", "\"");
    assert!(
        normalised.contains(&escape_html(text)),
        "{page}: {text:?} is not shown"
    );
}

fn assert_no_markup(html: &str, text: &str, page: &str) {
    assert!(
        !html.contains(text),
        "{page}: raw markup from {text:?} reached the page"
    );
}

#[tokio::test]
async fn html_and_script_in_names_notes_titles_and_display_names_stay_text() {
    capture_logs();
    let server = TestServer::start_with(Options {
        customers: 1500,
        ..Options::default()
    })
    .await;
    let (client, _) = server.sign_in(ADMIN_UPN).await;
    let hostile: Vec<(String, String, bool)> = customers(&server)
        .await
        .into_iter()
        .filter(|(_, name, _)| name.contains('<'))
        .collect();
    assert!(
        hostile.iter().any(|(_, name, _)| name.contains("<script>")),
        "the simulator's seed has a customer named with a <script> tag: {hostile:?}"
    );
    let display_name = "<img src=x onerror=alert('cpv')>";
    let title = "<script>alert('title')</script> review";
    let note = "=HYPERLINK(\"https://evil.example\") <img src=x onerror=alert('note')>";

    // The customers view, and a search that is itself markup.
    let view = page(&server, &client, "/customers?q=%3C&per_page=500").await;
    assert_eq!(view.status, 200);
    for (_, name, _) in &hostile {
        assert_shown_as_text(&view.body, name, "/customers");
    }
    let search = page(
        &server,
        &client,
        "/customers?q=%3Cscript%3Ealert(%27q%27)%3C%2Fscript%3E",
    )
    .await;
    assert_eq!(search.status, 200);
    assert_no_markup(&search.body, "<script>alert('q')</script>", "a search");

    // The JSON and the CSV carry the names unchanged, as data that is not rendered.
    let json = call(
        &server,
        &client,
        "customers_view",
        &[
            ("query[q]", "<"),
            ("query[dap]", "All"),
            ("query[sort]", "Name"),
            ("query[dir]", "Asc"),
            ("query[page]", "1"),
            ("query[per_page]", "50"),
        ],
    )
    .await;
    assert_eq!(json.status, 200);
    assert!(json.content_type.starts_with("application/json"));
    let csv = page(&server, &client, "/customers/export.csv?q=%3C").await;
    assert_eq!(csv.status, 200);
    assert_eq!(csv.content_type, "text/csv; charset=utf-8");
    assert!(csv.headers.contains("attachment"), "{}", csv.headers);
    let exported: Vec<(String, String)> = csv::Reader::from_reader(csv.body.as_bytes())
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[1].to_string(), r[0].to_string())
        })
        .collect();
    for (id, name, _) in &hostile {
        assert!(
            exported.contains(&(id.clone(), name.clone())),
            "{name} intact in the CSV"
        );
    }

    // A bulk consent job over those customers, with a display name that is markup.
    let job: String = call(
        &server,
        &client,
        "start_consent_job",
        &[
            ("filter", "q=<"),
            ("action", "grant"),
            ("application_id", APP),
            ("display_name", display_name),
            ("preset_graph", "on"),
            ("confirm", "on"),
        ],
    )
    .await
    .json()
    .as_str()
    .unwrap()
    .to_string();
    let finished = server.wait_for_job(&client, &job).await;
    assert_eq!(finished["summary"]["counts"]["total"], hostile.len());
    let job_page = page(&server, &client, &format!("/jobs/{job}")).await;
    assert_eq!(job_page.status, 200);
    for (_, name, _) in &hostile {
        assert_shown_as_text(&job_page.body, name, "the job");
    }
    assert_no_markup(&job_page.body, display_name, "the job");
    let jobs = page(&server, &client, "/jobs").await;
    assert_no_markup(&jobs.body, display_name, "/jobs");

    // The customer page of the <script> customer, with its consent named in markup.
    let (script_id, script_name, _) = hostile
        .iter()
        .find(|(_, name, _)| name.contains("<script>"))
        .unwrap()
        .clone();
    let customer_page = page(&server, &client, &format!("/customers/{script_id}")).await;
    assert_eq!(customer_page.status, 200, "{}", customer_page.body);
    assert_no_markup(&customer_page.body, &script_name, "the customer page");
    assert_shown_as_text(&customer_page.body, display_name, "the customer page");

    // A privileged-role report over them.
    let report: String = call(&server, &client, "start_role_report", &[("filter", "q=<")])
        .await
        .json()
        .as_str()
        .unwrap()
        .to_string();
    for _ in 0..300 {
        let r = call(&server, &client, "role_report", &[("id", report.as_str())]).await;
        if r.json()["summary"]["finished_at"].is_string() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let report_page = page(&server, &client, &format!("/reports/{report}")).await;
    assert_eq!(report_page.status, 200);
    for (_, name, _) in &hostile {
        assert_shown_as_text(&report_page.body, name, "the report");
    }

    // A review titled in markup, with a note that is markup and a spreadsheet formula.
    let review: String = call(
        &server,
        &client,
        "start_review",
        &[("filter", "q=<&dap=on"), ("title", title)],
    )
    .await
    .json()
    .as_str()
    .unwrap()
    .to_string();
    let loaded = call(&server, &client, "review", &[("id", review.as_str())]).await;
    let in_review = loaded.json()["customers"][0]["customer_tenant_id"]
        .as_str()
        .unwrap()
        .to_string();
    let decided = call(
        &server,
        &client,
        "decide",
        &[
            ("review", review.as_str()),
            ("customer_tenant_id", in_review.as_str()),
            ("decision", "keep"),
            ("note", note),
        ],
    )
    .await;
    assert_eq!(decided.status, 200, "{}", decided.body);
    let review_page = page(&server, &client, &format!("/reviews/{review}")).await;
    assert_eq!(review_page.status, 200);
    assert_shown_as_text(&review_page.body, title, "the review");
    assert_shown_as_text(&review_page.body, note, "the review");
    for (id, name, dap) in &hostile {
        if *dap && review_page.body.contains(id.as_str()) {
            assert_shown_as_text(&review_page.body, name, "the review");
        }
    }
    let reviews = page(&server, &client, "/reviews").await;
    assert_shown_as_text(&reviews.body, title, "/reviews");
    let review_csv = page(&server, &client, &format!("/reviews/{review}/export.csv")).await;
    let rows: Vec<csv::StringRecord> = csv::Reader::from_reader(review_csv.body.as_bytes())
        .records()
        .map(Result::unwrap)
        .collect();
    let row = rows.iter().find(|r| &r[1] == in_review.as_str()).unwrap();
    assert_eq!(
        &row[5],
        format!("'{note}"),
        "the formula in the note is neutralised"
    );
    let audit = page(&server, &client, "/audit").await;
    for text in [display_name, title, note] {
        assert_no_markup(&audit.body, text, "/audit");
    }
    assert_no_token_leaked(&server.state, &BTreeSet::new()).await;
}

// ---------------------------------------------------------------------------------------------
// 8. No token anywhere.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn no_token_appears_in_any_page_json_csv_or_log_line() {
    capture_logs();
    let server = TestServer::start_with(Options {
        customers: 40,
        token_lifetime: Duration::from_secs(3),
        ..Options::default()
    })
    .await;
    let mut issued = BTreeSet::new();

    // The refresh token of the sign-in itself, before any redemption rotates it.
    let admin = server.browser();
    let home = Reply::of(
        admin
            .get(server.url(&format!("/login?login_hint={ADMIN_UPN}&return_to=/")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(home.status, 200);
    issued.extend(tokens_held(&server.state).await);

    let customer = customers(&server).await[2].0.clone();
    let c = customer.as_str();
    let mut paths = vec![
        "/".to_string(),
        "/customers".to_string(),
        format!("/customers/{c}"),
        "/jobs".to_string(),
        "/jobs/new".to_string(),
        "/reviews".to_string(),
        "/reports".to_string(),
        "/audit".to_string(),
        "/customers/export.csv".to_string(),
        "/signin-error?error=invalid_grant&description=AADSTS50173".to_string(),
    ];
    for path in &paths {
        let reply = page(&server, &admin, path).await;
        assert_eq!(reply.status, 200, "{path}");
    }
    for (function, args) in every_server_function() {
        if function != "start_sync" {
            call(&server, &admin, function, &args).await;
        }
    }
    call(
        &server,
        &admin,
        "grant_consent",
        &[
            ("customer_tenant_id", c),
            ("application_id", APP),
            ("display_name", "Contoso CPV"),
            ("preset_graph", "on"),
        ],
    )
    .await;
    let job = call(
        &server,
        &admin,
        "start_consent_job",
        &[
            ("filter", "dap=on"),
            ("action", "grant"),
            ("application_id", APP),
            ("display_name", ""),
            ("preset_graph", "on"),
            ("confirm", "on"),
        ],
    )
    .await
    .json()
    .as_str()
    .unwrap()
    .to_string();
    record(server.wait_for_job(&admin, &job).await.to_string());
    let report = call(
        &server,
        &admin,
        "start_role_report",
        &[("filter", "dap=on")],
    )
    .await
    .json()
    .as_str()
    .unwrap()
    .to_string();
    let review = call(
        &server,
        &admin,
        "start_review",
        &[("filter", "dap=on"), ("title", "")],
    )
    .await
    .json()
    .as_str()
    .unwrap()
    .to_string();
    paths = vec![
        format!("/jobs/{job}"),
        format!("/jobs/{job}/export.csv"),
        format!("/reports/{report}"),
        format!("/reviews/{review}"),
        format!("/reviews/{review}/export.csv"),
        "/audit/export.csv".to_string(),
    ];
    for path in &paths {
        let reply = page(&server, &admin, path).await;
        assert_eq!(reply.status, 200, "{path}");
    }
    issued.extend(tokens_held(&server.state).await);

    // The read-only admin meets Partner Center's refusals (error bodies are passed on).
    let (reader, landing) = server.sign_in(READER_UPN).await;
    Reply::of(landing).await;
    issued.extend(tokens_held(&server.state).await);
    let refused = call(
        &server,
        &reader,
        "grant_consent",
        &[
            ("customer_tenant_id", c),
            ("application_id", APP),
            ("display_name", ""),
            ("preset_graph", "on"),
        ],
    )
    .await;
    assert_eq!(refused.status, 403);

    // Error paths: bad ids, a cross-origin write, an anonymous call, refused sign-ins.
    call(&server, &admin, "job", &[("id", "../../etc/passwd")]).await;
    raw_get(&server.base, "/customers/..%2f..%2fusers", "").await;
    Reply::of(
        admin
            .post(server.url("/api/start_sync"))
            .header("Origin", "https://evil.example")
            .send()
            .await
            .unwrap(),
    )
    .await;
    call_with_cookie(&server.base, None, "sync_status", &[]).await;
    page(
        &server,
        &server.browser(),
        "/auth/callback?code=forged&state=forged",
    )
    .await;
    page(
        &server,
        &server.browser(),
        "/auth/callback?error=invalid_grant&error_description=AADSTS700082%3A+expired",
    )
    .await;

    // Entra refuses the admin's refresh token once the access token has expired.
    let revoke = plain_client()
        .post(server.url("/_sim/refresh-tokens/revoke"))
        .json(&serde_json::json!({ "upn": ADMIN_UPN }))
        .send()
        .await
        .unwrap();
    assert!(revoke.status().is_success());
    tokio::time::sleep(Duration::from_millis(3200)).await;
    let refused = call(
        &server,
        &admin,
        "customer_directory",
        &[("customer_tenant_id", c)],
    )
    .await;
    assert_eq!(refused.status, 401, "{}", refused.body);
    page(&server, &admin, &format!("/customers/{c}")).await;

    // Sign-out.
    Reply::of(
        reader
            .post(server.url("/logout"))
            .header("Origin", &server.base)
            .send()
            .await
            .unwrap(),
    )
    .await;

    // The capture works (otherwise the check below would prove nothing)...
    let logs = common::logs::kept();
    assert!(
        logs.contains("signed in"),
        "the dashboard's log is captured"
    );
    assert!(logs.contains("cross-origin write refused"));
    assert!(issued.len() >= 4, "tokens known: {}", issued.len());
    // ...the session store holds no token either...
    let sessions: Vec<Vec<u8>> = sqlx::query_scalar("SELECT data FROM tower_sessions")
        .fetch_all(&server.state.storage.pool)
        .await
        .unwrap();
    for data in sessions {
        let data = String::from_utf8_lossy(&data).to_string();
        assert!(jwt_in(&data).is_none(), "a JWT in the session store");
        for token in &issued {
            assert!(
                !data.contains(token.as_str()),
                "a token in the session store"
            );
        }
    }
    // ...and no response or log line carries a token.
    assert_no_token_leaked(&server.state, &issued).await;
}
