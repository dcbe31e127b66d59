//! `runner outbox`: the change events waiting for Coda. Without a subcommand it shows the
//! depth (pending and relayed events), the age of the oldest waiting event and the dead
//! letters (ids, table, reason); `retry [--id N]` brings dead letters back to pending; `drain`
//! pushes every due event now, pending or relayed (what the outbox worker of `runner serve`
//! does continuously), taking over at once the claims of a worker that died.

use std::path::Path;

use super::output::outln;
use crate::config::Needs;
use crate::push::outbox::{self, OutboxOptions};
use crate::push::{Claim, CodaClient};

/// Arguments of `runner outbox`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to do; default: show the status.
    #[command(subcommand)]
    pub command: Option<Verb>,
}

/// The outbox subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Verb {
    /// Show depth, oldest pending age and dead letters.
    Status,
    /// Bring dead letters back to pending (all, or one with `--id`).
    Retry {
        /// The event id of one dead letter.
        #[arg(long)]
        id: Option<i64>,
    },
    /// Push every due event now (pending or relayed), then exit.
    Drain,
}

/// Runs the command.
pub(super) async fn run(dir: &Path, args: Args) -> anyhow::Result<i32> {
    let pool = super::context::database().await?;
    match args.command.unwrap_or(Verb::Status) {
        Verb::Status => {
            let s = outbox::status(&pool).await?;
            outln!("pending: {}", s.pending)?;
            outln!("relayed: {}", s.relayed)?;
            match s.oldest_pending_secs {
                Some(age) => outln!("oldest pending: {age:.0} s")?,
                None => outln!("oldest pending: -")?,
            }
            outln!("dead letters: {}", s.dead.len())?;
            for d in &s.dead {
                if super::output::stdout_closed() {
                    break;
                }
                outln!(
                    "  {:>8}  {:<24} {}  attempts {}  {}",
                    d.id,
                    d.table_name,
                    d.record_id,
                    d.attempts,
                    d.last_error.as_deref().unwrap_or("-")
                )?;
            }
            Ok(0)
        }
        Verb::Retry { id } => {
            let n = outbox::retry(&pool, id).await?;
            outln!("{n} dead letter(s) back to pending")?;
            Ok(i32::from(n == 0 && id.is_some()))
        }
        Verb::Drain => {
            let plan = super::context::plan(dir, Needs::CODA)?;
            let coda = CodaClient::new(&plan.systems.coda, pool.clone());
            let opts = OutboxOptions {
                claim: Claim::Any,
                ..OutboxOptions::default()
            };
            let o = outbox::drain(&pool, &plan, &coda, &opts, None).await?;
            outln!(
                "sent {}, removed {}, unchanged {}, dead {}; {} write calls",
                o.rows_sent,
                o.deleted,
                o.unchanged,
                o.dead,
                o.calls
            )?;
            if o.dead > 0 {
                outln!("`runner outbox` lists the dead letters and why")?;
            }
            Ok(0)
        }
    }
}
