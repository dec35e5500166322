//! Delegated-admin customers: a snapshot of the Partner Customer Administration API's list, kept
//! in the database and in memory, synced with the admin's own token, and filtered for the view
//! and the CSV export.

pub mod snapshot;
pub mod sync;
pub mod view;

use super::auth::SessionUser;
use super::partner_center::models::DelegatedAdminCustomer;
use super::state::AppState;
use super::storage::Storage;
use crate::error::AppError;
use crate::model::customers::{CustomerQuery, CustomersView, SyncStatus};
use crate::model::gdap::Coverage;
use crate::ssr::clock::parse_time;
use parking_lot::Mutex;
use snapshot::Snapshot;
use std::sync::Arc;
use sync::SyncManager;
use time::OffsetDateTime;

/// The reason of a customer whose GDAP has not been read.
pub const NOT_READ: &str = "GDAP has not been read for this customer.";

/// One customer as stored in a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerRecord {
    pub tenant_id: String,
    pub name: String,
    /// Trimmed, lower-cased name: for search and sorting.
    pub name_folded: String,
    pub dap_enabled: bool,
    pub dap_since: Option<OffsetDateTime>,
    pub dap_ended: Option<OffsetDateTime>,
    pub last_sign_in: Option<OffsetDateTime>,
    pub partner_agent_count: u32,
    pub partner_sign_in_count: u32,
    pub global_admin_sign_in_count: u32,
    /// GDAP coverage as of the sync, and its reasons (one per line).
    pub gdap: Coverage,
    pub gdap_reasons: String,
}

impl CustomerRecord {
    pub fn from_upstream(customer: DelegatedAdminCustomer) -> Self {
        CustomerRecord {
            tenant_id: customer.customer_tenant_id.trim().to_ascii_lowercase(),
            name_folded: customer.organization_display_name.trim().to_lowercase(),
            name: customer.organization_display_name,
            dap_enabled: customer.dap_enabled,
            dap_since: parse_time(customer.start_date_time.as_deref()),
            dap_ended: parse_time(customer.end_date_time.as_deref()),
            last_sign_in: parse_time(customer.last_sign_in_date_time.as_deref()),
            partner_agent_count: customer.partner_agent_count,
            partner_sign_in_count: customer.partner_sign_in_count,
            global_admin_sign_in_count: customer.global_admin_sign_in_count,
            gdap: Coverage::Unknown,
            gdap_reasons: NOT_READ.to_string(),
        }
    }
}

/// The customers page's "what to do first", by its name in `dismissed_hints`.
const FIRST_STEPS: &str = "customers-first-steps";

async fn first_steps_hidden(state: &AppState, user: &SessionUser) -> Result<bool, AppError> {
    let hidden: Option<i64> = sqlx::query_scalar(
        "SELECT dismissed_at_ms FROM dismissed_hints WHERE user_key = $1 AND hint = $2",
    )
    .bind(&user.user_key)
    .bind(FIRST_STEPS)
    .fetch_optional(&state.storage.pool)
    .await?;
    Ok(hidden.is_some())
}

/// Hides the customers page's "what to do first" for this admin, in every browser.
pub async fn hide_first_steps(state: &AppState, user: &SessionUser) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO dismissed_hints (user_key, hint, dismissed_at_ms) VALUES ($1, $2, $3)
         ON CONFLICT (user_key, hint) DO NOTHING",
    )
    .bind(&user.user_key)
    .bind(FIRST_STEPS)
    .bind(crate::ssr::clock::now_ms())
    .execute(&state.storage.pool)
    .await?;
    Ok(())
}

/// Held in `AppState`: the in-memory copy of the latest snapshot and the sync in progress.
#[derive(Default)]
pub struct CustomersService {
    /// The snapshot and the revision it was loaded at.
    cached: Mutex<Option<(i64, Arc<Snapshot>)>>,
    sync: SyncManager,
}

impl CustomersService {
    /// The latest complete snapshot. The database decides which one is latest (so several
    /// instances agree); memory only saves reloading it.
    pub async fn current(&self, storage: &Storage) -> Result<Option<Arc<Snapshot>>, AppError> {
        let Some((latest, revision)) = snapshot::latest_id(storage).await? else {
            return Ok(None);
        };
        if let Some((cached_revision, cached)) = self.cached.lock().as_ref() {
            if cached.info.id == latest && *cached_revision == revision {
                return Ok(Some(cached.clone()));
            }
        }
        let Some(loaded) = snapshot::load(storage, &latest).await? else {
            return Ok(None);
        };
        let loaded = Arc::new(loaded);
        *self.cached.lock() = Some((revision, loaded.clone()));
        Ok(Some(loaded))
    }

    /// Keeps a snapshot just stored, so the next read does not load it back.
    pub fn install(&self, snapshot: Snapshot) {
        *self.cached.lock() = Some((0, Arc::new(snapshot)));
    }

    /// The latest snapshot; on the very first visit there is none, so this syncs and waits.
    pub async fn current_or_sync(
        &self,
        state: &AppState,
        user: &SessionUser,
    ) -> Result<Arc<Snapshot>, AppError> {
        if let Some(snapshot) = self.current(&state.storage).await? {
            return Ok(snapshot);
        }
        self.sync.start(state, user).await?;
        self.current(&state.storage).await?.ok_or_else(|| {
            AppError::Internal("the customers snapshot vanished after a sync".into())
        })
    }

    /// Starts a sync unless one is running, and returns at once.
    pub fn start_sync(&self, state: &AppState, user: &SessionUser) {
        drop(self.sync.start(state, user));
    }

    pub async fn sync_status(&self, storage: &Storage) -> Result<SyncStatus, AppError> {
        let snapshot = self.current(storage).await?.map(|s| s.info.clone());
        Ok(self.sync.status(snapshot))
    }

    pub async fn view(
        &self,
        state: &AppState,
        user: &SessionUser,
        query: &CustomerQuery,
    ) -> Result<CustomersView, AppError> {
        let snapshot = self.current_or_sync(state, user).await?;
        let mut view = view::render(&snapshot, query, OffsetDateTime::now_utc());
        let consents = crate::ssr::consent::consents_per_customer(state).await?;
        for row in &mut view.rows {
            row.consented_applications = consents
                .get(&row.customer_tenant_id)
                .copied()
                .unwrap_or_default();
        }
        view.show_first_steps = !first_steps_hidden(state, user).await?;
        Ok(view)
    }

    /// The organisation name of a customer, when the latest snapshot has it.
    pub async fn name_of(&self, storage: &Storage, tenant_id: &str) -> Option<String> {
        let snapshot = self.current(storage).await.ok()??;
        snapshot
            .customers
            .iter()
            .find(|c| c.tenant_id == tenant_id)
            .map(|c| c.name.clone())
    }
}
