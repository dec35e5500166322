//! The dashboard server: builds `AppState`, mounts the Leptos app, its server functions, the
//! sign-in routes and (in demo mode) the simulator, and serves them.

pub mod observability;

use app::ssr::config::{Config, ConfigError, Endpoints, Upstream};
use app::ssr::security::{
    reject_cross_origin, security_headers, AllowedOrigin, BrowserPolicy, PagePolicy,
};
use app::ssr::state::{AppState, StateError};
use app::{shell, App};
use axum::extract::State;
use axum::http::{header, Extensions, HeaderMap, StatusCode, Version};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, AxumRouteListing, LeptosRoutes};
use simulator::{SimConfig, SimConfigError, Simulator};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use tower_http::compression::predicate::{DefaultPredicate, Predicate};
use tower_http::compression::CompressionLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::session_store::ExpiredDeletion;
use tower_sessions::{Expiry, SessionManagerLayer};

mod deadline;
pub use deadline::{RenderDeadline, DEFAULT_RENDER_DEADLINE_SECS, RENDER_DEADLINE_VARIABLE};

pub const SESSION_COOKIE: &str = "dashboard_session";
/// The cookie's name over https: browsers accept a `__Host-` cookie only when it is Secure,
/// has Path=/ and no Domain, so no sibling subdomain or plain-http page can plant or shadow it.
pub const SECURE_SESSION_COOKIE: &str = "__Host-dashboard_session";

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("configuration: {0}")]
    Config(#[from] ConfigError),
    #[error("simulator configuration: {0}")]
    Simulator(#[from] SimConfigError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error("metrics: {0}")]
    Metrics(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// Test hook: when set, runs inside leptos' route-list generation, the window in which
/// leptos_server's process-wide "suppress resource load" flag is set, so a test can hold that
/// window open (tests/it/render_stall.rs). Unset, as outside tests, it costs one lock per process.
#[doc(hidden)]
pub type RouteListHook = Arc<dyn Fn() + Send + Sync>;
#[doc(hidden)]
pub static IN_ROUTE_LIST_GENERATION: Mutex<Option<RouteListHook>> = Mutex::new(None);

/// The app's routes, listed once per process and shared by every server built in it.
///
/// leptos lists them by rendering the app with a process-wide flag set: leptos_server 0.8.8's
/// `IS_SUPPRESSING_RESOURCE_LOAD` (src/resource.rs:37, set by leptos_router 0.8.17's
/// `RouteList::generate`). A resource first polled while it is set, by a page render of any
/// server on any runtime or thread, awaits `pending()` for good (resource.rs:317;
/// leptos-rs/leptos#4773). Listed once, the window opens and closes inside the first build,
/// before any server of the process can serve, so no render overlaps it; later servers (tests
/// start many) do not reopen it.
fn route_list() -> Vec<AxumRouteListing> {
    static ROUTES: OnceLock<Vec<AxumRouteListing>> = OnceLock::new();
    ROUTES
        .get_or_init(|| {
            generate_route_list(|| {
                let hook = IN_ROUTE_LIST_GENERATION
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone();
                if let Some(hook) = hook {
                    hook();
                }
                App()
            })
        })
        .clone()
}

/// The assembled server, before it listens.
pub struct Dashboard {
    pub router: Router,
    pub state: AppState,
    /// Present in demo mode: the in-process simulator mounted under `/_sim/`.
    pub simulator: Option<Simulator>,
    /// With `DASHBOARD_METRICS_ADDR`: where the metrics listener binds, and what it serves.
    pub metrics: Option<(SocketAddr, Router)>,
}

/// Leptos' options from cargo-leptos' environment when present, else the defaults the
/// workspace metadata names, so the binary also runs on its own from the workspace root.
/// Hashed file names are on when cargo-leptos says so, or when its list of them (hash.txt) lies
/// beside the binary, where leptos reads it.
pub fn leptos_options(site_addr: SocketAddr) -> LeptosOptions {
    let env = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
    let hash_file = env("LEPTOS_HASH_FILE_NAME", "hash.txt");
    let hash_files = match std::env::var("LEPTOS_HASH_FILES") {
        Ok(value) => value == "true",
        Err(_) => std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(|dir| dir.join(&hash_file)))
            .is_some_and(|path| path.is_file()),
    };
    LeptosOptions::builder()
        .output_name(env("LEPTOS_OUTPUT_NAME", "csp-dashboard"))
        .site_root(env("LEPTOS_SITE_ROOT", "target/site"))
        .site_pkg_dir(env("LEPTOS_SITE_PKG_DIR", "pkg"))
        .hash_file(std::sync::Arc::<str>::from(hash_file))
        .hash_files(hash_files)
        .site_addr(site_addr)
        .build()
}

/// Builds the server. In demo mode `sim_config` overrides the simulator's settings (tests use
/// it); otherwise they come from `DASHBOARD_SIM_*`. The render deadline comes from
/// `DASHBOARD_RENDER_DEADLINE_SECS`.
pub async fn build(
    config: Config,
    sim_config: Option<SimConfig>,
) -> Result<Dashboard, StartupError> {
    let render_deadline = RenderDeadline::from_env()?;
    build_with(config, sim_config, render_deadline).await
}

/// [`build`] with the render deadline given.
pub async fn build_with(
    config: Config,
    sim_config: Option<SimConfig>,
    render_deadline: RenderDeadline,
) -> Result<Dashboard, StartupError> {
    let (endpoints, simulator) = match &config.upstream {
        Upstream::Configured(endpoints) => ((**endpoints).clone(), None),
        Upstream::Demo => {
            let sim_config = match sim_config {
                Some(c) => c,
                None => SimConfig::from_env(config.public_url.clone())?,
            };
            let endpoints = demo_endpoints(&config, &sim_config)?;
            (endpoints, Some(Simulator::new(sim_config)))
        }
    };
    let endpoints_authority = endpoints.authority.clone();
    let metrics_addr = config.metrics_addr;
    let leptos_options = leptos_options(config.bind_addr);
    let allowed_origin = AllowedOrigin::from_public_url(&config.public_url);
    let secure_cookies = config.secure_cookies();
    let browser_policy = BrowserPolicy {
        https: secure_cookies,
    };
    let state = AppState::build(config, endpoints, leptos_options.clone()).await?;

    let session_store = state.storage.session_store();
    tokio::spawn(
        session_store
            .clone()
            .continuously_delete_expired(tokio::time::Duration::from_secs(3600)),
    );
    let sessions = SessionManagerLayer::new(session_store)
        .with_name(if secure_cookies {
            SECURE_SESSION_COOKIE
        } else {
            SESSION_COOKIE
        })
        .with_path("/")
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(secure_cookies)
        .with_expiry(Expiry::OnInactivity(
            tower_sessions::cookie::time::Duration::hours(8),
        ));

    let routes = route_list();
    let context_state = state.clone();
    let page_policy = PagePolicy::new(&endpoints_authority);
    let provide_state = move || {
        provide_context(context_state.clone());
        provide_context(page_policy.clone());
        provide_context(app::ssr::access::RolesOfRequest::default());
        leptos::nonce::provide_nonce();
    };
    let provide_for_errors = provide_state.clone();
    let shell_options = leptos_options.clone();
    // The pages have a render deadline; the other routes are not page renders. The fallback
    // (static files, and the 404 page) is added after the layer, outside it: under the deadline
    // the site's own JavaScript and wasm reached browsers cut off (ERR_INCOMPLETE_CHUNKED_ENCODING).
    let pages = Router::new()
        .leptos_routes_with_context(&state, routes, provide_state, move || {
            shell(shell_options.clone())
        })
        .layer(axum::middleware::from_fn_with_state(
            render_deadline,
            deadline::render_deadline,
        ))
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(provide_for_errors, shell));
    let dashboard = Router::new()
        .route("/healthz", get(healthz))
        .merge(app::ssr::http::routes())
        .route(
            "/api/{*fn_name}",
            get(server_fn_handler).post(server_fn_handler),
        )
        .merge(pages)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            app::ssr::http::jobs::json_middleware,
        ))
        .layer(axum::middleware::from_fn(server_fn_status))
        .layer(compression())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            app::ssr::http::sign_in::enforce_session_lifetime,
        ))
        .layer(sessions)
        .layer(axum::middleware::from_fn_with_state(
            browser_policy,
            security_headers,
        ))
        .layer(axum::middleware::from_fn_with_state(
            allowed_origin,
            reject_cross_origin,
        ))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(256 * 1024));
    let dashboard = observability::access_log(dashboard).with_state(state.clone());

    let router = match &simulator {
        Some(sim) => sim.router().merge(dashboard),
        None => dashboard,
    };
    let metrics = match metrics_addr {
        Some(addr) => {
            let handle = observability::prometheus().map_err(StartupError::Metrics)?;
            Some((addr, observability::metrics_router(handle, state.clone())))
        }
        None => None,
    };
    Ok(Dashboard {
        router,
        state,
        simulator,
        metrics,
    })
}

/// The wasm, scripts, styles and CSV exports go out gzip-compressed to clients that accept it
/// (the release wasm shrinks to about a third): they are large, and the same for every visitor
/// or downloaded once. Pages and server-function answers are rendered per request; they are left
/// as they are rather than spend CPU on each one.
fn compression() -> CompressionLayer<impl Predicate> {
    fn is_asset_or_export(_: StatusCode, _: Version, headers: &HeaderMap, _: &Extensions) -> bool {
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        [
            "application/wasm",
            "text/javascript",
            "application/javascript",
            "text/css",
            "text/csv",
        ]
        .iter()
        .any(|compressible| content_type.starts_with(compressible))
    }
    CompressionLayer::new()
        .gzip(true)
        .compress_when(DefaultPredicate::new().and(is_asset_or_export))
}

fn demo_endpoints(config: &Config, sim: &SimConfig) -> Result<Endpoints, StartupError> {
    let parse = |variable: &'static str, value: String| {
        url::Url::parse(&value).map_err(|e| ConfigError {
            variable,
            problem: format!("simulator address '{value}': {e}"),
        })
    };
    Ok(Endpoints {
        authority: parse("DASHBOARD_PUBLIC_URL", sim.authority())?,
        client_id: sim.client_id.clone(),
        client_secret: sim.client_secret.clone(),
        redirect_url: config
            .public_url
            .join("auth/callback")
            .map_err(|e| ConfigError {
                variable: "DASHBOARD_PUBLIC_URL",
                problem: e.to_string(),
            })?,
        partner_center_url: parse("DASHBOARD_PUBLIC_URL", sim.partner_center_base())?,
        admin_api_url: parse("DASHBOARD_PUBLIC_URL", sim.admin_api_base())?,
        graph_url: parse("DASHBOARD_PUBLIC_URL", sim.graph_base())?,
        partner_tenant_id: simulator::PARTNER_TENANT_ID.to_ascii_lowercase(),
    })
}

async fn server_fn_handler(
    State(state): State<AppState>,
    request: axum::extract::Request,
) -> axum::response::Response {
    leptos_axum::handle_server_fns_with_context(move || provide_context(state.clone()), request)
        .await
        .into_response()
}

/// Server functions (Leptos registers each under `/api/`): see `with_error_status`.
async fn server_fn_status(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let is_server_fn = request.uri().path().starts_with("/api/");
    let response = next.run(request).await;
    if is_server_fn {
        with_error_status(response).await
    } else {
        response
    }
}

/// Errors raised before a server function runs (arguments that do not parse, a body over the
/// limit) leave the framework's 500; the typed error in the body knows its real status.
async fn with_error_status(response: axum::response::Response) -> axum::response::Response {
    if response.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "unreadable error").into_response();
    };
    if let Ok(error) = serde_json::from_slice::<app::error::AppError>(&bytes) {
        if let Ok(status) = StatusCode::from_u16(error.status_code()) {
            parts.status = status;
        }
    }
    axum::response::Response::from_parts(parts, axum::body::Body::from(bytes))
}

async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    match state.storage.ping().await {
        Ok(()) => (StatusCode::OK, "ok").into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check: database does not answer");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
        }
    }
}

/// Binds and serves until the process ends.
pub async fn serve(dashboard: Dashboard, addr: SocketAddr) -> Result<(), StartupError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| StartupError::Bind { addr, source })?;
    serve_on(dashboard, listener).await
}

pub async fn serve_on(
    dashboard: Dashboard,
    listener: tokio::net::TcpListener,
) -> Result<(), StartupError> {
    let addr = listener.local_addr().map_err(|source| StartupError::Bind {
        addr: SocketAddr::from(([0, 0, 0, 0], 0)),
        source,
    })?;
    if let Some((metrics_addr, metrics)) = dashboard.metrics {
        let metrics_listener =
            tokio::net::TcpListener::bind(metrics_addr)
                .await
                .map_err(|source| StartupError::Bind {
                    addr: metrics_addr,
                    source,
                })?;
        tracing::info!("metrics served on http://{metrics_addr}/metrics");
        tokio::spawn(async move {
            if let Err(error) = axum::serve(metrics_listener, metrics).await {
                tracing::error!(%error, "the metrics listener stopped");
            }
        });
    }
    // Once listening (the in-process simulator answers on this socket too), background work a
    // previous process left unfinished continues.
    let state = dashboard.state.clone();
    app::ssr::background::spawn_supervisor(state);
    // Pages go out in several chunks; with Nagle's algorithm a chunk can wait ~40 ms for a
    // delayed ACK (seen as p99 spikes in the customers benchmark).
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%error, "could not set TCP_NODELAY");
        }
    });
    axum::serve(listener, dashboard.router)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|source| StartupError::Bind { addr, source })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
