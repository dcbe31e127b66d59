//! `runner sync`: run pipelines against DrChrono in dependency order, independent ones at
//! once.

use std::path::Path;

use sqlx::PgPool;

use crate::config::{Needs, Plan, PlannedPipeline};
use crate::schedule::{IfLocked, PipelineLock};
use crate::source::RestClient;
use crate::sync::{Job, SyncOptions, SyncReport, run_in_order, run_pipeline};

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
    /// Pipelines run at once: each starts when the pipelines it depends on have finished, and
    /// all draw on the one DrChrono budget. Default 1: one after the other (what an operator
    /// who kills a run expects to find in sync_log: one interrupted pipeline). 2 shortens a
    /// backfill on a 2-core machine; more mostly costs memory (docs/DECISIONS.md).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=16))]
    pub parallel: u16,
}

/// Runs the command.
pub(super) async fn run(dir: &Path, args: Args) -> anyhow::Result<i32> {
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
    let jobs = selected
        .into_iter()
        .map(|p| Job {
            name: p.mapping.name.clone(),
            after: p.file.depends_on.clone(),
            input: p,
        })
        .collect();
    let mut failed = Vec::new();
    let mut lock_error = None;
    let run = |p| run_one(&pool, &client, &plan, p, &opts, &progress, &args);
    run_in_order(
        jobs,
        usize::from(args.parallel),
        run,
        |outcome| match outcome {
            Ok(Some(r)) => {
                if let Some(e) = r.error {
                    failed.push((r.pipeline, e));
                }
            }
            Ok(None) => {}
            Err(e) => lock_error = Some(e),
        },
    )
    .await;
    if let Some(e) = lock_error {
        return Err(e);
    }
    for (p, e) in &failed {
        eprintln!("FAILED {p}: {e}");
    }
    Ok(i32::from(!failed.is_empty()))
}

/// One pipeline under its lock, with its summary line. `None`: skipped (locked elsewhere).
async fn run_one(
    pool: &PgPool,
    client: &RestClient,
    plan: &Plan,
    p: &PlannedPipeline,
    opts: &SyncOptions,
    progress: &super::progress::CliProgress,
    args: &Args,
) -> anyhow::Result<Option<SyncReport>> {
    // The same per-pipeline lock as the scheduler and `/sync/*`: never two runs at once.
    let lock = if args.dry_run {
        None
    } else {
        match PipelineLock::try_acquire(pool, &p.mapping.name).await? {
            Some(l) => Some(l),
            None if args.if_locked == IfLocked::Skip => {
                println!(
                    "{:<18} skipped: another process is running it",
                    p.mapping.name
                );
                return Ok(None);
            }
            None => {
                eprintln!(
                    "{}: another process is running it; waiting for it to finish",
                    p.mapping.name
                );
                Some(PipelineLock::acquire(pool, &p.mapping.name).await?)
            }
        }
    };
    let r = run_pipeline(pool, client, plan, p, opts, progress).await;
    if let Some(l) = lock {
        l.release().await;
    }
    let c = r.counts;
    let verb = if args.dry_run {
        "would insert"
    } else {
        "inserted"
    };
    let recognized = if r.recognized > 0 {
        format!(" ({} by source digest)", r.recognized)
    } else {
        String::new()
    };
    let summary = format!(
        "{} pages, {} records: {verb} {}, updated {}, unchanged {}{recognized}, stale {}, soft-deleted {} in {:.1}s",
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
    Ok(Some(r))
}
