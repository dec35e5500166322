//! What a process holds of the customers: the latest snapshot in memory and the sync under way.
//! Only storage is needed here, so the application state can hold it; what needs the whole
//! state (syncing, the view) is implemented beside it, in `customers` and `customers::sync`.

use super::snapshot::{self, Snapshot};
use crate::error::AppError;
use crate::model::customers::{SnapshotInfo, SyncFailure, SyncProgress, SyncStatus};
use crate::ssr::storage::Storage;
use futures::future::{BoxFuture, Shared};
use parking_lot::Mutex;
use std::sync::Arc;

/// Held in `AppState`: the in-memory copy of the latest snapshot and the sync in progress.
#[derive(Default)]
pub struct CustomersService {
    /// The snapshot and the revision it was loaded at.
    cached: Mutex<Option<(i64, Arc<Snapshot>)>>,
    pub(super) sync: SyncManager,
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

pub(super) type SyncOutcome = Shared<BoxFuture<'static, Result<SnapshotInfo, AppError>>>;

pub(super) struct Running {
    pub(super) progress: Arc<Mutex<SyncProgress>>,
    pub(super) outcome: SyncOutcome,
}

#[derive(Default)]
pub(super) struct SyncState {
    pub(super) running: Option<Running>,
    pub(super) last_failure: Option<SyncFailure>,
}

/// One sync at a time per instance; callers that arrive while one runs share its outcome.
#[derive(Default)]
pub struct SyncManager {
    pub(super) state: Arc<Mutex<SyncState>>,
}

impl SyncManager {
    pub fn status(&self, snapshot: Option<SnapshotInfo>) -> SyncStatus {
        let state = self.state.lock();
        SyncStatus {
            running: state.running.as_ref().map(|r| r.progress.lock().clone()),
            last_failure: state.last_failure.clone(),
            snapshot,
        }
    }
}
