//! The asynchronous side of writes: accepted mutations wait in a FIFO queue until their due
//! time, then apply in acceptance order; `mutationStatus` reads their state here.

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use serde_json::{Value, json};

use super::stats::CodaStats;
use super::store::{Cells, Store};

/// An accepted change, with every reference already resolved to ids.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Op {
    /// `upsertRows`.
    Upsert {
        /// The doc id.
        doc: String,
        /// The table id.
        table: String,
        /// Cells of each row, by column id.
        rows: Vec<Cells>,
        /// Key column ids; empty for a plain insert.
        keys: Vec<String>,
        /// Ids promised in `addedRowIds` (plain inserts only).
        ids: Vec<String>,
    },
    /// `updateRow`.
    Update {
        /// The doc id.
        doc: String,
        /// The table id.
        table: String,
        /// The row id.
        row: String,
        /// The cells to write.
        cells: Cells,
    },
    /// `deleteRows` and `deleteRow`.
    Delete {
        /// The doc id.
        doc: String,
        /// The table id.
        table: String,
        /// Row ids; unknown ones are ignored.
        rows: Vec<String>,
    },
}

#[derive(Debug)]
struct Pending {
    id: String,
    due: Instant,
    op: Op,
}

/// The queue and the status of every mutation seen.
#[derive(Debug, Default)]
pub(crate) struct Mutations {
    queue: VecDeque<Pending>,
    /// `None` while pending; `Some(warning)` once applied.
    status: HashMap<String, Option<Option<String>>>,
}

impl Mutations {
    /// Queues a mutation, due at `due`.
    pub(crate) fn push(&mut self, id: String, due: Instant, op: Op) {
        self.status.insert(id.clone(), None);
        self.queue.push_back(Pending { id, due, op });
    }

    /// The spec's `MutationStatus` of a request id, or `None` for an unknown one.
    pub(crate) fn status(&self, id: &str) -> Option<Value> {
        Some(match self.status.get(id)? {
            None => json!({"completed": false}),
            Some(None) => json!({"completed": true}),
            Some(Some(w)) => json!({"completed": true, "warning": w}),
        })
    }

    /// Mutations not applied yet.
    pub(crate) fn pending(&self) -> usize {
        self.queue.len()
    }

    /// Applies queued mutations in order while the head is due (all of them with
    /// `now = None`). A head that is not due holds back later ones, keeping the order.
    pub(crate) fn apply_due(
        &mut self,
        now: Option<Instant>,
        store: &mut Store,
        stats: &mut CodaStats,
    ) {
        while self
            .queue
            .front()
            .is_some_and(|p| now.is_none_or(|n| p.due <= n))
        {
            let Some(p) = self.queue.pop_front() else {
                break;
            };
            let warning = apply(&p.op, store, stats);
            stats.mutations_applied += 1;
            self.status.insert(p.id, Some(warning));
        }
    }
}

/// Applies one mutation; returns a warning when it found its table or row gone.
fn apply(op: &Op, store: &mut Store, stats: &mut CodaStats) -> Option<String> {
    let gone = |doc: &str, table: &str, s: &Store| s.table(doc, table).is_err();
    match op {
        Op::Upsert {
            doc,
            table,
            rows,
            keys,
            ids,
        } => {
            if gone(doc, table, store) {
                return Some("The table no longer exists.".into());
            }
            let (added, updated) = store.upsert(doc, table, rows, keys, ids);
            stats.rows_added += added;
            stats.rows_updated += updated;
            None
        }
        Op::Update {
            doc,
            table,
            row,
            cells,
        } => {
            let position = store
                .table(doc, table)
                .ok()
                .and_then(|t| t.rows.iter().position(|r| &r.id == row));
            let Some(position) = position else {
                return Some("The row no longer exists.".into());
            };
            store.write_cells(doc, table, position, cells);
            stats.rows_updated += 1;
            None
        }
        Op::Delete { doc, table, rows } => {
            if gone(doc, table, store) {
                return Some("The table no longer exists.".into());
            }
            stats.rows_deleted += store.delete_rows(doc, table, rows) as u64;
            None
        }
    }
}
