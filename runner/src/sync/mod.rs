//! Scheduled reconciliation: runs a pipeline's listing through the mapping engine into the
//! batched upsert, page by page, each page in one transaction with its audit rows, change
//! events, quarantined records and listing progress. Incremental pipelines advance their cursor
//! in the transaction of the last page, so a crash never skips a record; a record PostgreSQL
//! refuses goes to the quarantine and holds up nothing else; a complete listing soft-deletes
//! what disappeared upstream (and what references it), behind a mass-delete breaker.

mod cursor;
mod digest;
mod error;
mod full;
mod listing;
pub mod log;
mod order;
mod page;
pub mod quarantine;
mod run;
mod split;
pub mod verify;

pub use cursor::{ResumeState, parse as parse_cursor};
pub use error::SyncError;
pub use full::key_text;
pub use listing::{Segment, read_time, segments};
pub use order::{Job, run_in_order};
pub use page::record_key;
pub use run::{run_pipeline, upsert_target};

use std::time::Duration;

use crate::store::UpsertCounts;

/// The audit actor of scheduled reconciliation.
pub const ACTOR: &str = "drchrono_sync";

/// How a run is done.
#[derive(Debug, Clone, Default)]
pub struct SyncOptions {
    /// Ignore the incremental cursor and list everything.
    pub full: bool,
    /// Fetch and map, report what would change, write nothing (every transaction rolls back).
    pub dry_run: bool,
    /// List records changed since this date instead of the stored cursor.
    pub since: Option<chrono::NaiveDate>,
    /// Let full mode soft-delete more than the configured share of a table.
    pub allow_mass_delete: bool,
    /// What started the run (`cli`, `schedule`, `api`, ...), recorded in `sync_log`.
    pub trigger: String,
}

/// The outcome of one pipeline run.
#[derive(Debug, Clone, Default)]
pub struct SyncReport {
    /// The pipeline.
    pub pipeline: String,
    /// Pages fetched.
    pub pages: u64,
    /// Records fetched.
    pub records: u64,
    /// Upsert outcome.
    pub counts: UpsertCounts,
    /// Records recognized by their source digest (full listings): neither parsed nor sent,
    /// their rows unchanged. They are counted in `records` and `counts.unchanged` too.
    pub recognized: u64,
    /// Rows soft-deleted (full mode).
    pub soft_deleted: u64,
    /// Records put in the quarantine (refused by PostgreSQL or failing mapping).
    pub quarantined: u64,
    /// Why the run failed (ids and statuses only), or `None`.
    pub error: Option<String>,
    /// Whether the failure is worth retrying unchanged (the database or the source was away).
    pub transient: bool,
    /// Wall time.
    pub elapsed: Duration,
}

/// Receives progress of a run (a progress bar on a terminal, plain lines in CI).
pub trait Progress: Send + Sync {
    /// A page of `records` records was written; `segment` of `segments` is in progress.
    fn page(&self, pipeline: &str, records: u64, segment: usize, segments: usize);
}

/// Progress that goes nowhere.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn page(&self, _: &str, _: u64, _: usize, _: usize) {}
}
