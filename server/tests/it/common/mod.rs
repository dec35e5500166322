//! Starts the real dashboard (in-process simulator, real sockets) on a free port, and signs in
//! through the simulated Entra ID like a browser would.
#![allow(
    dead_code,
    clippy::unwrap_used,
    reason = "each test binary uses part of the harness, and a test fails loudly"
)]

pub mod logs;
pub mod processes;

use app::ssr::config::Config;
use app::ssr::state::AppState;
use simulator::{SimConfig, Simulator};
use std::collections::HashMap;
use std::time::Duration;

pub const ADMIN_UPN: &str = "avery.admin@northwind-partner.onmicrosoft.com";
pub const READER_UPN: &str = "riley.reader@northwind-partner.onmicrosoft.com";
pub const APPROVER_UPN: &str = "casey.approver@northwind-partner.onmicrosoft.com";
/// Operates the dashboard, but holds no Privileged Role Administrator in GDAP.
pub const HELPDESK_UPN: &str = "jordan.helpdesk@northwind-partner.onmicrosoft.com";
/// Holds no dashboard role: the sign-in is refused.
pub const NO_ROLE_UPN: &str = "nora.norole@northwind-partner.onmicrosoft.com";

pub enum Db {
    Sqlite,
    Postgres,
}

/// Where a dashboard and its simulator answer, and what a test does with them over HTTP: a
/// server of this process ([`TestServer`] derefs to it) or a spawned one alike.
pub struct Endpoints {
    pub base: String,
    /// Where the simulator answers: the dashboard itself in demo mode, else its own port.
    pub sim_base: String,
}

pub struct TestServer {
    pub endpoints: Endpoints,
    pub state: AppState,
    pub simulator: Simulator,
    pub database_url: String,
    _pg: Option<PgDatabase>,
    _dir: TempDir,
}

pub struct Options {
    pub db: Db,
    pub customers: usize,
    pub token_lifetime: Duration,
    /// DASHBOARD_REVIEW_FOUR_EYES
    pub four_eyes: bool,
    /// Sign-in configured (not demo mode) against the simulator served on a port of its own, as
    /// against Microsoft. Always so on PostgreSQL, which demo mode refuses.
    pub configured: bool,
    /// More variables (e.g. DASHBOARD_PUBLIC_URL); they win over the harness's.
    pub vars: Vec<(&'static str, String)>,
    /// Overrides the absolute session lifetime (the environment only knows whole hours).
    pub session_max_age: Option<Duration>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            db: Db::Sqlite,
            customers: 300,
            token_lifetime: Duration::from_secs(3600),
            four_eyes: false,
            configured: false,
            vars: Vec::new(),
            session_max_age: None,
        }
    }
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with(Options::default()).await
    }

    pub async fn start_with(options: Options) -> TestServer {
        logs::init();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let dir = TempDir::new();
        let (database_url, pg) = match options.db {
            Db::Sqlite => (
                format!("sqlite://{}/dashboard.db?mode=rwc", dir.path.display()),
                None,
            ),
            Db::Postgres => {
                let pg = PgDatabase::create().await;
                (pg.url.clone(), Some(pg))
            }
        };
        let configured = options.configured || matches!(options.db, Db::Postgres);
        let mut vars = HashMap::new();
        vars.insert("DASHBOARD_BIND_ADDR", addr.to_string());
        vars.insert("DASHBOARD_DATABASE_URL", database_url.clone());
        vars.insert("DASHBOARD_REVIEW_FOUR_EYES", options.four_eyes.to_string());
        // Outside demo mode the simulator is "Microsoft" on a port of its own.
        let standalone = if configured {
            let sim_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let sim_base = format!("http://{}", sim_listener.local_addr().unwrap());
            let mut sim_config = SimConfig::demo(url::Url::parse(&format!("{sim_base}/")).unwrap());
            sim_config.customers = options.customers;
            sim_config.access_token_lifetime = options.token_lifetime;
            vars.insert("DASHBOARD_AUTHORITY", sim_config.authority());
            vars.insert("DASHBOARD_CLIENT_ID", sim_config.client_id.clone());
            vars.insert(
                "DASHBOARD_REDIRECT_URL",
                format!("http://{addr}/auth/callback"),
            );
            vars.insert(
                "DASHBOARD_PARTNER_CENTER_URL",
                sim_config.partner_center_base(),
            );
            vars.insert("DASHBOARD_ADMIN_API_URL", sim_config.admin_api_base());
            vars.insert("DASHBOARD_GRAPH_URL", sim_config.graph_base());
            vars.insert(
                "DASHBOARD_TOKEN_ENCRYPTION_KEY",
                processes::TOKEN_KEY.to_string(),
            );
            let simulator = Simulator::new(sim_config);
            let router = simulator.router();
            tokio::spawn(async move {
                let _ = axum::serve(sim_listener, router).await;
            });
            Some((simulator, sim_base))
        } else {
            // Demo mode refuses a configured key and keeps its own beside the database: the
            // same known key as outside demo mode goes there, so tests can open what it sealed.
            std::fs::write(dir.path.join("token-encryption.key"), processes::TOKEN_KEY).unwrap();
            vars.insert("DASHBOARD_DEMO", "true".to_string());
            None
        };
        for (name, value) in options.vars {
            vars.insert(name, value);
        }
        let mut config = Config::from_lookup(|k| vars.get(k).cloned()).unwrap();
        if let Some(max_age) = options.session_max_age {
            config.session_max_age = max_age;
        }
        let mut sim_config = SimConfig::demo(config.public_url.clone());
        sim_config.customers = options.customers;
        sim_config.access_token_lifetime = options.token_lifetime;

        let render_deadline =
            server::RenderDeadline::from_lookup(|k| vars.get(k).cloned()).unwrap();
        let dashboard = server::build_with(config, Some(sim_config), render_deadline)
            .await
            .unwrap();
        let state = dashboard.state.clone();
        let (simulator, sim_base) = match (standalone, dashboard.simulator.clone()) {
            (Some(standalone), _) => standalone,
            (None, Some(in_process)) => (in_process, format!("http://{addr}")),
            (None, None) => panic!("demo mode without its simulator"),
        };
        tokio::spawn(async move {
            let _ = server::serve_on(dashboard, listener).await;
        });
        TestServer {
            endpoints: Endpoints {
                base: format!("http://{addr}"),
                sim_base,
            },
            state,
            simulator,
            database_url,
            _pg: pg,
            _dir: dir,
        }
    }

    /// The stored-credential key of a demo user (`tenant:object-id`).
    pub fn user_key(&self, upn: &str) -> String {
        let user = self
            .simulator
            .demo_users()
            .into_iter()
            .find(|u| u.upn == upn)
            .unwrap();
        format!("{}:{}", simulator::PARTNER_TENANT_ID, user.object_id)
    }
}

impl std::ops::Deref for TestServer {
    type Target = Endpoints;

    fn deref(&self) -> &Endpoints {
        &self.endpoints
    }
}

impl Endpoints {
    /// A URL of the simulator (its control endpoints: `/_sim/state`, `/_sim/faults`...).
    pub fn sim_url(&self, path: &str) -> String {
        format!("{}{}", self.sim_base, path)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A browser-like client: keeps cookies, follows redirects, and gives up after a minute
    /// so that a hung server fails the test instead of stalling the suite.
    pub fn browser(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::limited(10))
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap()
    }

    /// Signs in through the simulator with `login_hint` (no click needed); returns the client
    /// holding the session and the page it landed on.
    pub async fn sign_in(&self, upn: &str) -> (reqwest::Client, reqwest::Response) {
        let client = self.browser();
        let response = client
            .get(self.url(&format!("/login?login_hint={upn}&return_to=/customers")))
            .send()
            .await
            .unwrap();
        if response.status() != 200 {
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            panic!("sign-in did not land on a page: {status}\n{body}");
        }
        assert_eq!(
            response.url().path(),
            "/customers",
            "sign-in landed elsewhere"
        );
        (client, response)
    }

    /// Waits until no sync runs for `client`'s admin; returns the last `sync_status`.
    pub async fn wait_for_sync(&self, client: &reqwest::Client) -> serde_json::Value {
        for _ in 0..600 {
            let status: serde_json::Value =
                self.call(client, "sync_status").await.json().await.unwrap();
            if status["running"].is_null() {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the sync did not finish");
    }

    /// Calls a server function the way the hydrated page does (form-encoded POST).
    /// Calls a server function without arguments, as the hydrated app does.
    pub async fn call(&self, client: &reqwest::Client, function: &str) -> reqwest::Response {
        self.call_with(client, function, &[]).await
    }

    pub async fn call_with(
        &self,
        client: &reqwest::Client,
        function: &str,
        args: &[(&str, &str)],
    ) -> reqwest::Response {
        client
            .post(self.url(&format!("/api/{function}")))
            .header("Origin", &self.base)
            .header("Accept", "application/json")
            .form(args)
            .send()
            .await
            .unwrap()
    }

    /// Starts a bulk job granting consent to `application` (Microsoft Graph preset) in every
    /// customer; returns its id.
    pub async fn start_grant(
        &self,
        client: &reqwest::Client,
        application: &str,
        display_name: &str,
    ) -> String {
        let response = self
            .call_with(
                client,
                "start_consent_job",
                &[
                    ("filter", ""),
                    ("action", "grant"),
                    ("application_id", application),
                    ("display_name", display_name),
                    ("preset_graph", "on"),
                    ("confirm", "on"),
                ],
            )
            .await;
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    /// A server function that calls Partner Center every time: the first customer's directory.
    pub async fn call_upstream(&self, client: &reqwest::Client) -> reqwest::Response {
        let state = self.sim_state().await;
        let customer = state["customers"][0]["customerTenantId"]
            .as_str()
            .unwrap()
            .to_string();
        self.call_with(
            client,
            "customer_directory",
            &[("customer_tenant_id", customer.as_str())],
        )
        .await
    }

    /// The simulator's state with `customer`'s directory generated (its `roleMembers`).
    pub async fn sim_state_for(&self, customer: &str) -> serde_json::Value {
        reqwest::get(self.sim_url(&format!("/_sim/state?customer={customer}")))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Partner Center calls the simulator has answered so far.
    pub async fn api_calls(&self) -> u64 {
        self.sim_state().await["counters"]["apiCalls"]
            .as_u64()
            .unwrap()
    }

    /// GET `path` with `client`: status and body.
    pub async fn page(&self, client: &reqwest::Client, path: &str) -> (u16, String) {
        let response = client.get(self.url(path)).send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    /// Whether Partner Center (the simulator) has DAP on for `tenant` right now.
    pub async fn dap_enabled(&self, tenant: &str) -> bool {
        self.sim_state().await["customers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["customerTenantId"] == tenant)
            .unwrap()["dapEnabled"]
            .as_bool()
            .unwrap()
    }

    pub async fn sim_state(&self) -> serde_json::Value {
        reqwest::get(self.sim_url("/_sim/state"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// A bulk job as `/jobs/{id}.json` serves it.
    pub async fn job(&self, client: &reqwest::Client, id: &str) -> serde_json::Value {
        let response = client
            .get(self.url(&format!("/jobs/{id}.json")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    /// Polls a bulk job until it has finished (at most a minute).
    pub async fn wait_for_job(&self, client: &reqwest::Client, id: &str) -> serde_json::Value {
        for _ in 0..600 {
            let job = self.job(client, id).await;
            if job["summary"]["finished_at"].is_string() {
                return job;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("job {id} did not finish within a minute");
    }

    /// Replaces the simulator's fault settings, as `PUT /_sim/faults` does.
    pub async fn set_faults(&self, faults: &simulator::FaultConfig) {
        let response = reqwest::Client::new()
            .put(self.sim_url("/_sim/faults"))
            .json(faults)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{}", response.status());
    }
}

pub struct TempDir {
    pub path: std::path::PathBuf,
}

impl TempDir {
    pub fn new() -> Self {
        let path = std::env::temp_dir().join(format!("dashboard-test-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&path).unwrap();
        TempDir { path }
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A fresh database on the real PostgreSQL server named by DASHBOARD_TEST_POSTGRES_URL
/// (default: the local server). It fails the test when PostgreSQL does not answer: never a skip.
pub struct PgDatabase {
    pub url: String,
    admin_url: String,
    name: String,
}

impl PgDatabase {
    pub async fn create() -> PgDatabase {
        use sqlx::Connection;
        let admin_url = std::env::var("DASHBOARD_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let name = format!("dashboard_test_{}", uuid::Uuid::new_v4().simple());
        let mut conn = sqlx::PgConnection::connect(&admin_url).await.unwrap_or_else(|e| {
            panic!("PostgreSQL at {admin_url} does not answer ({e}); the PostgreSQL suites need it (the test command starts it)")
        });
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .unwrap();
        let mut url = url::Url::parse(&admin_url).unwrap();
        url.set_path(&name);
        PgDatabase {
            url: url.to_string(),
            admin_url,
            name,
        }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        // Best effort, on a thread of its own: Drop cannot await and the runtime may be ending.
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                use sqlx::Connection;
                if let Ok(mut conn) = sqlx::PgConnection::connect(&admin_url).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut conn)
                        .await;
                }
            });
        })
        .join();
    }
}
