//! `runner replay`: re-process inbox entries (by default every `received` and `failed` one),
//! or with `--quarantine` the source records waiting in the quarantine. Idempotent: rows that
//! did not change are not written again.

use std::path::Path;

use chrono::{DateTime, NaiveDate, Utc};

use crate::config::Needs;
use crate::ingest::{ReplayFilter, replay};

/// Arguments of `runner replay`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only entries whose processing failed.
    #[arg(long)]
    pub failed: bool,
    /// Only entries received since this instant (RFC 3339) or date (YYYY-MM-DD, UTC midnight).
    #[arg(long, value_parser = parse_since)]
    pub since: Option<DateTime<Utc>>,
    /// Only this entry (repeatable). Named entries are replayed whatever their status, unless
    /// `--failed` is given.
    #[arg(long = "id", value_name = "N")]
    pub ids: Vec<i64>,
    /// Write the quarantined source records again (all open ones, or the `--id`s given)
    /// instead of inbox entries.
    #[arg(long, conflicts_with_all = ["failed", "since"])]
    pub quarantine: bool,
}

/// Parses `--since`: RFC 3339, or a date meaning midnight UTC.
pub(super) fn parse_since(s: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .ok_or_else(|| format!("{s:?} is neither an RFC 3339 time nor a YYYY-MM-DD date"))
}

/// Runs the command.
pub(super) async fn run(dir: &Path, args: Args) -> anyhow::Result<i32> {
    // Entries of pipelines that re-read their record from DrChrono need its credentials.
    let plan = super::context::plan(dir, Needs::DRCHRONO)?;
    let pool = super::context::database().await?;
    if args.quarantine {
        let r = crate::sync::quarantine::replay(&pool, &plan, &args.ids).await?;
        let c = r.counts;
        println!(
            "quarantine: {} resolved (inserted {}, updated {}, unchanged {}, stale {}), {} still failing",
            r.resolved,
            c.inserted,
            c.updated,
            c.unchanged,
            c.stale,
            r.failed.len()
        );
        for (id, reason) in &r.failed {
            eprintln!("FAILED quarantine {id}: {reason}");
        }
        return Ok(i32::from(!r.failed.is_empty()));
    }
    let client = crate::source::RestClient::drchrono(&plan.systems.drchrono, pool.clone());
    while crate::ingest::refetch_pending(&pool, &plan, &client).await? > 0 {}
    let filter = ReplayFilter {
        only_failed: args.failed,
        since: args.since,
        ids: args.ids,
    };
    let r = replay(&pool, &plan, &filter).await?;
    let c = r.counts;
    println!(
        "{} selected: {} processed (inserted {}, updated {}, unchanged {}, stale {}), {} ignored, {} failed, {} skipped",
        r.selected,
        r.processed,
        c.inserted,
        c.updated,
        c.unchanged,
        c.stale,
        r.ignored,
        r.failed.len(),
        r.skipped
    );
    for (id, reason) in &r.failed {
        eprintln!("FAILED inbox {id}: {reason}");
    }
    Ok(i32::from(!r.failed.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_a_time_or_a_date() {
        assert_eq!(
            parse_since("2024-03-05T10:00:00+02:00")
                .unwrap()
                .to_rfc3339(),
            "2024-03-05T08:00:00+00:00"
        );
        assert_eq!(
            parse_since("2024-03-05").unwrap().to_rfc3339(),
            "2024-03-05T00:00:00+00:00"
        );
        assert!(parse_since("yesterday").is_err());
    }
}
