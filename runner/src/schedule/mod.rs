//! Scheduling: the `/sync/*` routes that Cloud Scheduler calls with an OIDC token, the
//! embedded cron scheduler of `runner serve`, and the per-pipeline advisory locks that keep
//! every trigger, on every instance, from running one pipeline twice at once.

pub mod lock;
mod routes;
mod run;
mod scheduler;

pub use lock::{IfLocked, PipelineLock};
pub use routes::{SYNC_WAIT, routes, routes_with_wait};
pub use run::{Outcome, run_locked, runnable};
pub use scheduler::{
    Clock, SystemClock, TokioClock, parse_schedule, spawn_scheduler, spawn_scheduler_with_clock,
};
