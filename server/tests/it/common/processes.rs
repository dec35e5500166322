//! Real processes: the standalone simulator (`server simulator`) and dashboards pointed at it
//! through the same variables used for Microsoft, so a dashboard can be killed and restarted
//! while the simulator keeps its state (writes per MS-RequestId).

use super::TempDir;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const TOKEN_KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn server_binary() -> &'static str {
    env!("CARGO_BIN_EXE_server")
}

fn workspace_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

async fn wait_until_healthy(url: &str, child: &mut Child, log: &std::path::Path) {
    for _ in 0..300 {
        if let Ok(response) = reqwest::get(url).await {
            if response.status().is_success() {
                return;
            }
        }
        if let Ok(Some(status)) = child.try_wait() {
            let log = std::fs::read_to_string(log).unwrap_or_default();
            panic!("process exited with {status} before answering {url}:\n{log}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{url} did not answer within 15 s");
}

/// A child process killed (SIGKILL) when dropped.
pub struct Process {
    child: Child,
    pub base: String,
    pub log: std::path::PathBuf,
}

impl Process {
    pub fn new(child: Child, base: String, log: std::path::PathBuf) -> Process {
        Process { child, base, log }
    }

    /// Waits until `path` answers with a success (15 s at most).
    pub async fn wait_until_healthy(&mut self, path: &str) {
        let url = self.url(path);
        wait_until_healthy(&url, &mut self.child, &self.log).await;
    }

    /// Waits for the process to end by itself (a start-up that fails).
    pub async fn wait_for_exit(&mut self, within: Duration) -> std::process::ExitStatus {
        let deadline = std::time::Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "still running after {within:?}:\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Kills the process at once, as a crash or `kill -9` would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

pub struct SimProcess {
    pub process: Process,
}

impl SimProcess {
    pub async fn start(dir: &TempDir, customers: usize) -> SimProcess {
        let port = free_port();
        let log = dir.path.join(format!("simulator-{port}.log"));
        let mut child = Command::new(server_binary())
            .arg("simulator")
            .env("DASHBOARD_SIM_BIND_ADDR", format!("127.0.0.1:{port}"))
            .env("DASHBOARD_SIM_CUSTOMERS", customers.to_string())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::from(std::fs::File::create(&log).unwrap()))
            .stderr(Stdio::from(std::fs::File::create(&log).unwrap()))
            .spawn()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        wait_until_healthy(&format!("{base}/_sim/state"), &mut child, &log).await;
        SimProcess {
            process: Process { child, base, log },
        }
    }

    pub async fn state(&self) -> serde_json::Value {
        reqwest::get(self.process.url("/_sim/state"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn set_faults(&self, faults: serde_json::Value) {
        let response = reqwest::Client::new()
            .put(self.process.url("/_sim/faults"))
            .json(&faults)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{}", response.status());
    }
}

/// A dashboard process configured like a production one, with the simulator as "Microsoft".
pub struct DashboardProcess {
    pub process: Process,
    port: u16,
    vars: Vec<(String, String)>,
}

impl DashboardProcess {
    pub async fn start(
        sim: &SimProcess,
        dir: &TempDir,
        database_url: &str,
        instance_id: &str,
    ) -> DashboardProcess {
        let port = free_port();
        let sim_base = &sim.process.base;
        let tenant = simulator::PARTNER_TENANT_ID;
        let vars: Vec<(String, String)> = [
            ("DASHBOARD_BIND_ADDR", format!("127.0.0.1:{port}")),
            (
                "DASHBOARD_AUTHORITY",
                format!("{sim_base}/_sim/login/{tenant}/v2.0"),
            ),
            ("DASHBOARD_CLIENT_ID", simulator::DEMO_CLIENT_ID.to_string()),
            (
                "DASHBOARD_REDIRECT_URL",
                format!("http://127.0.0.1:{port}/auth/callback"),
            ),
            (
                "DASHBOARD_PARTNER_CENTER_URL",
                format!("{sim_base}/_sim/partnercenter/v1"),
            ),
            (
                "DASHBOARD_ADMIN_API_URL",
                format!("{sim_base}/_sim/pcsvcadmin/CustomerServiceAdminApi/Web/v1"),
            ),
            ("DASHBOARD_GRAPH_URL", format!("{sim_base}/_sim/graph/v1.0")),
            ("DASHBOARD_DATABASE_URL", database_url.to_string()),
            ("DASHBOARD_TOKEN_ENCRYPTION_KEY", TOKEN_KEY.to_string()),
            ("DASHBOARD_INSTANCE_ID", instance_id.to_string()),
            ("RUST_LOG", "info,sqlx=warn".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let mut dashboard = DashboardProcess {
            process: Self::spawn(dir, port, &vars),
            port,
            vars,
        };
        dashboard.wait_until_healthy().await;
        dashboard
    }

    fn spawn(dir: &TempDir, port: u16, vars: &[(String, String)]) -> Process {
        let log = dir.path.join(format!(
            "dashboard-{port}-{}.log",
            uuid::Uuid::new_v4().simple()
        ));
        let child = Command::new(server_binary())
            .current_dir(workspace_root())
            .envs(vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::from(std::fs::File::create(&log).unwrap()))
            .stderr(Stdio::from(std::fs::File::create(&log).unwrap()))
            .spawn()
            .unwrap();
        Process {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
        }
    }

    async fn wait_until_healthy(&mut self) {
        self.process.wait_until_healthy("/healthz").await;
    }

    /// Starts the same configuration again (same port, database and instance id). The explicit
    /// instance id is what lets the new process resume its jobs at once; with the default id,
    /// new at each start, it would wait for their leases to lapse like any other instance.
    pub async fn restart(&mut self, dir: &TempDir) {
        self.process.kill();
        self.process = Self::spawn(dir, self.port, &self.vars);
        self.wait_until_healthy().await;
    }

    pub fn url(&self, path: &str) -> String {
        self.process.url(path)
    }

    /// Signs in through the simulator's Entra ID like a browser.
    pub async fn sign_in(&self, upn: &str) -> reqwest::Client {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::limited(10))
            .build()
            .unwrap();
        let response = client
            .get(self.url(&format!("/login?login_hint={upn}&return_to=/jobs")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{}", self.process.log_text());
        assert_eq!(response.url().path(), "/jobs");
        client
    }

    pub async fn call(
        &self,
        client: &reqwest::Client,
        function: &str,
        args: &[(&str, &str)],
    ) -> reqwest::Response {
        client
            .post(self.url(&format!("/api/{function}")))
            .header("Origin", format!("http://127.0.0.1:{}", self.port))
            .header("Accept", "application/json")
            .form(args)
            .send()
            .await
            .unwrap()
    }

    pub async fn job(&self, client: &reqwest::Client, id: &str) -> serde_json::Value {
        let response = client
            .get(self.url(&format!("/jobs/{id}.json")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }
}
