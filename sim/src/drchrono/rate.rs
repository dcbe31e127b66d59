//! DrChrono's throttles: an hourly budget that resets at the top of the hour, and a burst
//! limit over a sliding window. Refused requests are not counted against either, as in DRF.

use std::collections::VecDeque;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use super::config::RateLimitConfig;

/// Why a request was throttled, and how long until it would pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Throttled {
    /// Whole seconds (at least 1) until the limit that refused the request frees up.
    pub wait_secs: u64,
}

/// The throttle state.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    config: RateLimitConfig,
    window: u128,
    used: u32,
    recent: VecDeque<Instant>,
}

impl RateLimiter {
    /// A limiter with fresh budgets.
    pub(crate) fn new(config: RateLimitConfig) -> Self {
        Self {
            config,
            window: 0,
            used: 0,
            recent: VecDeque::new(),
        }
    }

    /// The active configuration.
    pub(crate) fn config(&self) -> &RateLimitConfig {
        &self.config
    }

    /// Admits or refuses one request at the current time.
    pub(crate) fn check(&mut self) -> Result<(), Throttled> {
        self.check_at(SystemTime::now(), Instant::now())
    }

    /// Admits or refuses one request at the given wall-clock and monotonic times.
    pub(crate) fn check_at(&mut self, wall: SystemTime, mono: Instant) -> Result<(), Throttled> {
        let hour_ms = self.config.hour.as_millis().max(1);
        let since_epoch = wall
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis();
        let window = since_epoch / hour_ms;
        if window != self.window {
            self.window = window;
            self.used = 0;
        }
        if let Some(limit) = self.config.hourly
            && self.used >= limit
        {
            let left_ms = hour_ms - since_epoch % hour_ms;
            return Err(Throttled {
                wait_secs: ceil_secs(left_ms),
            });
        }
        let span = self.config.burst_window;
        while self
            .recent
            .front()
            .is_some_and(|t| mono.duration_since(*t) >= span)
        {
            self.recent.pop_front();
        }
        if let Some(limit) = self.config.burst
            && self.recent.len() >= limit as usize
        {
            let oldest = self.recent.front().copied().unwrap_or(mono);
            let left = span.saturating_sub(mono.duration_since(oldest));
            return Err(Throttled {
                wait_secs: ceil_secs(left.as_millis()),
            });
        }
        self.used += 1;
        self.recent.push_back(mono);
        Ok(())
    }
}

fn ceil_secs(ms: u128) -> u64 {
    u64::try_from(ms.div_ceil(1000)).unwrap_or(u64::MAX).max(1)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn limiter(hourly: Option<u32>, burst: Option<u32>) -> RateLimiter {
        RateLimiter::new(RateLimitConfig {
            hourly,
            burst,
            ..RateLimitConfig::default()
        })
    }

    #[test]
    fn burst_limit_allows_ten_per_second_then_frees_up() {
        let mut l = limiter(None, Some(10));
        let wall = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let t0 = Instant::now();
        for _ in 0..10 {
            assert!(l.check_at(wall, t0).is_ok());
        }
        assert_eq!(l.check_at(wall, t0), Err(Throttled { wait_secs: 1 }));
        assert!(l.check_at(wall, t0 + Duration::from_millis(1000)).is_ok());
    }

    #[test]
    fn hourly_budget_resets_at_the_top_of_the_hour() {
        let mut l = limiter(Some(2), None);
        let t0 = Instant::now();
        let at = |s: u64| UNIX_EPOCH + Duration::from_secs(3600 * 100 + s);
        assert!(l.check_at(at(10), t0).is_ok());
        assert!(l.check_at(at(20), t0).is_ok());
        assert_eq!(l.check_at(at(3000), t0), Err(Throttled { wait_secs: 600 }));
        assert!(l.check_at(at(3600), t0).is_ok());
    }
}
