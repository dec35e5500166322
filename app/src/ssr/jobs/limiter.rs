//! Partner Center allows 50 consent calls per second per applicationId. Every consent call of
//! every job waits here for its turn, keyed by application.
//!
//! - One instance (SQLite): a governor GCRA limiter in memory.
//! - Several instances on one PostgreSQL: the same GCRA, kept in the database. Each call moves
//!   the application's cursor (`consent_rate_cursors.next_at_us`) on by one spacing in one atomic
//!   upsert and sleeps until the time it got, measured on the database's clock, so the limit
//!   holds across instances and clock skew between them does not matter. Should the database
//!   not answer, the instance falls back to its in-memory limiter for that call.

use crate::ssr::storage::{Backend, Storage};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use sqlx::AnyPool;
use std::time::{Duration, Instant};

/// The service counts arrivals in a sliding second; calls leave here evenly spaced (no burst)
/// with 2 % headroom (a second and 20 ms per `limit` calls), so up to 20 ms of network jitter
/// between two calls cannot put one call too many into one of its windows.
const NANOS_PER_LIMITED_SECOND: u64 = 1_020_000_000;
/// Slots a call may reserve before it goes anyway.
const MAX_RESERVATIONS: usize = 5;

pub struct ConsentLimiter {
    local: DefaultKeyedRateLimiter<String>,
    shared: Option<AnyPool>,
    spacing: Duration,
}

impl ConsentLimiter {
    /// Shared through the database when it is PostgreSQL (the scale-out setup).
    pub fn new(per_second: u32, storage: &Storage) -> Self {
        let shared = (storage.backend == Backend::Postgres).then(|| storage.pool.clone());
        Self::with_pool(per_second, shared)
    }

    pub fn with_pool(per_second: u32, shared: Option<AnyPool>) -> Self {
        let spacing = Duration::from_nanos(NANOS_PER_LIMITED_SECOND / u64::from(per_second.max(1)));
        // A zero period is impossible here (spacing ≥ 0.24 ns); fall back to one call per second
        // rather than panic.
        let quota =
            Quota::with_period(spacing).unwrap_or(Quota::per_second(std::num::NonZeroU32::MIN));
        ConsentLimiter {
            local: RateLimiter::keyed(quota),
            shared,
            spacing,
        }
    }

    /// Waits until a call for `application_id` may be sent.
    pub async fn until_ready(&self, application_id: &str) {
        let key = application_id.to_ascii_lowercase();
        if let Some(pool) = &self.shared {
            match self.until_shared_slot(pool, &key).await {
                Ok(()) => return,
                Err(error) => {
                    tracing::warn!(%error, "shared consent rate limit unavailable; limiting this instance only");
                }
            }
        }
        // Governor hands out a slot only when it is due, so the call follows at once.
        self.local.until_key_ready(&key).await;
    }

    /// A shared slot is reserved ahead and slept for. A task that wakes well after its slot
    /// (a busy machine, a slow database answer) would crowd the calls after it, so it lets the
    /// slot go and reserves another.
    async fn until_shared_slot(&self, pool: &AnyPool, key: &str) -> Result<(), sqlx::Error> {
        for _ in 0..MAX_RESERVATIONS {
            // Measured from before the query: the slot's local time is estimated early, so
            // lateness is over- rather than under-estimated.
            let asked = Instant::now();
            let deadline = asked + self.reserve(pool, key).await?;
            tokio::time::sleep_until(deadline.into()).await;
            if Instant::now() <= deadline + self.spacing / 2 {
                return Ok(());
            }
        }
        // Still late after several slots: the machine is overloaded; slots were spent, so the
        // rate stays under the limit anyway.
        Ok(())
    }

    /// Takes the application's next slot; returns how long to wait for it.
    async fn reserve(&self, pool: &AnyPool, key: &str) -> Result<Duration, sqlx::Error> {
        let spacing_us = i64::try_from(self.spacing.as_micros()).unwrap_or(i64::MAX);
        let (slot_us, now_us): (i64, i64) = sqlx::query_as(
            "INSERT INTO consent_rate_cursors (application_id, next_at_us)
             VALUES ($1, (extract(epoch from clock_timestamp()) * 1000000)::bigint)
             ON CONFLICT (application_id) DO UPDATE SET next_at_us = GREATEST(
                 consent_rate_cursors.next_at_us + $2,
                 (extract(epoch from clock_timestamp()) * 1000000)::bigint)
             RETURNING next_at_us, (extract(epoch from clock_timestamp()) * 1000000)::bigint",
        )
        .bind(key)
        .bind(spacing_us)
        .fetch_one(pool)
        .await?;
        Ok(Duration::from_micros(
            u64::try_from(slot_us - now_us).unwrap_or(0),
        ))
    }

    /// The time between two calls for one application.
    pub fn spacing(&self) -> Duration {
        self.spacing
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn never_more_than_the_limit_in_any_second_per_application() {
        let limiter = ConsentLimiter::with_pool(50, None);
        let start = Instant::now();
        let mut sent = Vec::new();
        for _ in 0..60 {
            limiter.until_ready("app-a").await;
            sent.push(start.elapsed());
        }
        // Any 51 consecutive calls span more than a second.
        for window in sent.windows(51) {
            assert!(
                window[50] - window[0] > Duration::from_secs(1),
                "{window:?}"
            );
        }
        // Another application has its own budget: no wait.
        let before = Instant::now();
        limiter.until_ready("app-b").await;
        assert!(before.elapsed() < Duration::from_millis(5));
        assert_eq!(limiter.spacing(), Duration::from_micros(20_400));
    }
}
