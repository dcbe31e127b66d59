//! `runner push`: a full, diff-only push of mapped tables to Coda. Rows whose content Coda
//! already holds (same hash as the last confirmed push) cost nothing, so a second push with
//! no change makes zero write calls. `--dry-run` prints what would be sent and the calls.
//! Pending outbox events are left alone: the worker finds their rows' hashes equal and
//! settles them without a call.
//!
//! Each Coda table is pushed under a lock: a second push of the same table waits for the first
//! (`--if-locked wait`, the default) or skips it (`--if-locked skip`). A table whose push
//! fails does not stop the others; the summary names it and the exit code is 1.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::Path;
use std::sync::Mutex;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use super::output::{errln, outln};
use crate::push::{FullOptions, IfLocked, MappingReport, PushProgress, push_full_with};

/// Arguments of `runner push`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Mappings to push: a mapping name (`mappings/<name>.yaml`) or the PostgreSQL table
    /// that feeds it.
    pub tables: Vec<String>,
    /// Push every mapping.
    #[arg(long)]
    pub all: bool,
    /// Print, per table, the rows that would be created, updated or removed and the calls
    /// it would make; send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// When another push holds a table: `wait` for it (then push what is left, usually
    /// nothing) or `skip` the table.
    #[arg(long, value_enum, default_value_t = IfLocked::Wait)]
    pub if_locked: IfLocked,
}

/// Bars on a terminal, a line per table elsewhere (shared with `runner coda reconcile`).
#[derive(Debug)]
pub(super) struct Progress {
    multi: Option<MultiProgress>,
    bars: Mutex<HashMap<String, ProgressBar>>,
}

impl Progress {
    pub(super) fn new() -> Self {
        let tty = std::io::stderr().is_terminal() && std::env::var_os("CI").is_none();
        Progress {
            multi: tty.then(MultiProgress::new),
            bars: Mutex::new(HashMap::new()),
        }
    }

    pub(super) fn finish(&self, mapping: &str) {
        let bars = self
            .bars
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(b) = bars.get(mapping) {
            b.finish_and_clear();
        }
    }
}

impl PushProgress for Progress {
    fn start(&self, mapping: &str, to_send: u64) {
        match &self.multi {
            Some(multi) if to_send > 0 => {
                let b = multi.add(ProgressBar::new(to_send));
                b.set_style(
                    ProgressStyle::with_template(
                        "{prefix:>22} {bar:20} {pos}/{len} rows  {per_sec}  [{elapsed_precise}, ETA {eta}]",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
                b.set_prefix(mapping.to_string());
                self.bars
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .insert(mapping.to_string(), b);
            }
            Some(_) => {}
            None => {
                let _ = errln!("{mapping}: {to_send} rows to send");
            }
        }
    }

    fn sent(&self, mapping: &str, sent: u64) {
        if let Some(b) = self
            .bars
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(mapping)
        {
            b.set_position(sent);
        } else if self.multi.is_none() {
            let _ = errln!("{mapping}: {sent} rows confirmed");
        }
    }

    fn waiting(&self, mapping: &str, table: &str) {
        let line = format!("{mapping}: another push holds Coda table {table}; waiting for it");
        match &self.multi {
            Some(multi) => {
                let _ = multi.println(line);
            }
            None => {
                let _ = errln!("{line}");
            }
        }
    }
}

/// Runs the command.
pub(super) async fn run(dir: &Path, args: Args) -> anyhow::Result<i32> {
    let (plan, selected, pool, coda) =
        super::context::coda_work(dir, &args.tables, args.all).await?;
    let progress = Progress::new();
    let opts = FullOptions {
        dry_run: args.dry_run,
        if_locked: args.if_locked,
    };
    let reports = push_full_with(&pool, &plan, &coda, &selected, opts, &progress).await?;
    let mut refused = 0;
    for r in &reports {
        progress.finish(&r.mapping);
        refused += r.report.rejected.len();
        print_report(r, args.dry_run)?;
    }
    let failed: Vec<&MappingReport> = reports.iter().filter(|r| r.failed.is_some()).collect();
    if !failed.is_empty() {
        let names: Vec<&str> = failed.iter().map(|r| r.mapping.as_str()).collect();
        errln!(
            "{} of {} table(s) failed: {}",
            failed.len(),
            reports.len(),
            names.join(", ")
        )?;
    }
    Ok(i32::from(refused > 0 || !failed.is_empty()))
}

/// One table's line (and its refused rows, or why it failed).
fn print_report(r: &MappingReport, dry_run: bool) -> std::io::Result<()> {
    let t = &r.report;
    if r.skipped {
        return outln!(
            "{:<22} skipped: another push holds Coda table {} (--if-locked skip)",
            r.mapping,
            r.table
        );
    }
    if let Some(reason) = &r.failed {
        outln!(
            "{:<22} FAILED after {} rows sent: {reason}",
            r.mapping,
            t.sent
        )?;
    } else if dry_run {
        outln!(
            "{:<22} {} rows: would create {}, update {}, remove {}; unchanged {}; calls: {} write, {} read",
            r.mapping,
            r.rows,
            t.created,
            t.sent - t.created,
            t.deleted,
            t.unchanged,
            t.write_calls,
            t.read_calls
        )?;
    } else {
        outln!(
            "{:<22} {} rows: sent {}, removed {}, unchanged {}, refused {}; {} write calls",
            r.mapping,
            r.rows,
            t.sent,
            t.deleted,
            t.unchanged,
            t.rejected.len(),
            t.write_calls
        )?;
    }
    for (id, reason) in &t.rejected {
        errln!("REFUSED {id}: {reason}")?;
    }
    Ok(())
}
