//! `runner retention`: one retention run (see [`crate::retention`]): purge Pub/Sub dedupe ids
//! older than 7 days, create the audit partitions of the coming months, archive the partitions
//! older than the hot period to the audit bucket and detach them, drop archived partitions
//! after 7 years. `runner serve` does it daily; this verb is the Cloud Run job (run as the
//! schema owner, which archiving needs) and a manual tool. Exit 1 when a step failed.

use std::path::Path;

use crate::config::Needs;
use crate::gcp::Storage;

/// Arguments of `runner retention` (settings come from `systems.yaml` `retention`).
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs the command.
pub(super) async fn run(dir: &Path, _args: Args) -> anyhow::Result<i32> {
    let plan = super::context::plan(dir, Needs::NONE)?;
    let pool = super::context::database_current().await?;
    let settings = &plan.systems.retention;
    let storage = Storage::from_env(Some(pool.clone()));
    match crate::retention::run_once(&pool, settings, Some(&storage), chrono::Utc::now()).await {
        Ok(r) => {
            println!(
                "Purged {} processed Pub/Sub message id(s) older than 7 days.",
                r.purged_messages
            );
            println!("Created {} audit partition(s) ahead.", r.partitions_created);
            for a in &r.archived {
                println!(
                    "Archived {} ({} rows, {} bytes) to {} and detached it.",
                    a.partition, a.rows, a.bytes, a.object
                );
            }
            for d in &r.dropped {
                println!(
                    "Dropped {d} (archived, older than {} years).",
                    settings.keep_years
                );
            }
            if let Some(why) = r.archive_skipped {
                println!("Archive skipped: {why}.");
            }
            Ok(0)
        }
        Err(e) => {
            eprintln!(
                "error: retention failed: {e}; nothing of the failed partition was detached or dropped"
            );
            Ok(1)
        }
    }
}
