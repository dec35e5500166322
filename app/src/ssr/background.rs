//! Background work that outlives the request that started it: bulk jobs and privileged-role
//! reports. Several instances may share one database, so each piece of work is held by one
//! instance at a time through a lease on its row: `claimed_by` names the instance and
//! `claimed_until_ms` is renewed every second while it runs.
//!
//! Claims take row locks: on PostgreSQL the candidate rows are locked `FOR UPDATE SKIP LOCKED`,
//! so two instances polling at the same moment never wait on or take the same row; on SQLite the
//! single UPDATE runs under the database's one writer lock. An instance that dies stops renewing,
//! its lease lapses, and the next instance to poll (or the same one restarted) takes the work over
//! and continues with what is still pending.

use super::state::AppState;
use super::storage::{now_ms, Backend, Storage};
use crate::error::AppError;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How long a claim holds without renewal.
pub const LEASE: Duration = Duration::from_secs(10);
const RENEW_EVERY: Duration = Duration::from_secs(1);
/// How often an instance looks for work to take over when nothing wakes it.
const POLL_EVERY: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work {
    Job,
    RoleReport,
}

impl Work {
    fn table(self) -> &'static str {
        match self {
            Work::Job => "jobs",
            Work::RoleReport => "role_reports",
        }
    }

    fn created_column(self) -> &'static str {
        match self {
            Work::Job => "created_at_ms",
            Work::RoleReport => "started_at_ms",
        }
    }
}

fn db(error: sqlx::Error) -> AppError {
    AppError::Internal(format!("background work storage failed: {error}"))
}

fn lease_ms() -> i64 {
    i64::try_from(LEASE.as_millis()).unwrap_or(10_000)
}

/// Which unfinished rows a claim may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claimable {
    /// Nobody holds them (new, retried or released), or their holder's lease lapsed.
    Unheld,
    /// Also those this instance held before it restarted: at start-up nothing runs here yet, so
    /// they need not wait for their lease to lapse.
    UnheldOrMine,
}

/// Claims every unfinished row of `work` that `claimable` allows, oldest first; returns their
/// ids. The caller runs them and keeps each lease with [`keep_renewed`].
pub async fn claim_available(
    storage: &Storage,
    work: Work,
    instance: &str,
    claimable: Claimable,
) -> Result<Vec<String>, AppError> {
    let lock = match storage.backend {
        Backend::Postgres => "FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    let mine = match claimable {
        Claimable::Unheld => "",
        Claimable::UnheldOrMine => "OR claimed_by = $1",
    };
    let (table, created) = (work.table(), work.created_column());
    let sql = format!(
        "UPDATE {table} SET claimed_by = $1, claimed_until_ms = $2 WHERE id IN (
             SELECT id FROM {table} WHERE finished_at_ms IS NULL
             AND (claimed_until_ms IS NULL OR claimed_until_ms < $3 {mine})
             ORDER BY {created} {lock})
         RETURNING id"
    );
    let now = now_ms();
    sqlx::query_scalar(&sql)
        .bind(instance)
        .bind(now + lease_ms())
        .bind(now)
        .fetch_all(&storage.pool)
        .await
        .map_err(db)
}

/// Extends this instance's lease; false when another instance holds the row now (or it is
/// finished).
pub async fn renew(state: &AppState, work: Work, id: &str) -> Result<bool, AppError> {
    let sql = format!(
        "UPDATE {} SET claimed_until_ms = $1 WHERE id = $2 AND claimed_by = $3
         AND finished_at_ms IS NULL",
        work.table()
    );
    Ok(sqlx::query(&sql)
        .bind(now_ms() + lease_ms())
        .bind(id)
        .bind(&state.jobs.instance_id)
        .execute(&state.storage.pool)
        .await
        .map_err(db)?
        .rows_affected()
        == 1)
}

/// Gives the row up unfinished, for the next poll (here or elsewhere) to take again.
pub async fn release(state: &AppState, work: Work, id: &str) -> Result<(), AppError> {
    let sql = format!(
        "UPDATE {} SET claimed_until_ms = 0 WHERE id = $1 AND claimed_by = $2",
        work.table()
    );
    sqlx::query(&sql)
        .bind(id)
        .bind(&state.jobs.instance_id)
        .execute(&state.storage.pool)
        .await
        .map_err(db)
        .map(drop)
}

/// Renews the lease every second until dropped. `lost` is set once the row is no longer ours;
/// `after_renewal` runs after each renewal that held (a job checks for a cancel request there).
pub fn keep_renewed<F, Fut>(
    state: &AppState,
    work: Work,
    id: &str,
    lost: Arc<AtomicBool>,
    mut after_renewal: F,
) -> RenewalTask
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let (state, id) = (state.clone(), id.to_string());
    RenewalTask(tokio::spawn(async move {
        while !lost.load(Ordering::Relaxed) {
            tokio::time::sleep(RENEW_EVERY).await;
            match renew(&state, work, &id).await {
                Ok(true) => after_renewal().await,
                Ok(false) => lost.store(true, Ordering::Relaxed),
                Err(error) => tracing::warn!(?work, %id, %error, "could not renew the claim"),
            }
        }
    }))
}

/// Stops renewing when dropped, whichever way the work ends.
pub struct RenewalTask(tokio::task::JoinHandle<()>);

impl Drop for RenewalTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts the loop that claims and runs background work, for the life of the process.
pub fn spawn_supervisor(state: AppState) {
    tokio::spawn(async move {
        let mut claimable = Claimable::UnheldOrMine;
        loop {
            if let Err(error) = super::jobs::runner::claim_and_run(&state, claimable).await {
                tracing::error!(%error, "could not look for jobs to run");
            }
            if let Err(error) = super::reports::claim_and_run(&state, claimable).await {
                tracing::error!(%error, "could not look for reports to run");
            }
            claimable = Claimable::Unheld;
            tokio::select! {
                () = tokio::time::sleep(POLL_EVERY) => {}
                () = state.jobs.woken() => {}
            }
        }
    });
}
