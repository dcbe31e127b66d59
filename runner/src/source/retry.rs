//! When to retry a failed call and how long to wait: exponential backoff with full jitter, a
//! floor after 429 (a `Retry-After: 0` does not mean "hammer"), and `Retry-After` honoured.

use std::time::Duration;

use crate::config::systems::Retry;

/// Computes waits for one call's attempts.
#[derive(Debug, Clone)]
pub struct Backoff {
    policy: Retry,
    seed: u64,
}

impl Backoff {
    /// A backoff following `policy`, with its own jitter sequence.
    pub fn new(policy: &Retry) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        Backoff {
            policy: policy.clone(),
            seed: nanos ^ 0x9E37_79B9_7F4A_7C15,
        }
    }

    /// Attempts allowed in total.
    pub fn max_attempts(&self) -> u32 {
        self.policy.max_attempts.max(1)
    }

    /// The wait before attempt `attempt + 1`, after attempt `attempt` (1-based) failed.
    /// `throttled` is true for a 429; `retry_after` is the server's hint, if any.
    pub fn delay(
        &mut self,
        attempt: u32,
        throttled: bool,
        retry_after: Option<Duration>,
    ) -> Duration {
        let exp = self
            .policy
            .base_delay_ms
            .saturating_mul(1u64 << attempt.saturating_sub(1).min(20));
        let cap = exp.min(self.policy.max_delay_ms);
        // Full jitter in [cap/2, cap]: spreads retries of concurrent tasks without ever
        // collapsing to zero.
        let jittered = cap / 2 + self.next() % (cap / 2 + 1);
        let mut ms = jittered;
        if throttled {
            ms = ms.max(self.policy.floor_ms);
        }
        let mut d = Duration::from_millis(ms);
        if let Some(ra) = retry_after {
            d = d.max(ra).max(Duration::from_millis(self.policy.floor_ms));
        }
        d
    }

    fn next(&mut self) -> u64 {
        // splitmix64: enough randomness for jitter, no extra crate.
        self.seed = self.seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.seed;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// Parses a `Retry-After` header given in seconds (the HTTP-date form is treated as absent).
pub fn parse_retry_after(v: Option<&str>) -> Option<Duration> {
    v?.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Retry {
        Retry {
            max_attempts: 5,
            base_delay_ms: 100,
            max_delay_ms: 1000,
            floor_ms: 500,
        }
    }

    #[test]
    fn delays_grow_exponentially_within_the_cap_with_jitter() {
        let mut b = Backoff::new(&policy());
        for attempt in 1..10 {
            let cap = (100u64 << (attempt - 1)).min(1000);
            let d = b.delay(attempt, false, None).as_millis() as u64;
            assert!(
                d >= cap / 2 && d <= cap,
                "attempt {attempt}: {d} not in [{}, {cap}]",
                cap / 2
            );
        }
    }

    #[test]
    fn a_429_waits_at_least_the_floor_even_when_retry_after_says_zero() {
        let mut b = Backoff::new(&policy());
        assert!(b.delay(1, true, Some(Duration::ZERO)) >= Duration::from_millis(500));
        assert_eq!(
            b.delay(1, true, Some(Duration::from_secs(3))),
            Duration::from_secs(3)
        );
        assert_eq!(parse_retry_after(Some(" 7 ")), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after(Some("Wed, 21 Oct 2015 07:28:00 GMT")),
            None
        );
    }
}
