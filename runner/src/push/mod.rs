//! Coda push: the Coda client, column-ID mapping of rows to cells, diff-only batched
//! `upsertRows` confirmed through `mutationStatus`, the outbox worker and dead letters.
//!
//! - [`push_records`]: the current content of some rows of one PostgreSQL table, to every
//!   Coda table mapped from it ([`push_ids`], used by the outbox worker, also names the rows
//!   Coda refused). It does not touch the outbox: the caller settles its events.
//! - [`push_full`]: `runner push`, every row of the chosen mappings, diff-only.
//! - [`outbox`]: claims change events (`FOR UPDATE SKIP LOCKED`, tied to the worker's session
//!   by an advisory lock, with a lease as the fallback), pushes them, dead-letters rows Coda
//!   keeps refusing and the events of a table Coda refuses; [`spawn_outbox_worker`] runs it in
//!   `runner serve` (on `pending` events embedded, on `relayed` ones in the push role).
//!
//! Exactly-equal after a crash: upserts are keyed by the mapping's key columns, a hash is
//! recorded only after Coda confirmed the mutation, and an event is done only after that. A
//! crash between the write and its confirmation leaves the event pending and the hash
//! unrecorded, so the row is sent again and the keyed upsert overwrites the same Coda row.

mod cells;
mod client;
mod error;
mod full;
pub(crate) mod locks;
pub mod outbox;
mod refusal;
pub(crate) mod rows;
pub(crate) mod send;

use std::collections::HashMap;

use sqlx::PgPool;
use uuid::Uuid;

pub use cells::{
    CompiledMapping, Mappings, cell_text, coda_value, content_hash, row_json, same_cell,
};
pub use client::{CodaClient, CodaRow, DEFAULT_CONFIRM_TIMEOUT};
pub use error::{CodaError, PushError};
pub(crate) use full::lock_table;
pub use full::{
    FullOptions, IfLocked, MappingReport, NoPushProgress, PushProgress, push_full, push_full_with,
    select_mappings,
};
pub use locks::{WORKER_LOCK_CLASS, WorkerLock};
pub use outbox::{Claim, OutboxOptions, spawn_outbox_worker};
pub use send::{Mode, TableReport};

use crate::config::Plan;

/// What one push did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PushOutcome {
    /// Rows sent in `upsertRows` calls and confirmed.
    pub rows_sent: u64,
    /// Write calls made (upserts and deletes, refused ones included).
    pub calls: u64,
    /// Rows skipped because Coda already holds their content.
    pub unchanged: u64,
    /// Events moved to the dead letters (set by the outbox worker; [`push_records`] leaves it 0).
    pub dead: u64,
    /// Rows Coda refused (400/413 for the row alone, or a failing template).
    pub rejected: u64,
    /// Rows removed from Coda (soft- or hard-deleted in PostgreSQL).
    pub deleted: u64,
}

impl PushOutcome {
    fn add(&mut self, r: &TableReport) {
        self.rows_sent += r.sent;
        self.calls += r.write_calls;
        self.unchanged += r.unchanged;
        self.rejected += r.rejected.len() as u64;
        self.deleted += r.deleted;
    }

    /// Adds another outcome to this one.
    pub fn merge(&mut self, o: &PushOutcome) {
        self.rows_sent += o.rows_sent;
        self.calls += o.calls;
        self.unchanged += o.unchanged;
        self.dead += o.dead;
        self.rejected += o.rejected;
        self.deleted += o.deleted;
    }
}

/// Pushes the current content of rows `ids` of PostgreSQL table `table` to every Coda table
/// mapped from it, confirms the writes through `mutationStatus` and records their hashes.
/// Rows soft-deleted (with `skip_deleted`) or hard-deleted are removed from Coda. A table no
/// mapping reads is a no-op.
pub async fn push_records(
    pool: &PgPool,
    plan: &Plan,
    coda: &CodaClient,
    table: &str,
    ids: &[Uuid],
) -> Result<PushOutcome, PushError> {
    let mut outcome = PushOutcome::default();
    for (_, report) in push_ids(pool, plan, coda, table, ids).await? {
        outcome.add(&report);
    }
    Ok(outcome)
}

/// [`push_records`] with the report of each Coda table (mapping name, report), which names
/// the rows Coda refused.
pub async fn push_ids(
    pool: &PgPool,
    plan: &Plan,
    coda: &CodaClient,
    table: &str,
    ids: &[Uuid],
) -> Result<Vec<(String, TableReport)>, PushError> {
    let maps = &plan.coda_mappings;
    let mappings: Vec<&CompiledMapping> = maps.for_source(table).collect();
    if mappings.is_empty() || ids.is_empty() {
        return Ok(Vec::new());
    }
    // Every mapping of `table` names it as its source, an identifier since compilation.
    let source = &mappings[0].source;
    let mut found = rows::read_by_ids(pool, source, ids).await?;
    let present: std::collections::HashSet<Uuid> = found.iter().map(|r| r.id).collect();
    let missing: Vec<Uuid> = ids
        .iter()
        .filter(|i| !present.contains(i))
        .copied()
        .collect();
    if !missing.is_empty() {
        found.extend(rows::deleted_rows(pool, table, &missing).await?);
    }
    let mut out = Vec::new();
    for m in mappings {
        let pushed: HashMap<Uuid, rows::Pushed> = rows::hashes(pool, &m.table, Some(ids)).await?;
        let report =
            send::push_mapping(pool, coda, maps, m, found.clone(), &pushed, Mode::Events).await?;
        out.push((m.name.clone(), report));
    }
    Ok(out)
}
