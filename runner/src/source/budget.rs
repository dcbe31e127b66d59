//! The rate budget of one external system, shared by every pipeline and task that calls it.
//!
//! A sliding-window log rather than a token bucket (governor): a bucket refills continuously,
//! so after a full burst it still lets `requests` more through within the same window, and a
//! fixed-window server such as DrChrono (500 per clock hour) answers 429. The log instead holds
//! the send time of recent calls and never lets more than `requests` calls into ANY window of
//! `per` seconds, which satisfies fixed and rolling windows alike.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::config::systems::RateLimit;

/// Margin added to every window, so that network jitter between our clock and the server's
/// cannot make two calls a window apart here land in one window there.
const WINDOW_MARGIN: Duration = Duration::from_millis(60);

/// A shared, never-exceeded request budget.
#[derive(Debug)]
pub struct RateBudget {
    limits: Vec<(usize, Duration)>,
    longest: Duration,
    log: Mutex<VecDeque<Instant>>,
}

impl RateBudget {
    /// A budget enforcing every limit at once. No limits means no waiting.
    pub fn new(limits: &[RateLimit]) -> Self {
        let limits: Vec<(usize, Duration)> = limits
            .iter()
            .filter(|l| l.requests > 0)
            .map(|l| {
                (
                    l.requests as usize,
                    Duration::from_secs(u64::from(l.per_secs)) + WINDOW_MARGIN,
                )
            })
            .collect();
        let longest = limits.iter().map(|l| l.1).max().unwrap_or_default();
        RateBudget {
            limits,
            longest,
            log: Mutex::new(VecDeque::new()),
        }
    }

    /// An unlimited budget (benchmarks, simulators without limits).
    pub fn unlimited() -> Self {
        RateBudget::new(&[])
    }

    /// Waits until one more call fits every limit, and records it.
    pub async fn acquire(&self) {
        loop {
            let wait = {
                let mut log = self
                    .log
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let now = Instant::now();
                while log
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= self.longest)
                {
                    log.pop_front();
                }
                let mut until: Option<Instant> = None;
                for &(requests, window) in &self.limits {
                    let in_window: Vec<&Instant> = log
                        .iter()
                        .filter(|t| now.duration_since(**t) < window)
                        .collect();
                    if in_window.len() >= requests {
                        let free_at = *in_window[in_window.len() - requests] + window;
                        until = Some(until.map_or(free_at, |u| u.max(free_at)));
                    }
                }
                match until {
                    None => {
                        if !self.limits.is_empty() {
                            log.push_back(now);
                        }
                        return;
                    }
                    Some(u) => u,
                }
            };
            tokio::time::sleep_until(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn no_window_ever_holds_more_than_its_limit() {
        let budget = std::sync::Arc::new(RateBudget::new(&[
            RateLimit {
                requests: 5,
                per_secs: 1,
            },
            RateLimit {
                requests: 12,
                per_secs: 10,
            },
        ]));
        let start = Instant::now();
        let mut handles = Vec::new();
        for _ in 0..4 {
            let b = budget.clone();
            handles.push(tokio::spawn(async move {
                let mut times = Vec::new();
                for _ in 0..6 {
                    b.acquire().await;
                    times.push(Instant::now());
                }
                times
            }));
        }
        let mut times = Vec::new();
        for h in handles {
            times.extend(h.await.unwrap());
        }
        times.sort();
        assert_eq!(times.len(), 24);
        for (i, t) in times.iter().enumerate() {
            let in_1s = times[i..]
                .iter()
                .filter(|u| u.duration_since(*t) < Duration::from_secs(1))
                .count();
            let in_10s = times[i..]
                .iter()
                .filter(|u| u.duration_since(*t) < Duration::from_secs(10))
                .count();
            assert!(in_1s <= 5, "{in_1s} calls within 1 s");
            assert!(in_10s <= 12, "{in_10s} calls within 10 s");
        }
        // 24 calls at 12 per 10 s: the 13th waits for the first to leave its window.
        assert!(times.last().unwrap().duration_since(start) >= Duration::from_secs(10));
    }

    #[tokio::test(start_paused = true)]
    async fn an_unlimited_budget_never_waits() {
        let b = RateBudget::unlimited();
        let start = Instant::now();
        for _ in 0..1000 {
            b.acquire().await;
        }
        assert_eq!(Instant::now(), start);
    }
}
