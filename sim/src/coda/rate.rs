//! Per-token rate limits: separate read and write budgets per window, counted with a sliding
//! log (rolling) or per fixed window. Only admitted requests use up budget.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use super::config::{RateLimitConfig, WindowMode};

/// Which budget a request draws on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Every `GET`.
    Read,
    /// `POST`, `PUT` and `DELETE` on rows.
    Write,
}

/// A refusal, with how long until a request of that kind would pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Throttled {
    /// Whole seconds until the budget frees up (at least 1).
    pub wait_secs: u64,
}

#[derive(Debug, Default)]
struct Bucket {
    /// Rolling: admission times within the window. Fixed: unused.
    recent: VecDeque<Instant>,
    /// Fixed: the current window number and its count.
    window: u128,
    used: u32,
}

/// The limiter of every token.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    config: RateLimitConfig,
    start: Instant,
    buckets: HashMap<(String, bool), Bucket>,
}

impl RateLimiter {
    /// A limiter with fresh budgets; fixed windows start now.
    pub(crate) fn new(config: RateLimitConfig) -> Self {
        Self {
            config,
            start: Instant::now(),
            buckets: HashMap::new(),
        }
    }

    /// The active configuration.
    pub(crate) fn config(&self) -> &RateLimitConfig {
        &self.config
    }

    /// Admits or refuses one request of `token` now.
    pub(crate) fn check(&mut self, token: &str, kind: Kind) -> Result<(), Throttled> {
        self.check_at(token, kind, Instant::now())
    }

    /// Admits or refuses one request of `token` at `now`.
    pub(crate) fn check_at(
        &mut self,
        token: &str,
        kind: Kind,
        now: Instant,
    ) -> Result<(), Throttled> {
        let limit = match kind {
            Kind::Read => self.config.reads,
            Kind::Write => self.config.writes,
        };
        let Some(limit) = limit else {
            return Ok(());
        };
        let span = self.config.window.max(Duration::from_millis(1));
        let key = (token.to_owned(), kind == Kind::Write);
        let bucket = self.buckets.entry(key).or_default();
        match self.config.mode {
            WindowMode::Rolling => {
                while bucket
                    .recent
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= span)
                {
                    bucket.recent.pop_front();
                }
                if bucket.recent.len() >= limit as usize {
                    let oldest = bucket.recent.front().copied().unwrap_or(now);
                    let left = span.saturating_sub(now.duration_since(oldest));
                    return Err(Throttled {
                        wait_secs: ceil_secs(left),
                    });
                }
                bucket.recent.push_back(now);
            }
            WindowMode::Fixed => {
                let elapsed = now.duration_since(self.start).as_millis();
                let span_ms = span.as_millis();
                let window = elapsed / span_ms;
                if window != bucket.window {
                    bucket.window = window;
                    bucket.used = 0;
                }
                if bucket.used >= limit {
                    let left_ms = span_ms - elapsed % span_ms;
                    let left = Duration::from_millis(u64::try_from(left_ms).unwrap_or(u64::MAX));
                    return Err(Throttled {
                        wait_secs: ceil_secs(left),
                    });
                }
                bucket.used += 1;
            }
        }
        Ok(())
    }
}

fn ceil_secs(d: Duration) -> u64 {
    u64::try_from(d.as_millis().div_ceil(1000))
        .unwrap_or(u64::MAX)
        .max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(mode: WindowMode) -> RateLimiter {
        RateLimiter::new(RateLimitConfig {
            reads: Some(3),
            writes: Some(2),
            mode,
            ..RateLimitConfig::default()
        })
    }

    #[test]
    fn rolling_windows_free_a_slot_when_the_oldest_request_ages_out() {
        let mut l = limiter(WindowMode::Rolling);
        let t0 = l.start;
        assert!(l.check_at("a", Kind::Write, t0).is_ok());
        assert!(
            l.check_at("a", Kind::Write, t0 + Duration::from_secs(1))
                .is_ok()
        );
        let refused = l.check_at("a", Kind::Write, t0 + Duration::from_secs(2));
        assert_eq!(refused, Err(Throttled { wait_secs: 4 }));
        // Reads and other tokens have their own budgets.
        assert!(
            l.check_at("a", Kind::Read, t0 + Duration::from_secs(2))
                .is_ok()
        );
        assert!(
            l.check_at("b", Kind::Write, t0 + Duration::from_secs(2))
                .is_ok()
        );
        assert!(
            l.check_at("a", Kind::Write, t0 + Duration::from_secs(6))
                .is_ok()
        );
        assert!(
            l.check_at("a", Kind::Write, t0 + Duration::from_secs(6))
                .is_err()
        );
    }

    #[test]
    fn fixed_windows_reset_at_the_boundary() {
        let mut l = limiter(WindowMode::Fixed);
        let t0 = l.start;
        assert!(
            l.check_at("a", Kind::Write, t0 + Duration::from_secs(5))
                .is_ok()
        );
        assert!(
            l.check_at("a", Kind::Write, t0 + Duration::from_secs(5))
                .is_ok()
        );
        let refused = l.check_at("a", Kind::Write, t0 + Duration::from_millis(5500));
        assert_eq!(refused, Err(Throttled { wait_secs: 1 }));
        assert!(
            l.check_at("a", Kind::Write, t0 + Duration::from_secs(6))
                .is_ok()
        );
    }

    #[test]
    fn unlimited_kinds_always_pass() {
        let mut l = RateLimiter::new(RateLimitConfig {
            reads: None,
            ..RateLimitConfig::default()
        });
        for _ in 0..1000 {
            assert!(l.check("a", Kind::Read).is_ok());
        }
    }
}
