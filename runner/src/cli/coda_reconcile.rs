//! `runner coda reconcile [<table>... | --all] [--dry-run] [--repair]`: reads every chosen
//! Coda table and compares it with what the mappings make of PostgreSQL (see
//! [`crate::reconcile`]); prints per table the rows missing in Coda, the rows Coda holds that
//! PostgreSQL does not, the cells that differ (column label and record id, never a value) and
//! the keys Coda holds twice. `--repair` writes the fewest calls that make Coda equal
//! PostgreSQL for the synced columns; `--dry-run` with it counts them and writes nothing.
//!
//! Exit 0: no drift left (none found, or all repaired); 1: drift left for a person (a report,
//! extra rows kept, write-back values not in PostgreSQL, rows Coda refused); 2: Coda could
//! not be read (unreachable, 401: nothing more was written), a table is missing, or the
//! config or database is unusable.

use std::path::Path;

use anyhow::Context;
use uuid::Uuid;

use super::output::{errln, outln};
use super::push::Progress;
use crate::reconcile::{Options, TableOutcome, reconcile};

/// Ids printed per finding before "and N more".
const SHOWN: usize = 20;

/// Arguments of `runner coda reconcile`.
#[derive(Debug, clap::Args)]
pub struct ReconcileArgs {
    /// Mappings to reconcile: a mapping name (`mappings/<name>.yaml`) or the PostgreSQL table
    /// that feeds it.
    pub tables: Vec<String>,
    /// Reconcile every mapping.
    #[arg(long)]
    pub all: bool,
    /// Write the repairs: upsert missing and changed rows, delete the extra rows of a
    /// duplicated key, and rows PostgreSQL does not have where the mapping says
    /// `extra_rows: delete`. Takes the same per-table lock as `runner push`.
    #[arg(long)]
    pub repair: bool,
    /// With `--repair`: count the writes it would make; write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// Runs the command.
pub(super) async fn run(dir: &Path, args: ReconcileArgs) -> anyhow::Result<i32> {
    let (plan, selected, pool, coda) =
        super::context::coda_work(dir, &args.tables, args.all).await?;
    let opts = Options {
        repair: args.repair,
        dry_run: args.dry_run,
        trigger: "cli".into(),
    };
    let progress = Progress::new();
    let mut printed = Ok(());
    let outcomes = reconcile(&pool, &plan, &coda, &selected, &opts, &progress, &mut |t| {
        progress.finish(&t.mapping);
        if printed.is_ok() {
            printed = print(t, &opts);
        }
    })
    .await
    .context("nothing more was written to Coda")?;
    printed?;
    let failed: Vec<&str> = outcomes
        .iter()
        .filter(|t| t.failed.is_some())
        .map(|t| t.mapping.as_str())
        .collect();
    let left: u64 = outcomes.iter().map(|t| t.unrepaired(&opts)).sum();
    if !failed.is_empty() {
        errln!(
            "{} of {} table(s) not reconciled: {}",
            failed.len(),
            outcomes.len(),
            failed.join(", ")
        )?;
        return Ok(2);
    }
    if left > 0 {
        let hint = if opts.repair && !opts.dry_run {
            "left for a person (docs/RUNBOOK.md, \"Coda drift\")"
        } else {
            "found; `--repair` repairs what it may"
        };
        errln!("{left} row(s) of drift {hint}")?;
        return Ok(1);
    }
    outln!("Coda equals PostgreSQL for {} table(s).", outcomes.len())?;
    Ok(0)
}

/// One table's summary line and its findings.
fn print(t: &TableOutcome, opts: &Options) -> std::io::Result<()> {
    if let Some(reason) = &t.failed {
        return outln!("{:<22} FAILED: {reason}", t.mapping);
    }
    let d = &t.drift;
    let duplicates: usize = d.duplicates.iter().map(|x| x.others.len()).sum();
    let mut line = format!(
        "{:<22} {} rows in PostgreSQL, {} in Coda ({} read calls): {} missing, {} changed, {} extra, {} duplicate",
        t.mapping,
        t.expected,
        t.coda_rows,
        t.read_calls,
        d.missing.len(),
        d.changed.len(),
        d.extra.len(),
        duplicates
    );
    if opts.repair {
        let r = &t.repaired;
        let verb = if opts.dry_run {
            "would write"
        } else {
            "repaired"
        };
        line.push_str(&format!(
            "; {verb}: {} upserted, {} deleted ({} write calls)",
            r.upserted, r.deleted, r.write_calls
        ));
    }
    outln!("{line}")?;
    if t.coda_owned && !(d.changed.is_empty() && d.extra.is_empty()) {
        outln!(
            "  write-back table: Coda values PostgreSQL does not have are reported, never overwritten"
        )?;
    }
    ids("missing in Coda", d.missing.iter().map(Uuid::to_string))?;
    let changed = if t.coda_owned {
        "Coda value not in PostgreSQL"
    } else {
        "changed in Coda"
    };
    for (label, records) in &t.changed_labels {
        ids(
            &format!("{changed}: {label}"),
            records.iter().map(Uuid::to_string),
        )?;
    }
    ids("in Coda only (Coda row)", d.extra.iter().cloned())?;
    ids(
        "key held twice (record: kept row, other rows)",
        d.duplicates
            .iter()
            .map(|x| format!("{}: {} + {}", x.record, x.keep, x.others.join(" "))),
    )?;
    for (id, reason) in t.unmapped.iter().chain(&t.repaired.rejected) {
        errln!("  REFUSED {id}: {reason}")?;
    }
    Ok(())
}

/// `  what (n): a, b, c and N more`, when there is any.
fn ids(what: &str, list: impl Iterator<Item = String>) -> std::io::Result<()> {
    let all: Vec<String> = list.collect();
    if all.is_empty() {
        return Ok(());
    }
    let more = all.len().saturating_sub(SHOWN);
    let shown = all
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if more > 0 {
        outln!("  {what} ({}): {shown} and {more} more", all.len())
    } else {
        outln!("  {what} ({}): {shown}", all.len())
    }
}
