//! `runner link`: re-run every linking rule of `pipelines/links.yaml` over the whole database,
//! in one transaction under the audit actor `link_rules`.

use std::path::Path;

use anyhow::Context;

use crate::config::Needs;
use crate::link::LinkCounts;
use crate::store;

/// The audit actor of `runner link`.
const ACTOR: &str = "link_rules";

/// Arguments of `runner link`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs the command.
pub(super) async fn run(dir: &Path, _args: Args) -> anyhow::Result<i32> {
    let plan = super::context::plan(dir, Needs::NONE)?;
    let links = &plan.link_rules;
    let pool = super::context::database().await?;
    let mut tx = pool.begin().await.context("cannot begin a transaction")?;
    store::set_actor(&mut tx, ACTOR).await?;
    let LinkCounts { linked, review } = links.run(&mut tx, None).await?;
    let waiting = links.review_queue(&mut tx).await?.len();
    tx.commit().await.context("cannot commit the links")?;
    println!("Linked {linked} row(s); flagged {review} for review; {waiting} wait for review.");
    Ok(0)
}
