//! `runner coda check`: compares every mapped Coda table of the live doc with
//! `mappings/*.yaml` (for CI and operators). Exit 0: no drift, or only renamed tables or
//! columns (notices); 1: a missing table or column, a missing key column or a calculated
//! mapped column; 2: Coda could not be read or the config is invalid.
//!
//! Only the Coda settings are needed: the config is loaded leniently, so DrChrono secrets may
//! be unset. Calls are recorded in `access_log` when `DATABASE_URL` is set and reachable.

use std::path::Path;

use anyhow::Context;

use super::validate::Format;
use crate::coda_check::{CodaReader, check};
use crate::config::{Env, EnvMode, Plan};

/// Arguments of `runner coda`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub command: CodaCommand,
}

/// The `runner coda` verbs.
#[derive(Debug, clap::Subcommand)]
pub enum CodaCommand {
    /// Report drift between the doc's columns and the mappings (ids, calculated columns,
    /// key columns, labels).
    Check(CheckArgs),
    /// Compare the rows of the mapped Coda tables with PostgreSQL, cell by cell (missing,
    /// extra, changed and duplicate rows); `--repair` puts Coda right.
    Reconcile(super::coda_reconcile::ReconcileArgs),
}

/// Arguments of `runner coda check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

/// Runs the command (`reconcile` is in [`super::coda_reconcile`]).
pub(super) async fn run(dir: &Path, args: Args) -> anyhow::Result<i32> {
    let args = match args.command {
        CodaCommand::Check(a) => a,
        CodaCommand::Reconcile(a) => return super::coda_reconcile::run(dir, a).await,
    };
    let (plan, config) = match Plan::load(dir, &Env::Process, EnvMode::Lenient) {
        Ok(loaded) => loaded,
        Err(diags) => {
            eprint!("{diags}");
            anyhow::bail!(
                "config invalid: {} error(s); nothing was checked",
                diags.error_count()
            );
        }
    };
    let coda = &plan.systems.coda;
    if coda.api_token.is_empty() || coda.doc_id.is_empty() {
        anyhow::bail!("set CODA_API_TOKEN and CODA_DOC_ID (the Coda settings of systems.yaml)");
    }
    let reader = CodaReader::new(coda, access_log_pool().await);
    let diags = check(&plan, &config, &reader)
        .await
        .context("cannot read the Coda doc")?;
    for d in &diags.0 {
        match args.format {
            Format::Text => eprintln!("{d}"),
            Format::Github => println!("{}", d.github()),
        }
    }
    let notices = diags.0.len() - diags.error_count();
    if diags.has_errors() {
        eprintln!("{} error(s), {notices} notice(s).", diags.error_count());
        Ok(1)
    } else {
        println!(
            "{} Coda table(s) match the mappings ({notices} notice(s)).",
            plan.mappings.len()
        );
        Ok(0)
    }
}

/// The pool for `access_log`, when `DATABASE_URL` is set and reachable: the check itself
/// needs no database.
async fn access_log_pool() -> Option<sqlx::PgPool> {
    let url = std::env::var("DATABASE_URL").ok()?;
    match crate::store::connect(&url).await {
        Ok(pool) => Some(pool),
        Err(e) => {
            tracing::warn!(error = %e, "No database: Coda calls are not recorded in access_log.");
            None
        }
    }
}
