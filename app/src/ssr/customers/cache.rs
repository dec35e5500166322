//! What a process holds of the customers: the latest snapshot in memory and the sync under way.
//! Only storage is needed here, so the application state can hold it; what needs the whole
//! state (syncing, the view) is implemented beside it, in `customers` and `customers::sync`.

use super::record::CustomerRecord;
use super::snapshot::{self, Snapshot};
use crate::error::AppError;
use crate::model::customers::{SnapshotInfo, SyncFailure, SyncProgress, SyncStatus};
use crate::ssr::storage::Storage;
use futures::future::{BoxFuture, Shared};
use parking_lot::Mutex;
use std::sync::Arc;
use time::OffsetDateTime;

/// Held in `AppState`: the in-memory copy of the latest snapshot and the sync in progress.
#[derive(Default)]
pub struct CustomersService {
    /// The snapshot and the revision it was loaded at.
    cached: Mutex<Option<(i64, Arc<Snapshot>)>>,
    /// Held while a snapshot is loaded, or stored and kept: a caller who misses the cache meanwhile
    /// waits for that snapshot instead of reading its own copy (seconds and a connection each at
    /// 100,000 customers).
    loading: tokio::sync::Mutex<()>,
    pub(super) sync: SyncManager,
}

impl CustomersService {
    /// The latest complete snapshot. The database decides which one is latest (so several
    /// instances agree); memory only saves reloading it.
    pub async fn current(&self, storage: &Storage) -> Result<Option<Arc<Snapshot>>, AppError> {
        let Some((latest, revision)) = snapshot::latest_id(storage).await? else {
            return Ok(None);
        };
        if let Some(cached) = self.cached_at(&latest, revision) {
            return Ok(Some(cached));
        }
        let _loading = self.loading.lock().await;
        // A sync may have stored a newer one while this waited.
        let Some((latest, revision)) = snapshot::latest_id(storage).await? else {
            return Ok(None);
        };
        if let Some(cached) = self.cached_at(&latest, revision) {
            return Ok(Some(cached));
        }
        let Some(loaded) = snapshot::load(storage, &latest).await? else {
            return Ok(None);
        };
        let loaded = Arc::new(loaded);
        *self.cached.lock() = Some((revision, loaded.clone()));
        Ok(Some(loaded))
    }

    fn cached_at(&self, id: &str, revision: i64) -> Option<Arc<Snapshot>> {
        match self.cached.lock().as_ref() {
            Some((cached_revision, cached))
                if cached.info.id == id && *cached_revision == revision =>
            {
                Some(cached.clone())
            }
            _ => None,
        }
    }

    /// Stores a new snapshot and keeps it in memory, so no reader loads back what was just
    /// written: one who sees the new id before it is kept waits for it.
    pub async fn store(
        &self,
        storage: &Storage,
        synced_by: &str,
        customers: Vec<CustomerRecord>,
        synced_at: OffsetDateTime,
    ) -> Result<SnapshotInfo, AppError> {
        let _loading = self.loading.lock().await;
        let info = snapshot::save(storage, synced_by, &customers, synced_at).await?;
        // A new snapshot starts at revision 0 in the database too.
        *self.cached.lock() = Some((0, Arc::new(Snapshot::new(info.clone(), customers))));
        Ok(info)
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
