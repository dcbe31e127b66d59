//! `runner retention`: deletes Pub/Sub dedupe ids (`processed_messages`) older than 7 days.
//! `runner serve` also does it daily; this verb is for a Cloud Run job or cron.

/// Arguments of `runner retention` (none yet).
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs the command.
pub async fn run(_args: Args) -> anyhow::Result<i32> {
    let pool = super::context::database().await?;
    let purged = crate::pubsub::purge_processed(&pool).await?;
    println!("Purged {purged} processed Pub/Sub message id(s) older than 7 days.");
    Ok(0)
}
