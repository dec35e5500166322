//! The lease on a row of background work: claimed by one instance, renewed every second on the
//! database's clock, fenced by a number every write of the holder checks, and given up or lost.

use crate::error::AppError;
use crate::ssr::clock::now_ms;
use crate::ssr::storage::{Backend, Storage};
use parking_lot::Mutex;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a claim holds without renewal, on the database's clock.
pub const LEASE: Duration = Duration::from_secs(10);
const RENEW_EVERY: Duration = Duration::from_secs(1);
/// The holder stops sending this long before its lease could lapse on the database's clock:
/// time for a call that passed its last check to leave, and for the renewal's own round trip.
const SAFETY_MARGIN: Duration = Duration::from_secs(3);

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

fn lease_ms() -> i64 {
    i64::try_from(LEASE.as_millis()).unwrap_or(10_000)
}

/// The database's clock as Unix milliseconds, in SQL. Leases are compared and set on it alone:
/// the instances' own clocks may disagree by any amount, and an instance whose clock runs ahead
/// would otherwise see every other instance's lease as lapsed and take its work while it runs.
pub fn db_now_ms(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => "CAST(extract(epoch FROM clock_timestamp()) * 1000 AS BIGINT)",
        Backend::Sqlite => "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)",
    }
}

/// This instance's wall clock, for the times it writes for people to read (when an attempt
/// started, when an item finished). Nothing that decides who holds work reads it. Tests skew it
/// to stand for an instance whose clock is wrong.
#[derive(Debug, Default)]
pub struct LocalClock {
    offset_ms: AtomicI64,
}

impl LocalClock {
    pub fn now_ms(&self) -> i64 {
        now_ms().saturating_add(self.offset_ms.load(Ordering::Relaxed))
    }

    /// Makes this instance's clock run `offset_ms` ahead (negative: behind) of the real time.
    pub fn skew(&self, offset_ms: i64) {
        self.offset_ms.store(offset_ms, Ordering::Relaxed);
    }
}

/// Which unfinished rows a claim may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claimable {
    /// Nobody holds them (new, retried or released), or their holder's lease lapsed.
    Unheld,
    /// Also those this instance held before it restarted: at start-up nothing runs here yet, so
    /// they need not wait for their lease to lapse. Only an instance given a fixed
    /// `DASHBOARD_INSTANCE_ID` restarts under the same name.
    UnheldOrMine,
}

/// A row taken by [`claim_available`]: its id and fencing number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub id: String,
    /// Incremented at every claim of the row: every write the holder makes for the work checks,
    /// in the same statement, that it is still the row's, so a holder that lost the row (its
    /// lease lapsed and another instance claimed it) cannot change anything any more.
    pub fence: i64,
}

/// Claims every unfinished row of `work` that `claimable` allows, oldest first. The caller runs
/// them and keeps each lease with [`keep_renewed`].
pub async fn claim_available(
    storage: &Storage,
    work: Work,
    instance: &str,
    claimable: Claimable,
) -> Result<Vec<Claim>, AppError> {
    let lock = match storage.backend {
        Backend::Postgres => "FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    let mine = match claimable {
        Claimable::Unheld => "",
        Claimable::UnheldOrMine => "OR claimed_by = $1",
    };
    let (table, created, now) = (
        work.table(),
        work.created_column(),
        db_now_ms(storage.backend),
    );
    let sql = format!(
        "UPDATE {table} SET claimed_by = $1, claimed_until_ms = {now} + $2,
             claim_fence = claim_fence + 1
         WHERE id IN (
             SELECT id FROM {table} WHERE finished_at_ms IS NULL
             AND (claimed_until_ms IS NULL OR claimed_until_ms < {now} {mine})
             ORDER BY {created} {lock})
         RETURNING id, claim_fence"
    );
    let rows: Vec<(String, i64)> = sqlx::query_as(&sql)
        .bind(instance)
        .bind(lease_ms())
        .fetch_all(&storage.pool)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, fence)| Claim { id, fence })
        .collect())
}

/// This instance's hold on one row, while it runs the work.
#[derive(Debug)]
pub struct Lease {
    pub work: Work,
    pub id: String,
    pub fence: i64,
    lost: AtomicBool,
    /// On this machine's monotonic clock: the lease cannot have lapsed on the database's clock
    /// before then (each renewal that held moves it on, counting from when it was sent).
    send_until: Mutex<Instant>,
}

impl Lease {
    /// A lease taken by a claim sent at `asked`.
    pub fn new(work: Work, claim: Claim, asked: Instant) -> Arc<Lease> {
        Arc::new(Lease {
            work,
            id: claim.id,
            fence: claim.fence,
            lost: AtomicBool::new(false),
            send_until: Mutex::new(Self::deadline_from(asked)),
        })
    }

    fn deadline_from(asked: Instant) -> Instant {
        asked + LEASE.saturating_sub(SAFETY_MARGIN)
    }

    /// Whether the holder may still send calls for this work: the lease was neither lost nor
    /// left unrenewed so long that it may have lapsed.
    pub fn may_send(&self) -> bool {
        !self.lost.load(Ordering::Relaxed) && Instant::now() < *self.send_until.lock()
    }

    /// The row is not (or may no longer be) this instance's: stop at once.
    pub fn lose(&self) {
        self.lost.store(true, Ordering::Relaxed);
    }

    pub fn is_lost(&self) -> bool {
        self.lost.load(Ordering::Relaxed)
    }

    fn renewed(&self, asked: Instant) {
        let mut until = self.send_until.lock();
        *until = (*until).max(Self::deadline_from(asked));
    }
}

/// Extends the lease on the database's clock; false when the row was claimed again since (by
/// another instance, or after a lapse) or is finished.
pub async fn renew(storage: &Storage, lease: &Lease) -> Result<bool, AppError> {
    let sql = format!(
        "UPDATE {} SET claimed_until_ms = {} + $1 WHERE id = $2 AND claim_fence = $3
         AND finished_at_ms IS NULL",
        lease.work.table(),
        db_now_ms(storage.backend)
    );
    Ok(sqlx::query(&sql)
        .bind(lease_ms())
        .bind(&lease.id)
        .bind(lease.fence)
        .execute(&storage.pool)
        .await?
        .rows_affected()
        == 1)
}

/// Gives the row up unfinished, for the next poll (here or elsewhere) to take again.
pub async fn release(storage: &Storage, lease: &Lease) -> Result<(), AppError> {
    let sql = format!(
        "UPDATE {} SET claimed_until_ms = 0 WHERE id = $1 AND claim_fence = $2",
        lease.work.table()
    );
    sqlx::query(&sql)
        .bind(&lease.id)
        .bind(lease.fence)
        .execute(&storage.pool)
        .await?;
    Ok(())
}

/// Renews the lease every second until dropped. The first renewal that fails or finds the row
/// claimed again loses the lease: the work stops sending at once rather than hope the next one
/// holds. A renewal that hangs stops it too, once [`Lease::may_send`]'s deadline passes.
/// `after_renewal` runs after each renewal that held (a job checks for a cancel request there).
pub fn keep_renewed<F, Fut>(
    storage: &Storage,
    lease: Arc<Lease>,
    mut after_renewal: F,
) -> RenewalTask
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let storage = storage.clone();
    RenewalTask(tokio::spawn(async move {
        while !lease.is_lost() {
            tokio::time::sleep(RENEW_EVERY).await;
            let asked = Instant::now();
            match renew(&storage, &lease).await {
                Ok(true) => {
                    lease.renewed(asked);
                    after_renewal().await;
                }
                Ok(false) => lease.lose(),
                Err(error) => {
                    tracing::warn!(work = ?lease.work, id = %lease.id, %error, "could not renew the claim; stopping");
                    lease.lose();
                }
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
