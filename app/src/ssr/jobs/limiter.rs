//! Partner Center allows 50 consent calls per second per applicationId. Every consent call of
//! every job in this process waits here for its turn, keyed by application.

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::time::Duration;

/// The service counts arrivals in a sliding second; calls leave here evenly spaced (no burst)
/// with 2 % headroom (a second and 20 ms per `limit` calls), so up to 20 ms of network jitter
/// between two calls cannot put one call too many into one of its windows.
const NANOS_PER_LIMITED_SECOND: u64 = 1_020_000_000;

pub struct ConsentLimiter {
    limiter: DefaultKeyedRateLimiter<String>,
    spacing: Duration,
}

impl ConsentLimiter {
    pub fn new(per_second: u32) -> Self {
        let spacing = Duration::from_nanos(NANOS_PER_LIMITED_SECOND / u64::from(per_second.max(1)));
        // A zero period is impossible here (per_second ≤ u32::MAX gives ≥ 0.2 ns); fall back to
        // one call per second rather than panic.
        let quota = Quota::with_period(spacing).unwrap_or(Quota::per_second(nonzero_one()));
        ConsentLimiter {
            limiter: RateLimiter::keyed(quota),
            spacing,
        }
    }

    /// Waits until a call for `application_id` may be sent.
    pub async fn until_ready(&self, application_id: &str) {
        self.limiter
            .until_key_ready(&application_id.to_ascii_lowercase())
            .await;
    }

    /// The time between two calls for one application.
    pub fn spacing(&self) -> Duration {
        self.spacing
    }
}

fn nonzero_one() -> std::num::NonZeroU32 {
    std::num::NonZeroU32::MIN
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[tokio::test]
    async fn never_more_than_the_limit_in_any_second_per_application() {
        let limiter = ConsentLimiter::new(50);
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
