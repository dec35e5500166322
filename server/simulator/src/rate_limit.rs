//! Sliding-window rate limiting (Partner Center: 50 consent calls per second per applicationId).

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

pub(crate) struct RateLimiter {
    limit: usize,
    window: Duration,
    accepted: HashMap<String, VecDeque<Instant>>,
}

impl RateLimiter {
    pub(crate) fn new(limit_per_second: u32) -> Self {
        Self {
            limit: limit_per_second.max(1) as usize,
            window: Duration::from_secs(1),
            accepted: HashMap::new(),
        }
    }

    /// Admits a call for `key` at `now`, or returns the whole seconds (at least 1) to wait.
    /// Rejected calls are not recorded, so they do not extend the wait.
    pub(crate) fn check(&mut self, key: &str, now: Instant) -> Result<(), u64> {
        if self.accepted.len() > 10_000 {
            let window = self.window;
            self.accepted.retain(|_, calls| {
                calls
                    .back()
                    .is_some_and(|t| now.duration_since(*t) < window)
            });
        }
        let calls = self.accepted.entry(key.to_owned()).or_default();
        while calls
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            calls.pop_front();
        }
        if calls.len() >= self.limit {
            let oldest = calls.front().copied().unwrap_or(now);
            let wait = (oldest + self.window).saturating_duration_since(now);
            return Err(wait.as_secs_f64().ceil().max(1.0) as u64);
        }
        calls.push_back(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_key_within_a_sliding_second() {
        let mut limiter = RateLimiter::new(3);
        let t0 = Instant::now();
        for i in 0..3 {
            assert!(limiter
                .check("app", t0 + Duration::from_millis(i * 100))
                .is_ok());
        }
        assert_eq!(
            limiter.check("app", t0 + Duration::from_millis(500)),
            Err(1)
        );
        assert!(limiter
            .check("other", t0 + Duration::from_millis(500))
            .is_ok());
        // The first call leaves the window at t0 + 1 s.
        assert!(limiter
            .check("app", t0 + Duration::from_millis(1000))
            .is_ok());
        assert!(limiter
            .check("app", t0 + Duration::from_millis(1050))
            .is_err());
    }
}
