//! The embedded scheduler: every pipeline with a list endpoint runs on the cron of its file
//! (`schedule`, UTC, default every 15 minutes) when `runner serve` runs without Cloud
//! Scheduler.
//!
//! Each pipeline has its own loop, so a long run of one does not delay the others. A loop
//! sleeps until the next fire time, tries the pipeline's advisory lock (busy: skip this fire,
//! nothing is queued), runs the sync with trigger `schedule`, and computes the next fire time
//! from the end of the run: fires missed during a long run are skipped, not caught up. Cron
//! expressions may have an optional leading seconds field (`*/2 * * * * *`); the shipped
//! config validates 5 fields, tests use seconds.

use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use croner::Cron;
use croner::parser::{CronParser, Seconds};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use super::run::{Outcome, run_locked, runnable};
use crate::app::AppState;

/// The time the scheduler reads. Injectable so that tests can drive it with tokio's paused
/// clock.
pub trait Clock: Send + Sync + std::fmt::Debug + 'static {
    /// Now, in UTC.
    fn now(&self) -> DateTime<Utc>;
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A wall clock that advances with tokio's clock from a fixed start, so that
/// `#[tokio::test(start_paused = true)]` tests can jump through hours instantly.
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    start_wall: DateTime<Utc>,
    start: tokio::time::Instant,
}

impl TokioClock {
    /// A clock that reads `start` now.
    pub fn starting_at(start: DateTime<Utc>) -> Self {
        TokioClock {
            start_wall: start,
            start: tokio::time::Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> DateTime<Utc> {
        let elapsed = chrono::Duration::from_std(self.start.elapsed()).unwrap_or_default();
        self.start_wall + elapsed
    }
}

/// Parses a schedule: 5-field cron, or 6 fields with leading seconds.
pub fn parse_schedule(expr: &str) -> Result<Cron, croner::errors::CronError> {
    CronParser::builder()
        .seconds(Seconds::Optional)
        .build()
        .parse(expr)
}

/// Starts the scheduler on the system clock. It stops when `shutdown` resolves: no new run
/// starts, runs in progress finish, then the handle completes. Aborting the handle cancels
/// runs in progress (their lock sessions close, which releases the locks).
pub fn spawn_scheduler(state: AppState, shutdown: impl Future + Send + 'static) -> JoinHandle<()> {
    spawn_scheduler_with_clock(state, shutdown, Arc::new(SystemClock))
}

/// [`spawn_scheduler`] on the given clock.
pub fn spawn_scheduler_with_clock(
    state: AppState,
    shutdown: impl Future + Send + 'static,
    clock: Arc<dyn Clock>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut loops = JoinSet::new();
        for p in runnable(&state.plan) {
            let name = p.mapping.name.clone();
            let cron = match parse_schedule(&p.file.schedule) {
                Ok(c) => c,
                Err(e) => {
                    // `runner validate` rejects this; never guess a schedule.
                    tracing::error!(pipeline = %name, error = %e, "Invalid schedule; pipeline not scheduled.");
                    continue;
                }
            };
            let state = state.clone();
            let action = move || {
                let state = state.clone();
                let name = name.clone();
                async move { fire(&state, &name).await }
            };
            loops.spawn(cron_loop(cron, clock.clone(), stop_rx.clone(), action));
        }
        tracing::info!(pipelines = loops.len(), "Scheduler started.");
        shutdown.await;
        let _ = stop_tx.send(true);
        while loops.join_next().await.is_some() {}
        tracing::info!("Scheduler stopped.");
    })
}

/// One scheduled fire of `name`.
async fn fire(state: &AppState, name: &str) {
    let Some(p) = state.plan.pipeline(name) else {
        return;
    };
    match run_locked(state, p, "schedule").await {
        Ok(Outcome::Ran(_) | Outcome::AlreadyRunning) => {}
        Err(e) => {
            tracing::warn!(pipeline = %name, error = %e, "Scheduled sync skipped: cannot take the lock.");
        }
    }
}

/// Calls `action` at every fire time of `cron` until `stop` turns true. A fire in progress
/// is not interrupted by `stop`.
async fn cron_loop<F, Fut>(
    cron: Cron,
    clock: Arc<dyn Clock>,
    mut stop: watch::Receiver<bool>,
    mut action: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut last: Option<DateTime<Utc>> = None;
    loop {
        // Never fire the same time twice, even if the clock reads slightly early after a sleep.
        let now = clock.now();
        let from = last.map_or(now, |l| l.max(now));
        let next = match cron.find_next_occurrence(&from, false) {
            Ok(n) => n,
            Err(e) => {
                tracing::error!(error = %e, "Schedule has no next fire time; loop stopped.");
                return;
            }
        };
        let wait = (next - now).to_std().unwrap_or_default();
        if *stop.borrow() {
            return;
        }
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
        }
        last = Some(next);
        action().await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Duration;

    use chrono::TimeZone;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_loop_fires_on_each_cron_time_and_skips_times_missed_by_a_long_run() {
        let start = Utc.with_ymd_and_hms(2026, 1, 5, 10, 7, 0).unwrap();
        let clock: Arc<dyn Clock> = Arc::new(TokioClock::starting_at(start));
        let fired = Arc::new(Mutex::new(Vec::new()));
        let (stop_tx, stop_rx) = watch::channel(false);
        let (c, f) = (clock.clone(), fired.clone());
        let action = move || {
            let (c, f) = (c.clone(), f.clone());
            async move {
                let n = f.lock().unwrap().len();
                f.lock().unwrap().push(c.now());
                // The second run lasts 40 minutes: 10:45 and 11:00 are skipped.
                if n == 1 {
                    tokio::time::sleep(Duration::from_secs(40 * 60)).await;
                }
            }
        };
        let cron = parse_schedule("*/15 * * * *").unwrap();
        let h = tokio::spawn(cron_loop(cron, clock, stop_rx, action));
        tokio::time::sleep(Duration::from_secs(70 * 60)).await;
        stop_tx.send(true).unwrap();
        h.await.unwrap();
        let at = |h, m| Utc.with_ymd_and_hms(2026, 1, 5, h, m, 0).unwrap();
        assert_eq!(
            *fired.lock().unwrap(),
            vec![at(10, 15), at(10, 30), at(11, 15)]
        );
    }

    #[test]
    fn schedules_take_five_fields_or_six_with_seconds() {
        assert!(parse_schedule("*/15 * * * *").is_ok());
        assert!(parse_schedule("*/2 * * * * *").is_ok());
        assert!(parse_schedule("99 * * * *").is_err());
    }
}
