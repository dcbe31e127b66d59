//! What `runner coda reconcile` reads from the config: the `coda.reconcile` block of
//! `pipelines/systems.yaml` (the daily run inside `runner serve`, the `listRows` page size) and
//! the `extra_rows` policy of a Coda mapping, with their semantic checks.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::diag::Diagnostics;
use super::load::Config;

/// Live reconciliation of the Coda tables with PostgreSQL. Every field has a default, so the
/// block may be left out.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Reconcile {
    /// Cron expression (5 fields, UTC) of the daily reconcile inside `runner serve` (roles
    /// `all` and `push`). Empty: never scheduled (the command still runs by hand). Default:
    /// `0 5 * * *`.
    #[serde(default = "default_schedule")]
    pub schedule: String,
    /// Whether the scheduled run repairs what it finds (as `--repair`) or only reports it.
    /// Default: true.
    #[serde(default = "default_true")]
    pub repair: bool,
    /// Rows asked for per `listRows` page (`limit`). Coda clamps a larger value silently, and
    /// the reader follows `nextPageToken` whatever the page size. Default: 500.
    #[serde(default = "default_page_size")]
    pub page_size: u32,
}

impl Default for Reconcile {
    fn default() -> Self {
        Reconcile {
            schedule: default_schedule(),
            repair: true,
            page_size: default_page_size(),
        }
    }
}

fn default_schedule() -> String {
    "0 5 * * *".into()
}

fn default_true() -> bool {
    true
}

fn default_page_size() -> u32 {
    500
}

/// What `runner coda reconcile --repair` does with a row of a Coda table whose merge key
/// matches no PostgreSQL row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExtraRows {
    /// Report it and leave it: staff may keep rows of their own in the table.
    #[default]
    Report,
    /// Delete it: the table holds nothing of Coda's own.
    Delete,
}

/// The `coda.reconcile` block has a valid schedule and page size, and no write-back
/// (Coda-owned) table lets reconcile delete rows: a row staff made there may not have reached
/// PostgreSQL yet.
pub(super) fn check(config: &Config, diags: &mut Diagnostics) {
    if let Some(doc) = &config.systems {
        let r = &doc.value.coda.reconcile;
        if !r.schedule.trim().is_empty()
            && let Some(d) =
                doc.source
                    .cron_error("/coda/reconcile/schedule", &r.schedule, "0 5 * * *")
        {
            diags.push(d);
        }
        if r.page_size == 0 {
            diags.push(
                doc.source
                    .error("/coda/reconcile/page_size", "a page holds at least one row"),
            );
        }
    }
    let Some(writeback) = &config.writeback else {
        return;
    };
    for doc in config.mappings.values() {
        let m = &doc.value;
        if m.extra_rows == ExtraRows::Delete
            && writeback
                .value
                .endpoints
                .iter()
                .any(|e| e.table == m.source)
        {
            diags.push(doc.source.error(
                "/extra_rows",
                format!(
                    "`{}` is written back from Coda: its extra rows may be staff work that has not reached PostgreSQL yet; use `report`",
                    m.source
                ),
            ));
        }
    }
}
