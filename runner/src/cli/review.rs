//! `runner review`: the rows that wait for manual review, as ids and reasons only (no names,
//! dates or note text: the terminal may be shared or logged).

use std::path::Path;

use crate::config::Needs;

/// Arguments of `runner review`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs the command.
pub(super) async fn run(dir: &Path, _args: Args) -> anyhow::Result<i32> {
    let plan = super::context::plan(dir, Needs::NONE)?;
    let links = &plan.link_rules;
    let pool = super::context::database().await?;
    let mut conn = pool.acquire().await?;
    let items = links.review_queue(&mut conn).await?;
    if items.is_empty() {
        println!("Nothing waits for review.");
        return Ok(0);
    }
    let width = items.iter().map(|i| i.rule.len()).max().unwrap_or(0).max(4);
    println!("{:<36}  {:<width$}  reason", "id", "rule");
    for i in &items {
        println!(
            "{:<36}  {:<width$}  {}",
            i.id,
            i.rule,
            i.reason.as_deref().unwrap_or("-")
        );
    }
    println!("{} row(s) wait for review.", items.len());
    Ok(0)
}
