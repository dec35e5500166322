//! The one `AppState`: built once at start-up (HTTP client, pool, authority, token broker) and
//! provided to server functions as context.

use super::auth::oidc::Authority;
use super::auth::seal::{load_or_create_key_file, Sealer};
use super::auth::tokens::TokenBroker;
use super::config::{Config, Endpoints, TokenKeySource};
use super::customers::cache::CustomersService;
use super::graph::GraphClient;
use super::jobs::runtime::JobsRuntime;
use super::partner_center::PartnerCenterClient;
use super::storage::{Storage, StorageError};
use crate::error::AppError;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub config: Arc<Config>,
    pub storage: Storage,
    pub authority: Arc<Authority>,
    pub tokens: Arc<TokenBroker>,
    pub partner_center: PartnerCenterClient,
    /// Microsoft Graph (GDAP relationships), on the same HTTP client.
    pub graph: GraphClient,
    pub customers: Arc<CustomersService>,
    pub jobs: Arc<JobsRuntime>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("token encryption key file: {0}")]
    KeyFile(std::io::Error),
    #[error("HTTP client: {0}")]
    Http(reqwest::Error),
}

impl AppState {
    /// `endpoints` are Microsoft's (configured) or the in-process simulator's (demo mode).
    pub async fn build(
        config: Config,
        endpoints: Endpoints,
        leptos_options: LeptosOptions,
    ) -> Result<Self, StateError> {
        let storage = Storage::open(&config.database_url).await?;
        let key = match &config.token_key {
            TokenKeySource::Key(key) => *key,
            TokenKeySource::File(path) => {
                load_or_create_key_file(path).map_err(StateError::KeyFile)?
            }
        };
        // Redirects off: OAuth endpoints must not be followed elsewhere with secrets attached.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .user_agent(concat!("csp-dashboard/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(StateError::Http)?;
        let authority = Arc::new(Authority::new(
            http.clone(),
            endpoints.authority.clone(),
            endpoints.client_id.clone(),
            endpoints.client_secret.clone(),
            endpoints.redirect_url.clone(),
            endpoints.partner_tenant_id.clone(),
        ));
        let tokens = TokenBroker::new(authority.clone(), storage.clone(), Sealer::new(&key));
        let graph = GraphClient::new(http.clone(), endpoints.graph_url.clone());
        let partner_center = PartnerCenterClient::new(
            http,
            endpoints.partner_center_url.clone(),
            endpoints.admin_api_url.clone(),
        );
        let jobs = Arc::new(JobsRuntime::new(&config, &storage));
        Ok(AppState {
            leptos_options,
            jobs,
            config: Arc::new(config),
            storage,
            authority,
            tokens,
            partner_center,
            graph,
            customers: Arc::default(),
        })
    }

    /// For server functions.
    pub fn from_context() -> Result<Self, AppError> {
        leptos::prelude::use_context::<AppState>()
            .ok_or_else(|| AppError::Internal("application state missing".into()))
    }
}
