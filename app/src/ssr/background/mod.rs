//! Background work that outlives the request that started it: bulk jobs and privileged-role
//! reports. Several instances may share one database, so each piece of work is held by one
//! instance at a time through a lease on its row: `claimed_by` names the instance,
//! `claimed_until_ms` (the database's clock) is renewed every second while it runs, and
//! `claim_fence` counts the claims, so every write of the holder can check the row is still its.
//!
//! Claims take row locks: on PostgreSQL the candidate rows are locked `FOR UPDATE SKIP LOCKED`,
//! so two instances polling at the same moment never wait on or take the same row; on SQLite the
//! single UPDATE runs under the database's one writer lock. An instance that dies stops renewing,
//! its lease lapses, and the next instance to poll takes the work over and continues with what is
//! still pending. An instance that cannot renew stops sending before its lease can lapse, and
//! one that lost the row anyway is refused by the fencing number in each write.

pub(crate) mod lease;

pub use lease::{
    claim_available, db_now_ms, keep_renewed, release, renew, Claim, Claimable, Lease, LocalClock,
    RenewalTask, Work, LEASE,
};

use super::state::AppState;
use std::time::Duration;

/// How often an instance looks for work to take over when nothing wakes it.
const POLL_EVERY: Duration = Duration::from_secs(2);

/// Starts the loop that claims and runs background work, for the life of the process.
pub fn spawn_supervisor(state: AppState) {
    tokio::spawn(async move {
        let mut claimable = Claimable::UnheldOrMine;
        loop {
            if let Err(error) = crate::ssr::jobs::runner::claim_and_run(&state, claimable).await {
                tracing::error!(%error, "could not look for jobs to run");
            }
            if let Err(error) = crate::ssr::reports::claim_and_run(&state, claimable).await {
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
