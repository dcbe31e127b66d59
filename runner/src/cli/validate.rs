//! `runner validate`: every config file against its schema and across files, optionally the
//! deployment environment (`--env`) and the live database (`--db`). All errors at once.

use std::path::Path;

use crate::config::{Env, EnvMode, Plan};

/// Output formats.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    /// `file:line:col: message`.
    Text,
    /// GitHub Actions annotations.
    Github,
}

/// Arguments of `runner validate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Also require every referenced environment variable without a default to be set.
    #[arg(long)]
    pub env: bool,
    /// Also check every mapped column against the live database (`DATABASE_URL`).
    #[arg(long)]
    pub db: bool,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

/// Runs the command.
pub(super) async fn run(dir: &Path, args: Args) -> anyhow::Result<i32> {
    let mode = if args.env {
        EnvMode::Strict
    } else {
        EnvMode::Lenient
    };
    let diags = match Plan::load(dir, &Env::Process, mode) {
        Err(diags) => diags,
        Ok((plan, config)) => {
            let mut diags = config.findings.clone();
            if args.db {
                super::validate_db::check(
                    &plan,
                    &config,
                    &super::default_database_url(),
                    &mut diags,
                )
                .await?;
            }
            diags.finish()
        }
    };
    for d in &diags.0 {
        match args.format {
            Format::Text => eprintln!("{d}"),
            Format::Github => println!("{}", d.github()),
        }
    }
    if diags.has_errors() {
        eprintln!("{} error(s).", diags.error_count());
        Ok(1)
    } else {
        if diags.0.is_empty() {
            println!("Config valid.");
        } else {
            println!("Config valid ({} finding(s) above).", diags.0.len());
        }
        Ok(0)
    }
}
