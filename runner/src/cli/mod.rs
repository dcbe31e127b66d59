//! The `runner` command line: one file per verb. `anyhow` lives only here, at the edge.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

mod coda;
mod coda_reconcile;
mod context;
mod demo;
mod link;
mod migrate;
mod outbox;
mod output;
mod progress;
mod push;
mod replay;
mod retention;
mod review;
mod schema;
mod serve;
pub use serve::{Role, Workers};
mod sync;
mod test;
pub use schema::stale_files;
mod validate;
mod validate_db;
mod verify;

/// The clinical-operations sync runner.
#[derive(Debug, Parser)]
#[command(name = "runner", version, about, long_about = None)]
pub struct Cli {
    /// Folder that holds `pipelines/` and `mappings/` (default: the current directory).
    #[arg(long, global = true, default_value = ".", env = "RUNNER_CONFIG_DIR")]
    pub config_dir: PathBuf,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The verbs.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// The live Coda doc: compare its columns with `mappings/*.yaml` (`runner coda check`),
    /// or its rows with PostgreSQL and repair them (`runner coda reconcile`).
    Coda(coda::Args),
    /// The whole flow against the simulators and a local PostgreSQL: backfill, webhooks, Deep
    /// Cura notes, linking, Coda push, and a summary. Keeps serving until Ctrl-C.
    Demo(demo::Args),
    /// Check every config file against its schema and across files; report every error.
    Validate(validate::Args),
    /// Run the fixture tests in `pipelines/tests/` (no database needed).
    Test(test::Args),
    /// Write the JSON Schemas of the config files (and the configuration reference).
    Schema(schema::Args),
    /// Create the database if missing and apply the migrations of `schema/db/`.
    Migrate(migrate::Args),
    /// Pull DrChrono into PostgreSQL: the named pipelines, or `--all`, in dependency order.
    Sync(sync::Args),
    /// Compare DrChrono with PostgreSQL per pipeline (counts, and keys for small tables).
    Verify(verify::Args),
    /// Serve webhooks, health and scheduled-sync routes (with the inbox worker and scheduler).
    /// Boxed: its settings (OIDC, Pub/Sub, IAP) make it by far the largest verb.
    Serve(Box<serve::Args>),
    /// Re-process inbox entries (received and failed by default); idempotent.
    Replay(replay::Args),
    /// Re-run every linking rule of `pipelines/links.yaml` (actor `link_rules`).
    Link(link::Args),
    /// List the rows that wait for manual review (ids and reasons only).
    Review(review::Args),
    /// Audit retention: purge old Pub/Sub dedupe ids, create audit partitions ahead, archive
    /// old ones to Cloud Storage and detach them, drop archives after 7 years (`serve` does it
    /// daily).
    Retention(retention::Args),
    /// Push mapped tables to Coda in full, diff-only: `runner push <table>... | --all`.
    Push(push::Args),
    /// Show the outbox (depth, oldest pending, dead letters); `retry` dead letters; `drain`.
    Outbox(outbox::Args),
}

/// Runs the parsed command; returns the process exit code.
pub async fn run(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Coda(a) => coda::run(&cli.config_dir, a).await,
        Command::Demo(a) => demo::run(&cli.config_dir, a).await,
        Command::Validate(a) => validate::run(&cli.config_dir, a).await,
        Command::Test(a) => test::run(&cli.config_dir, &a),
        Command::Schema(a) => schema::run(&cli.config_dir, &a),
        Command::Migrate(a) => migrate::run(a).await,
        Command::Sync(a) => sync::run(&cli.config_dir, a).await,
        Command::Verify(a) => verify::run(&cli.config_dir, a).await,
        Command::Serve(a) => serve::run(&cli.config_dir, *a).await,
        Command::Replay(a) => replay::run(&cli.config_dir, a).await,
        Command::Link(a) => link::run(&cli.config_dir, a).await,
        Command::Review(a) => review::run(&cli.config_dir, a).await,
        Command::Retention(a) => retention::run(&cli.config_dir, a).await,
        Command::Push(a) => push::run(&cli.config_dir, a).await,
        Command::Outbox(a) => outbox::run(&cli.config_dir, a).await,
    }
}

/// The database URL: `DATABASE_URL`, or the local default, with `DATABASE_PASSWORD` (a secret
/// kept apart from the URL, as Secret Manager gives it) as its password when set. The result
/// may hold a password: never print it.
pub fn default_database_url() -> String {
    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/clinical".to_string());
    with_password(&url, std::env::var("DATABASE_PASSWORD").ok().as_deref())
}

/// `url` with `password` set (percent-encoded), or `url` unchanged when there is none or the
/// URL does not parse (the connection then reports the bad URL).
pub fn with_password(url: &str, password: Option<&str>) -> String {
    let Some(password) = password.filter(|p| !p.is_empty()) else {
        return url.to_string();
    };
    match reqwest::Url::parse(url) {
        Ok(mut u) => match u.set_password(Some(password)) {
            Ok(()) => u.to_string(),
            Err(()) => url.to_string(),
        },
        Err(_) => url.to_string(),
    }
}
