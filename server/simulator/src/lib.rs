//! Partner Center + Entra ID simulator.
//!
//! A faithful, in-process stand-in for the services a Microsoft CSP partner dashboard talks to:
//!
//! - the Partner Center REST API (`/_sim/partnercenter/v1`): directory roles and members,
//!   customer users, CPV application consents, removing DAP;
//! - the Partner Customer Administration API (`/_sim/pcsvcadmin/CustomerServiceAdminApi/Web/v1`):
//!   the `delegatedAdminCustomers` list with OData options;
//! - Microsoft Graph's GDAP relationships (`/_sim/graph/v1.0/tenantRelationships/...`):
//!   delegatedAdminRelationships, their accessAssignments and delegatedAdminCustomers;
//! - an Entra ID OIDC authority for the partner tenant (`/_sim/login/{tenant}/v2.0`) with a
//!   demo-account picker, PKCE, signed tokens and refresh tokens.
//!
//! The dashboard reaches it over real HTTP with the same code it uses for Microsoft, so paths,
//! payloads, headers and errors follow the shared API reference. Data is generated from a seed:
//! customers eagerly at start-up, each customer's directory lazily on first use, then mutated by
//! the API calls. Faults (latency, error statuses, dropped connections) can be injected at start
//! or at run time. `GET /_sim/state` exposes the state for tests.

mod admin_api;
mod api;
mod auth;
mod config;
mod control;
mod data;
mod errors;
mod faults;
mod gdap;
mod graph;
mod html;
mod idempotency;
mod odata;
mod oidc;
mod partner;
mod pipeline;
mod rate_limit;
mod rng;
mod store;
mod timefmt;
mod tokens;

#[cfg(test)]
mod tests;

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use axum::routing::{any, delete, get, patch, post, put};
use axum::Router;
use parking_lot::{Mutex, RwLock};
use time::OffsetDateTime;

pub use config::{
    SimConfig, SimConfigError, ADMIN_API_AUDIENCE, DEMO_CLIENT_ID, GRAPH_AUDIENCE, MAX_CUSTOMERS,
    PARTNER_CENTER_AUDIENCE, PARTNER_TENANT_ID,
};
pub use faults::FaultConfig;
pub use partner::{DemoUser, REVIEW_APPROVER_ROLE};

use crate::oidc::OidcState;
use crate::partner::PARTNER_USERS;
use crate::rate_limit::RateLimiter;
use crate::store::Store;
use crate::tokens::SigningKeys;

/// The simulator: cheap to clone (shared state inside), serves its routes via [`Simulator::router`].
#[derive(Clone)]
pub struct Simulator {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub config: SimConfig,
    pub keys: SigningKeys,
    pub store: Mutex<Store>,
    pub oidc: Mutex<OidcState>,
    pub faults: RwLock<FaultConfig>,
    pub consent_limiter: Mutex<RateLimiter>,
    pub counters: Counters,
    /// GDAP relationships, generated on first use (see [`Simulator::gdap`]).
    pub gdap: Mutex<Option<gdap::GdapWorld>>,
    /// Test control: id tokens carry this `tid` instead of the partner tenant's.
    pub id_token_tenant: RwLock<Option<String>>,
}

/// Event counters reported in `/_sim/state`.
#[derive(Default)]
pub(crate) struct Counters {
    pub authorization_code_grants: AtomicU64,
    pub refresh_token_grants: AtomicU64,
    pub throttled: AtomicU64,
    pub injected_faults: AtomicU64,
    /// Every call to any simulated API (Graph included).
    pub api_calls: AtomicU64,
    /// Calls to Microsoft Graph alone, so tests can count the other APIs' calls apart.
    pub graph_calls: AtomicU64,
}

impl Simulator {
    /// Builds the world from `config`. Out-of-range settings are clamped (the customer count to
    /// `1..=100_000`) and invalid fault settings replaced by none, with a warning, since this
    /// constructor cannot fail; [`SimConfig::from_env`] reports such values as errors instead.
    pub fn new(mut config: SimConfig) -> Self {
        if !(1..=MAX_CUSTOMERS).contains(&config.customers) {
            tracing::warn!(
                customers = config.customers,
                "customer count out of range; clamped to 1..={MAX_CUSTOMERS}"
            );
            config.customers = config.customers.clamp(1, MAX_CUSTOMERS);
        }
        if let Err(problem) = config.faults.validate() {
            tracing::warn!(%problem, "invalid fault configuration ignored");
            config.faults = FaultConfig::default();
        }
        let customers =
            data::generate_customers(config.seed, config.customers, OffsetDateTime::now_utc());
        let inner = Inner {
            keys: SigningKeys::generate(),
            store: Mutex::new(Store::new(config.seed, customers)),
            oidc: Mutex::new(OidcState::default()),
            faults: RwLock::new(config.faults.clone()),
            consent_limiter: Mutex::new(RateLimiter::new(config.consent_rate_limit_per_second)),
            counters: Counters::default(),
            gdap: Mutex::new(None),
            id_token_tenant: RwLock::new(None),
            config,
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    /// The configuration the simulator runs with.
    pub fn config(&self) -> &SimConfig {
        &self.inner.config
    }

    /// All routes, under `/_sim/`, with state applied. Sets no router-wide fallback, so it can
    /// be merged into an application router that has one.
    pub fn router(&self) -> Router {
        const PC: &str = "/_sim/partnercenter/v1/customers";
        const ADMIN: &str = "/_sim/pcsvcadmin/CustomerServiceAdminApi/Web/v1";
        const LOGIN: &str = "/_sim/login/{tenant}";
        const GRAPH: &str = "/_sim/graph/v1.0/tenantRelationships";
        Router::new()
            .route("/_sim", get(control::index))
            .route("/_sim/", get(control::index))
            .route("/_sim/state", get(control::state))
            .route(
                "/_sim/faults",
                get(control::get_faults).put(control::put_faults),
            )
            .route("/_sim/refresh-tokens/revoke", post(control::revoke))
            .route("/_sim/app-roles", put(control::put_app_roles))
            .route(
                "/_sim/gdap/relationships/{relationship}/terminate",
                post(control::terminate_relationship),
            )
            .route(
                "/_sim/gdap/relationships/{relationship}/accessAssignments/{assignment}/delete",
                post(control::delete_assignment),
            )
            .route(
                &format!("{LOGIN}/v2.0/.well-known/openid-configuration"),
                get(oidc::discovery),
            )
            .route(&format!("{LOGIN}/discovery/v2.0/keys"), get(oidc::jwks))
            .route(
                &format!("{LOGIN}/oauth2/v2.0/authorize"),
                get(oidc::authorize).post(oidc::authorize),
            )
            .route(&format!("{LOGIN}/oauth2/v2.0/token"), post(oidc::token))
            .route(&format!("{LOGIN}/oauth2/v2.0/logout"), get(oidc::logout))
            .route(&format!("{PC}/{{customer}}"), patch(api::patch_customer))
            .route(&format!("{PC}/{{customer}}/users"), get(api::list_users))
            .route(
                &format!("{PC}/{{customer}}/users/{{user}}/directoryroles"),
                get(api::user_roles),
            )
            .route(
                &format!("{PC}/{{customer}}/directoryroles"),
                get(api::list_roles),
            )
            .route(
                &format!("{PC}/{{customer}}/directoryroles/{{role}}/usermembers"),
                get(api::list_members).post(api::add_member),
            )
            .route(
                &format!("{PC}/{{customer}}/directoryroles/{{role}}/usermembers/{{user}}"),
                delete(api::remove_member),
            )
            .route(
                &format!("{PC}/{{customer}}/applicationconsents"),
                post(api::add_consent),
            )
            .route(
                &format!("{PC}/{{customer}}/applicationconsents/{{application}}"),
                delete(api::remove_consent),
            )
            .route(
                &format!("{ADMIN}/delegatedAdminCustomers"),
                get(admin_api::list),
            )
            .route(
                &format!("{GRAPH}/delegatedAdminRelationships"),
                get(graph::list_relationships),
            )
            .route(
                &format!("{GRAPH}/delegatedAdminRelationships/{{relationship}}"),
                get(graph::get_relationship),
            )
            .route(
                &format!("{GRAPH}/delegatedAdminRelationships/{{relationship}}/accessAssignments"),
                get(graph::list_assignments),
            )
            .route(
                &format!("{GRAPH}/delegatedAdminCustomers"),
                get(graph::list_customers),
            )
            .route("/_sim/graph/{*rest}", any(control::api_not_found))
            .route("/_sim/partnercenter/{*rest}", any(control::api_not_found))
            .route("/_sim/pcsvcadmin/{*rest}", any(control::api_not_found))
            .method_not_allowed_fallback(control::method_not_allowed)
            .route_layer(axum::middleware::from_fn_with_state(
                self.clone(),
                pipeline::api_pipeline,
            ))
            .with_state(self.clone())
    }

    /// Replaces the fault settings at run time (invalid settings are ignored with a warning).
    pub fn set_faults(&self, faults: FaultConfig) {
        match faults.validate() {
            Ok(()) => *self.inner.faults.write() = faults,
            Err(problem) => tracing::warn!(%problem, "invalid fault configuration ignored"),
        }
    }

    /// Test control: until reset with `None`, every id token names `tenant` as its `tid`, as
    /// when an account of another organisation signs in through a multi-tenant authority.
    pub fn set_id_token_tenant(&self, tenant: Option<&str>) {
        *self.inner.id_token_tenant.write() = tenant.map(str::to_owned);
    }

    /// The current fault settings.
    pub fn faults(&self) -> FaultConfig {
        self.inner.faults.read().clone()
    }

    /// The partner users that can sign in, with a description of their rights.
    pub fn demo_users(&self) -> Vec<DemoUser> {
        PARTNER_USERS.iter().map(|u| u.to_public()).collect()
    }
}

/// Serves only the simulator on `listener` (for pointing the dashboard at it through normal
/// configuration). `/` redirects to the index page.
pub async fn serve_standalone(
    config: SimConfig,
    listener: tokio::net::TcpListener,
) -> std::io::Result<()> {
    let simulator = Simulator::new(config);
    tracing::info!(
        authority = %simulator.config().authority(),
        partner_center = %simulator.config().partner_center_base(),
        admin_api = %simulator.config().admin_api_base(),
        graph = %simulator.config().graph_base(),
        "Partner Center simulator listening"
    );
    let app = simulator.router().route(
        "/",
        get(|| async { axum::response::Redirect::temporary("/_sim/") }),
    );
    axum::serve(listener, app).await
}
