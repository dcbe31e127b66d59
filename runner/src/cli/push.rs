//! `runner push`: a full, diff-only push of mapped tables to Coda. Rows whose content Coda
//! already holds (same hash as the last confirmed push) cost nothing, so a second push with
//! no change makes zero write calls. `--dry-run` prints what would be sent and the calls.
//! Pending outbox events are left alone: the worker finds their rows' hashes equal and
//! settles them without a call.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::Path;
use std::sync::Mutex;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use crate::config::Needs;
use crate::push::{CodaClient, PushProgress, push_full, select_mappings};

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
}

/// Bars on a terminal, a line per table elsewhere.
#[derive(Debug)]
struct Progress {
    multi: Option<MultiProgress>,
    bars: Mutex<HashMap<String, ProgressBar>>,
}

impl Progress {
    fn new() -> Self {
        let tty = std::io::stderr().is_terminal() && std::env::var_os("CI").is_none();
        Progress {
            multi: tty.then(MultiProgress::new),
            bars: Mutex::new(HashMap::new()),
        }
    }

    fn finish(&self, mapping: &str) {
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
            None => eprintln!("{mapping}: {to_send} rows to send"),
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
            eprintln!("{mapping}: {sent} rows confirmed");
        }
    }
}

/// Runs the command.
pub async fn run(dir: &Path, args: Args) -> anyhow::Result<i32> {
    if args.all != args.tables.is_empty() {
        anyhow::bail!("name tables or pass --all (not both)");
    }
    let plan = super::context::plan(
        dir,
        Needs {
            coda: true,
            ..Needs::NONE
        },
    )?;
    let selected = select_mappings(&plan, &args.tables, args.all)?;
    let pool = super::context::database().await?;
    let coda = CodaClient::new(&plan.systems.coda, pool.clone());
    let progress = Progress::new();
    let reports = push_full(&pool, &plan, &coda, &selected, args.dry_run, &progress).await?;
    let mut refused = 0;
    for r in &reports {
        progress.finish(&r.mapping);
        let t = &r.report;
        refused += t.rejected.len();
        if args.dry_run {
            println!(
                "{:<22} {} rows: would create {}, update {}, remove {}; unchanged {}; calls: {} write, {} read",
                r.mapping,
                r.rows,
                t.created,
                t.sent - t.created,
                t.deleted,
                t.unchanged,
                t.write_calls,
                t.read_calls
            );
        } else {
            println!(
                "{:<22} {} rows: sent {}, removed {}, unchanged {}, refused {}; {} write calls",
                r.mapping,
                r.rows,
                t.sent,
                t.deleted,
                t.unchanged,
                t.rejected.len(),
                t.write_calls
            );
            for (id, reason) in &t.rejected {
                eprintln!("REFUSED {id}: {reason}");
            }
        }
    }
    Ok(i32::from(refused > 0))
}
