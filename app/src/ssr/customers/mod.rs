//! Delegated-admin customers: a snapshot of the Partner Customer Administration API's list, kept
//! in the database and in memory, synced with the admin's own token, and filtered for the view
//! and the CSV export.

pub(crate) mod cache;
mod prepared;
pub(crate) mod record;
pub mod snapshot;
pub mod sync;
pub mod view;

pub use cache::CustomersService;
pub use record::{CustomerRecord, NOT_READ};

use super::auth::SessionUser;
use super::state::AppState;
use super::storage::Storage;
use crate::error::AppError;
use crate::model::customers::{CustomerQuery, CustomersView, SyncStatus};
use snapshot::Snapshot;
use std::sync::Arc;
use time::OffsetDateTime;

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

impl CustomersService {
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
        let shown: Vec<&str> = view
            .rows
            .iter()
            .map(|row| row.customer_tenant_id.as_str())
            .collect();
        let consents = crate::ssr::consent::consents_of(state, &shown).await?;
        for row in &mut view.rows {
            row.consented_applications = consents
                .get(&row.customer_tenant_id)
                .copied()
                .unwrap_or_default();
        }
        view.show_first_steps = !first_steps_hidden(state, user).await?;
        Ok(view)
    }
}
