//! `runner verify`: DrChrono versus PostgreSQL, per pipeline (the seed's data verification).

use std::path::Path;

use crate::config::Needs;
use crate::source::RestClient;
use crate::sync::verify::verify;

/// Arguments of `runner verify`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Pipelines to verify (default: all with a list endpoint).
    pub pipelines: Vec<String>,
}

/// Runs the command.
pub(super) async fn run(dir: &Path, args: Args) -> anyhow::Result<i32> {
    let plan = super::context::plan(dir, Needs::DRCHRONO)?;
    let all = args.pipelines.is_empty();
    let selected = super::context::select(&plan, &args.pipelines, all)?;
    let pool = super::context::database().await?;
    let client = RestClient::drchrono(&plan.systems.drchrono, pool.clone());
    println!(
        "{:<18} {:>10} {:>10} {:>6}  result",
        "pipeline", "drchrono", "postgres", "keys"
    );
    let mut bad = 0;
    let mut notes = Vec::new();
    for p in selected {
        let v = verify(&pool, &client, &plan, p).await;
        let result = match (&v.error, v.ok()) {
            (Some(e), _) => format!("ERROR {e}"),
            (None, true) => "ok".into(),
            (None, false) => format!(
                "MISMATCH{}{}",
                if v.missing.is_empty() {
                    String::new()
                } else {
                    format!(" missing {}", preview(&v.missing))
                },
                if v.extra.is_empty() {
                    String::new()
                } else {
                    format!(" extra {}", preview(&v.extra))
                }
            ),
        };
        if !v.ok() {
            bad += 1;
        }
        let waiting = [
            (
                v.quarantined,
                "record(s) in the quarantine (runner replay --quarantine)",
            ),
            (v.unmappable, "upstream record(s) that do not map"),
            (
                v.unresolved,
                "row(s) whose parent is not in PostgreSQL (unresolved reference)",
            ),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{}: {n} {what}", v.pipeline))
        .collect::<Vec<_>>();
        notes.extend(waiting);
        println!(
            "{:<18} {:>10} {:>10} {:>6}  {result}",
            v.pipeline,
            v.upstream,
            v.local,
            if v.keys_compared { "yes" } else { "count" }
        );
    }
    if !notes.is_empty() {
        println!();
        for n in &notes {
            println!("{n}");
        }
    }
    Ok(i32::from(bad > 0))
}

fn preview(keys: &[String]) -> String {
    let shown: Vec<&str> = keys.iter().take(5).map(String::as_str).collect();
    let more = keys.len().saturating_sub(shown.len());
    format!(
        "{}{}",
        shown.join(" "),
        if more > 0 {
            format!(" (+{more})")
        } else {
            String::new()
        }
    )
}
