//! `server` serves the dashboard (demo mode when nothing is configured).
//! `server simulator` serves only the Partner Center + Entra ID simulator, so a dashboard can be
//! pointed at it through the same variables used for Microsoft.

use app::ssr::config::{Config, LogFormat};
use std::process::ExitCode;

/// mimalloc instead of glibc's malloc: rendering a page allocates and frees thousands of small
/// strings across Tokio's threads, where glibc's allocator took a fifth of the server's CPU.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let logging = LogFormat::from_env()
        .map_err(|e| e.to_string())
        .and_then(server::observability::init_logging);
    if let Err(message) = logging {
        eprintln!("error: {message}");
        return ExitCode::FAILURE;
    }

    let result = match std::env::args().nth(1).as_deref() {
        None | Some("serve") => run_dashboard().await,
        Some("simulator") => run_simulator().await,
        Some(other) => Err(format!(
            "unknown command '{other}': use `server` (the dashboard) or `server simulator`"
        )),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run_dashboard() -> Result<(), String> {
    let config = Config::from_env().map_err(|e| e.to_string())?;
    let addr = config.bind_addr;
    let demo = config.is_demo();
    let public_url = config.public_url.clone();
    let dashboard = server::build(config, None)
        .await
        .map_err(|e| e.to_string())?;
    if demo {
        tracing::info!(
            "demo mode: Partner Center and Entra ID are simulated under {public_url}_sim/"
        );
    }
    tracing::info!("dashboard listening on {public_url} (bound to {addr})");
    server::serve(dashboard, addr)
        .await
        .map_err(|e| e.to_string())
}

async fn run_simulator() -> Result<(), String> {
    let addr: std::net::SocketAddr = std::env::var("DASHBOARD_SIM_BIND_ADDR")
        .unwrap_or_else(|_| "127.0.0.1:4010".into())
        .parse()
        .map_err(|_| "DASHBOARD_SIM_BIND_ADDR: not an address like 127.0.0.1:4010".to_string())?;
    let public_url = match std::env::var("DASHBOARD_SIM_PUBLIC_URL") {
        Ok(url) => url::Url::parse(&url)
            .map_err(|e| format!("DASHBOARD_SIM_PUBLIC_URL: '{url}' is not a URL ({e})"))?,
        Err(_) => url::Url::parse(&format!("http://{addr}/")).map_err(|e| e.to_string())?,
    };
    let config = simulator::SimConfig::from_env(public_url).map_err(|e| e.to_string())?;
    tracing::info!(
        "simulator listening on {addr}: authority {}, Partner Center {}, admin API {}",
        config.authority(),
        config.partner_center_base(),
        config.admin_api_base()
    );
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    simulator::serve_standalone(config, listener)
        .await
        .map_err(|e| e.to_string())
}
