//! What a process holds for the jobs: its consent rate limiter, its name in claims, its clock
//! against the database's, and the jobs it runs now. Kept apart from the runner, which takes
//! the whole state, so that the state can hold it.

use super::limiter::ConsentLimiter;
use crate::ssr::background::lease::{Lease, LocalClock};
use crate::ssr::config::Config;
use crate::ssr::storage::Storage;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::sync::Notify;

/// Held in `AppState`: this process's rate limiter, its name in claims, and the jobs it runs.
pub struct JobsRuntime {
    pub limiter: ConsentLimiter,
    pub instance_id: String,
    pub clock: LocalClock,
    wake: Notify,
    pub(super) running: Mutex<HashMap<String, Arc<JobControl>>>,
    /// SQLite has one writer: job writes take turns here instead of waiting for its lock.
    pub(super) writer: tokio::sync::Mutex<()>,
}

pub(super) struct JobControl {
    pub(super) cancelled: AtomicBool,
    /// When it is lost or cannot be renewed in time, stop sending and do not finish.
    pub(super) lease: Arc<Lease>,
}

impl JobControl {
    pub(super) fn should_stop(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed) || !self.lease.may_send()
    }
}

impl JobsRuntime {
    pub fn new(config: &Config, storage: &Storage) -> Self {
        JobsRuntime {
            limiter: ConsentLimiter::new(config.consent_rate_limit_per_second, storage),
            instance_id: config.instance_id.clone(),
            clock: LocalClock::default(),
            wake: Notify::new(),
            running: Mutex::new(HashMap::new()),
            writer: tokio::sync::Mutex::new(()),
        }
    }

    /// Background work was created or cancelled: look now rather than at the next poll.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    pub(crate) async fn woken(&self) {
        self.wake.notified().await;
    }

    /// Stops a job this process runs at once (others notice at their next renewal).
    pub fn cancel_local(&self, job_id: &str) {
        if let Some(control) = self.running.lock().get(job_id) {
            control.cancelled.store(true, Ordering::Relaxed);
        }
    }

    pub fn running_here(&self) -> usize {
        self.running.lock().len()
    }
}
