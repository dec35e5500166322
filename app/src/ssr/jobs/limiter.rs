//! Partner Center allows 50 consent calls per second per applicationId. Every consent call of
//! every job waits here for its turn, keyed by application.
//!
//! - One instance (SQLite): a governor GCRA limiter in memory.
//! - Several instances on one PostgreSQL: the same GCRA, kept in the database. Each call moves
//!   the application's cursor (`consent_rate_cursors.next_at_us`) on by one spacing in one atomic
//!   upsert and sleeps until the slot it got. Slots are times on the database's clock, mapped to
//!   each instance's clock through the reservation with the shortest round trip, so the limit
//!   holds across instances and skew between their clocks does not matter. Should the database
//!   not answer, the instance falls back to its in-memory limiter for that call.

use crate::ssr::storage::{Backend, Storage};
use crate::ssr::telemetry;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use parking_lot::Mutex;
use sqlx::AnyPool;
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// The service counts arrivals in a sliding second; calls leave here evenly spaced (no burst)
/// with 2 % headroom (a second and 20 ms per `limit` calls), so up to 20 ms of network jitter
/// between two calls cannot put one call too many into one of its windows.
const NANOS_PER_LIMITED_SECOND: u64 = 1_020_000_000;
/// Slots are taken at least this far ahead, so the answer arrives before the slot and the call
/// can leave on time, not late by the round trip.
const RESERVATION_LEAD: Duration = Duration::from_millis(50);
/// Slots a call may reserve before it goes anyway.
const MAX_RESERVATIONS: usize = 20;
/// The service's window, as this process watches its own departures: a second, plus room for
/// two calls to reach the service further apart than they left here.
pub const DEPARTURE_WINDOW: Duration = Duration::from_millis(1_020);

pub struct ConsentLimiter {
    local: DefaultKeyedRateLimiter<String>,
    shared: Option<AnyPool>,
    spacing: Duration,
    origin: Instant,
    clock: Mutex<Option<Calibration>>,
    /// Per application, when this process's calls actually left within the last window.
    departures: Mutex<HashMap<String, VecDeque<tokio::time::Instant>>>,
    /// Departures allowed in one window: one fewer than the service's limit, so a call that
    /// arrives early or late by a few milliseconds still finds room.
    per_window: usize,
}

/// This machine's clock against the database's: `database µs = local µs since origin + offset`.
#[derive(Clone, Copy)]
struct Calibration {
    offset_us: i64,
    round_trip: Duration,
    taken: Instant,
}

/// Clocks drift: the best sample is replaced by a fresh one after this long.
const RECALIBRATE_AFTER: Duration = Duration::from_secs(30);

fn micros_since(origin: Instant, at: Instant) -> i64 {
    i64::try_from(at.saturating_duration_since(origin).as_micros()).unwrap_or(i64::MAX)
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
            origin: Instant::now(),
            clock: Mutex::new(None),
            departures: Mutex::new(HashMap::new()),
            per_window: usize::try_from(per_second.max(2) - 1).unwrap_or(1),
        }
    }

    /// Waits until a call for `application_id` may be sent.
    pub async fn until_ready(&self, application_id: &str) {
        let started = Instant::now();
        self.wait_turn(application_id).await;
        telemetry::consent_rate_limit_wait(started.elapsed());
    }

    async fn wait_turn(&self, application_id: &str) {
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

    /// Right before a call for `application_id` leaves: waits until the calls that really left
    /// within the last window are fewer than the service allows, and counts this one. The
    /// evenly spaced slots of `until_ready` are taken before the attempt is written ahead; a
    /// busy machine can delay some calls after their slot and let others through on time,
    /// bunching them, and the service counts arrivals in any sliding second. Counting what left
    /// keeps a bunch from ever holding one call too many.
    pub async fn at_departure(&self, application_id: &str) {
        let key = application_id.to_ascii_lowercase();
        loop {
            let wait_until = {
                let mut departures = self.departures.lock();
                if departures.len() > 1_000 {
                    departures.retain(|_, sent| {
                        sent.back().is_some_and(|t| t.elapsed() < DEPARTURE_WINDOW)
                    });
                }
                let sent = departures.entry(key.clone()).or_default();
                let now = tokio::time::Instant::now();
                while sent
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= DEPARTURE_WINDOW)
                {
                    sent.pop_front();
                }
                if sent.len() < self.per_window {
                    sent.push_back(now);
                    None
                } else {
                    sent.front().map(|oldest| *oldest + DEPARTURE_WINDOW)
                }
            };
            match wait_until {
                None => break,
                Some(at) => tokio::time::sleep_until(at).await,
            }
        }
    }

    /// A shared slot is reserved ahead and slept for, on this machine's clock: the offset to
    /// the database's clock comes from the reservation with the shortest round trip seen lately,
    /// so a slow answer does not shift the wake-up. A task that still wakes well after its slot
    /// (a busy machine) would crowd the calls after it, so it lets the slot go and reserves
    /// another.
    async fn until_shared_slot(&self, pool: &AnyPool, key: &str) -> Result<(), sqlx::Error> {
        for _ in 0..MAX_RESERVATIONS {
            let asked = Instant::now();
            let (slot_us, db_now_us) = self.reserve(pool, key).await?;
            let answered = Instant::now();
            let deadline = self.local_time_of(slot_us, db_now_us, asked, answered);
            tokio::time::sleep_until(deadline.into()).await;
            if Instant::now() <= deadline + self.spacing / 2 {
                return Ok(());
            }
        }
        // Late again and again: the machine is overloaded. Each try spent a slot, and waiting
        // longer would not make this call any less late.
        Ok(())
    }

    /// When the database time `slot_us` happens on this machine's monotonic clock.
    fn local_time_of(
        &self,
        slot_us: i64,
        db_now_us: i64,
        asked: Instant,
        answered: Instant,
    ) -> Instant {
        let round_trip = answered - asked;
        let midpoint = asked + round_trip / 2;
        let sample_offset = db_now_us - micros_since(self.origin, midpoint);
        let offset = {
            let mut best = self.clock.lock();
            let stale = best.is_none_or(|c| c.taken.elapsed() > RECALIBRATE_AFTER);
            if stale || best.is_some_and(|c| round_trip < c.round_trip) {
                *best = Some(Calibration {
                    offset_us: sample_offset,
                    round_trip,
                    taken: answered,
                });
            }
            best.map_or(sample_offset, |c| c.offset_us)
        };
        let local_us = u64::try_from(slot_us - offset).unwrap_or(0);
        self.origin + Duration::from_micros(local_us)
    }

    /// Takes the application's next slot: its time and the database's time now (µs).
    async fn reserve(&self, pool: &AnyPool, key: &str) -> Result<(i64, i64), sqlx::Error> {
        let spacing_us = i64::try_from(self.spacing.as_micros()).unwrap_or(i64::MAX);
        sqlx::query_as(
            "INSERT INTO consent_rate_cursors (application_id, next_at_us)
             VALUES ($1, (extract(epoch from clock_timestamp()) * 1000000)::bigint + $3)
             ON CONFLICT (application_id) DO UPDATE SET next_at_us = GREATEST(
                 consent_rate_cursors.next_at_us + $2,
                 (extract(epoch from clock_timestamp()) * 1000000)::bigint + $3)
             RETURNING next_at_us, (extract(epoch from clock_timestamp()) * 1000000)::bigint",
        )
        .bind(key)
        .bind(spacing_us)
        .bind(i64::try_from(RESERVATION_LEAD.as_micros()).unwrap_or(0))
        .fetch_one(pool)
        .await
    }

    /// The time between two calls for one application.
    pub fn spacing(&self) -> Duration {
        self.spacing
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on a broken assumption"
)]
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

    /// Calls that reach their departure all at once (slots taken on time, then held up by a
    /// busy machine) leave no more than one fewer than the limit in any window.
    #[tokio::test(start_paused = true)]
    async fn a_bunch_of_late_calls_never_fills_a_window() {
        let limiter = std::sync::Arc::new(ConsentLimiter::with_pool(10, None));
        let start = tokio::time::Instant::now();
        let tasks: Vec<_> = (0..35)
            .map(|_| {
                let limiter = limiter.clone();
                tokio::spawn(async move {
                    limiter.at_departure("App-A").await;
                    start.elapsed()
                })
            })
            .collect();
        let mut left = Vec::new();
        for task in tasks {
            left.push(task.await.unwrap());
        }
        left.sort();
        for window in left.windows(10) {
            assert!(
                window[9] - window[0] >= DEPARTURE_WINDOW,
                "10 calls within one window: {window:?}"
            );
        }
        // Nine left at once, and the bunch was spread over windows rather than dropped.
        assert_eq!(left[8], Duration::ZERO);
        assert!(left[34] >= DEPARTURE_WINDOW * 3, "{:?}", left[34]);
        // Another application counts its own departures.
        let before = tokio::time::Instant::now();
        limiter.at_departure("app-b").await;
        assert_eq!(before.elapsed(), Duration::ZERO);
    }
}
