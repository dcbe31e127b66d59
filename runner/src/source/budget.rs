//! The rate budget of one external system, shared by every pipeline, task and process that
//! calls it.
//!
//! A sliding-window log rather than a token bucket (governor): a bucket refills continuously,
//! so after a full burst it still lets `requests` more through within the same window, and a
//! fixed-window server such as DrChrono (500 per clock hour) answers 429. The log instead holds
//! the send time of recent calls and never lets more than `requests` calls into ANY window of
//! `per` seconds, which satisfies fixed and rolling windows alike.
//!
//! DrChrono counts per API application, not per process: `runner serve`, a `runner sync` beside
//! it and every Cloud Run instance draw on one budget. A budget made with
//! [`RateBudget::shared`] keeps its log in PostgreSQL (`rate_budget_calls`), consulted and
//! appended under a transaction-scoped advisory lock per system, with the database's clock,
//! so the sum of all processes stays under the declared limits. Should the database not
//! answer, the process falls back to its own log (it cannot write anything then anyway). A
//! long wait is announced once, as the `rate_budget_wait` event.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use sqlx::PgPool;
use tokio::time::Instant;

use crate::config::systems::RateLimit;
use crate::telemetry::events;

/// Margin added to every window, so that network jitter between our clock and the server's
/// cannot make two calls a window apart here land in one window there.
const WINDOW_MARGIN: Duration = Duration::from_millis(60);

/// Waits at least this long are announced (the `rate_budget_wait` event).
const ANNOUNCE_AFTER: Duration = Duration::from_secs(10);

/// A never-exceeded request budget.
#[derive(Debug)]
pub struct RateBudget {
    limits: Vec<(usize, Duration)>,
    longest: Duration,
    log: Mutex<VecDeque<Instant>>,
    shared: Option<Shared>,
}

/// Where a shared budget keeps its log.
#[derive(Debug)]
struct Shared {
    system: String,
    pool: PgPool,
}

/// Why a call must wait: the limit that binds and how long until a slot frees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Wait {
    wait: Duration,
    used: usize,
    limit: usize,
    window: Duration,
}

/// The wait before one more call fits every limit, given the ages of recent calls (oldest
/// first), or `None` when it fits now.
fn wait_for(ages: &[Duration], limits: &[(usize, Duration)]) -> Option<Wait> {
    let mut worst: Option<Wait> = None;
    for &(requests, window) in limits {
        let in_window: Vec<Duration> = ages.iter().copied().filter(|a| *a < window).collect();
        if in_window.len() >= requests {
            let oldest_to_leave = in_window[in_window.len() - requests];
            let w = Wait {
                wait: window.saturating_sub(oldest_to_leave),
                used: in_window.len(),
                limit: requests,
                window,
            };
            if worst.is_none_or(|x| w.wait > x.wait) {
                worst = Some(w);
            }
        }
    }
    worst
}

impl RateBudget {
    /// A budget of this process alone, enforcing every limit at once. No limits means no
    /// waiting.
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
            shared: None,
        }
    }

    /// A budget shared through PostgreSQL by every process that calls `system`.
    pub fn shared(system: &str, limits: &[RateLimit], pool: PgPool) -> Self {
        RateBudget {
            shared: Some(Shared {
                system: system.to_string(),
                pool,
            }),
            ..RateBudget::new(limits)
        }
    }

    /// An unlimited budget (benchmarks, simulators without limits).
    pub fn unlimited() -> Self {
        RateBudget::new(&[])
    }

    /// Waits until one more call fits every limit, and records it.
    pub async fn acquire(&self) {
        if self.limits.is_empty() {
            return;
        }
        if let Some(s) = &self.shared {
            match self.acquire_shared(s).await {
                Ok(()) => return,
                Err(e) => {
                    tracing::warn!(system = %s.system, error = %crate::store::StoreError::from_sqlx("shared rate budget", e), "Shared rate budget unavailable; counting in this process only.");
                }
            }
        }
        self.acquire_local().await;
    }

    async fn acquire_local(&self) {
        let mut announced = false;
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
                let ages: Vec<Duration> = log.iter().map(|t| now.duration_since(*t)).collect();
                match wait_for(&ages, &self.limits) {
                    None => {
                        log.push_back(now);
                        return;
                    }
                    Some(w) => w,
                }
            };
            announce(&mut announced, "local", &wait);
            tokio::time::sleep(wait.wait).await;
        }
    }

    async fn acquire_shared(&self, s: &Shared) -> Result<(), sqlx::Error> {
        let mut announced = false;
        loop {
            let mut tx = s.pool.begin().await?;
            // The budget's rows are visible to every process at commit; not waiting for the WAL
            // flush only means a crash of the database server could forget the last moments'
            // calls (as it forgets their writes), and spares a flush per call.
            sqlx::query(
                "select pg_advisory_xact_lock(hashtext('runner.budget'), hashtext($1)), \
                 set_config('synchronous_commit', 'off', true)",
            )
            .bind(&s.system)
            .execute(&mut *tx)
            .await?;
            // Ages in microseconds, oldest first, by the database's clock.
            let ages: Vec<i64> = sqlx::query_scalar(
                "select (extract(epoch from clock_timestamp() - sent_at) * 1000000)::bigint \
                 from rate_budget_calls where system = $1 \
                   and sent_at > clock_timestamp() - make_interval(secs => $2) \
                 order by sent_at",
            )
            .bind(&s.system)
            .bind(self.longest.as_secs_f64())
            .fetch_all(&mut *tx)
            .await?;
            let ages: Vec<Duration> = ages
                .into_iter()
                .map(|us| Duration::from_micros(us.max(0).unsigned_abs()))
                .collect();
            match wait_for(&ages, &self.limits) {
                None => {
                    sqlx::query(
                        "insert into rate_budget_calls (system, sent_at) values ($1, clock_timestamp())",
                    )
                    .bind(&s.system)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query(
                        "delete from rate_budget_calls where system = $1 \
                         and sent_at < clock_timestamp() - make_interval(secs => $2)",
                    )
                    .bind(&s.system)
                    .bind(self.longest.as_secs_f64() + 60.0)
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    return Ok(());
                }
                Some(w) => {
                    tx.commit().await?;
                    announce(&mut announced, &s.system, &w);
                    tokio::time::sleep(w.wait).await;
                }
            }
        }
    }
}

/// Says once per wait that the budget is spent, e.g. "drchrono budget used: 500/500 per
/// 3600 s, next slot in 41 min".
fn announce(announced: &mut bool, system: &str, w: &Wait) {
    if *announced || w.wait < ANNOUNCE_AFTER {
        return;
    }
    *announced = true;
    let window_secs = w.window.saturating_sub(WINDOW_MARGIN).as_secs();
    tracing::info!(
        event = events::RATE_BUDGET_WAIT,
        system,
        used = w.used,
        limit = w.limit,
        window_secs,
        wait_secs = w.wait.as_secs(),
        "{system} budget used: {}/{} per {window_secs} s, next slot in {}.",
        w.used,
        w.limit,
        human(w.wait)
    );
}

fn human(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 120 {
        format!("{} min", s.div_ceil(60))
    } else {
        format!("{s} s")
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

    #[test]
    fn the_binding_limit_says_how_long_and_how_full() {
        let limits = [(2, Duration::from_secs(1)), (3, Duration::from_secs(3600))];
        let s = Duration::from_secs;
        assert_eq!(wait_for(&[s(5), s(2)], &limits), None);
        let w = wait_for(&[s(2000), s(5), s(2)], &limits).unwrap();
        assert_eq!((w.wait, w.used, w.limit), (s(1600), 3, 3));
        assert_eq!(human(w.wait), "27 min");
    }
}
