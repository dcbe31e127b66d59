//! `runner sync`: run pipelines against DrChrono in dependency order.

use std::path::Path;

use crate::config::Needs;
use crate::schedule::IfLocked;
use crate::source::RestClient;
use crate::sync::{SyncOptions, run_pipeline};

/// Arguments of `runner sync`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Pipelines to run (file stems, e.g. `patients`).
    pub pipelines: Vec<String>,
    /// Run every pipeline that has a list endpoint.
    #[arg(long)]
    pub all: bool,
    /// Ignore incremental cursors and list everything.
    #[arg(long)]
    pub full: bool,
    /// Fetch and map, report what would change, write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// List records changed since this date (YYYY-MM-DD) instead of the stored cursor.
    #[arg(long)]
    pub since: Option<chrono::NaiveDate>,
    /// Allow full mode to soft-delete more than the configured share of a table.
    #[arg(long)]
    pub allow_mass_delete: bool,
    /// When another process runs a pipeline: `wait` for it to finish, then run (the
    /// default), or `skip` the pipeline (exit 0, and say so).
    #[arg(long, value_enum, default_value_t = IfLocked::Wait)]
    pub if_locked: IfLocked,
}

/// Runs the command.
pub async fn run(dir: &Path, args: Args) -> anyhow::Result<i32> {
    let plan = super::context::plan(dir, Needs::DRCHRONO)?;
    let selected = super::context::select(&plan, &args.pipelines, args.all)?;
    let pool = super::context::database().await?;
    let client = RestClient::drchrono(&plan.systems.drchrono, pool.clone());
    let opts = SyncOptions {
        full: args.full,
        dry_run: args.dry_run,
        since: args.since,
        allow_mass_delete: args.allow_mass_delete,
        trigger: "cli".into(),
    };
    let progress = super::progress::CliProgress::new();
    let mut failed = Vec::new();
    for p in selected {
        // The same per-pipeline lock as the scheduler and `/sync/*`: never two runs at once.
        let lock = if args.dry_run {
            None
        } else {
            use crate::schedule::PipelineLock;
            match PipelineLock::try_acquire(&pool, &p.mapping.name).await? {
                Some(l) => Some(l),
                None if args.if_locked == IfLocked::Skip => {
                    println!(
                        "{:<18} skipped: another process is running it",
                        p.mapping.name
                    );
                    continue;
                }
                None => {
                    eprintln!(
                        "{}: another process is running it; waiting for it to finish",
                        p.mapping.name
                    );
                    Some(PipelineLock::acquire(&pool, &p.mapping.name).await?)
                }
            }
        };
        let r = run_pipeline(&pool, &client, &plan, p, &opts, &progress).await;
        if let Some(l) = lock {
            l.release().await;
        }
        let c = r.counts;
        let verb = if args.dry_run {
            "would insert"
        } else {
            "inserted"
        };
        let summary = format!(
            "{} pages, {} records: {verb} {}, updated {}, unchanged {}, stale {}, soft-deleted {} in {:.1}s",
            r.pages,
            r.records,
            c.inserted,
            c.updated,
            c.unchanged,
            c.stale,
            r.soft_deleted,
            r.elapsed.as_secs_f64()
        );
        progress.finish(&r.pipeline, &summary);
        println!("{:<18} {summary}", r.pipeline);
        if let Some(e) = r.error {
            failed.push((r.pipeline, e));
        }
    }
    for (p, e) in &failed {
        eprintln!("FAILED {p}: {e}");
    }
    Ok(i32::from(!failed.is_empty()))
}
