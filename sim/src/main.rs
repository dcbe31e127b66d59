//! The `sim` binary: runs one of the simulators until Ctrl-C.
//!
//! `sim drchrono --patients 500 --seed 7` prints `DrChrono sim listening on <url>` and serves.
//! `sim coda` prints `Coda sim listening on <url>` and serves no docs until tables are created
//! through `POST /_sim/docs/{doc}/tables`.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use sim::coda::{self, CodaConfig, CodaSim};
use sim::drchrono::{DrChronoConfig, DrChronoSim, RateLimitConfig};

/// Local doubles of the third-party APIs the sync runner talks to.
#[derive(Debug, Parser)]
#[command(name = "sim", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// One subcommand per simulated service.
#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the DrChrono REST API v4 simulator.
    Drchrono(DrChronoArgs),
    /// Serve the Coda API v1 simulator.
    Coda(CodaArgs),
}

/// Options of `sim drchrono`.
#[derive(Debug, Args)]
struct DrChronoArgs {
    /// Number of generated patients.
    #[arg(long, default_value_t = 50)]
    patients: usize,
    /// Seed of the generated data.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Requests allowed per hour (DrChrono: 500).
    #[arg(long, default_value_t = 500, conflicts_with = "no_rate_limit")]
    rate_hourly: u32,
    /// Requests allowed within any second (DrChrono: 10).
    #[arg(long, default_value_t = 10, conflicts_with = "no_rate_limit")]
    rate_burst: u32,
    /// Send `Retry-After` with 429 responses (DrChrono does not).
    #[arg(long)]
    retry_after: bool,
    /// Disable throttling entirely.
    #[arg(long)]
    no_rate_limit: bool,
    /// OAuth client id.
    #[arg(long, default_value = "sim-client-id")]
    client_id: String,
    /// OAuth client secret.
    #[arg(long, default_value = "sim-client-secret")]
    client_secret: String,
    /// The initially valid refresh token.
    #[arg(long, default_value = "sim-refresh-token")]
    refresh_token: String,
    /// Access token lifetime in seconds (DrChrono: 48 hours).
    #[arg(long, default_value_t = 48 * 3600)]
    access_token_ttl_secs: u64,
}

/// Options of `sim coda`.
#[derive(Debug, Args)]
struct CodaArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Accepted API token (repeatable).
    #[arg(long = "token", default_value = coda::DEFAULT_TOKEN)]
    tokens: Vec<String>,
    /// Milliseconds before an accepted mutation is applied.
    #[arg(long, default_value_t = 50)]
    apply_delay_ms: u64,
    /// Largest accepted request body in bytes.
    #[arg(long, default_value_t = 2 * 1024 * 1024)]
    max_body_bytes: usize,
    /// Writes allowed per window and token (Coda: 10 per 6 s).
    #[arg(long, default_value_t = 10, conflicts_with = "no_rate_limit")]
    rate_writes: u32,
    /// Reads allowed per window and token (Coda: 100 per 6 s).
    #[arg(long, default_value_t = 100, conflicts_with = "no_rate_limit")]
    rate_reads: u32,
    /// Send `Retry-After` with 429 responses.
    #[arg(long)]
    retry_after: bool,
    /// Disable throttling entirely.
    #[arg(long)]
    no_rate_limit: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Drchrono(args) => run_drchrono(args).await,
        Command::Coda(args) => run_coda(args).await,
    }
}

async fn run_coda(args: CodaArgs) -> anyhow::Result<()> {
    let config = CodaConfig {
        listen: args.listen,
        tokens: args.tokens,
        apply_delay: Duration::from_millis(args.apply_delay_ms),
        max_body_bytes: args.max_body_bytes,
        rate_limit: (!args.no_rate_limit).then(|| coda::RateLimitConfig {
            writes: Some(args.rate_writes),
            reads: Some(args.rate_reads),
            retry_after: args.retry_after,
            ..coda::RateLimitConfig::default()
        }),
        ..CodaConfig::default()
    };
    let handle = CodaSim::start(config).await?;
    println!("Coda sim listening on {}", handle.url());
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    handle.stop().await
}

async fn run_drchrono(args: DrChronoArgs) -> anyhow::Result<()> {
    let config = DrChronoConfig {
        listen: args.listen,
        seed: args.seed,
        patients: args.patients,
        client_id: args.client_id,
        client_secret: args.client_secret,
        refresh_token: args.refresh_token,
        access_token_ttl: Duration::from_secs(args.access_token_ttl_secs),
        rate_limit: (!args.no_rate_limit).then(|| RateLimitConfig {
            hourly: Some(args.rate_hourly),
            burst: Some(args.rate_burst),
            retry_after: args.retry_after,
            ..RateLimitConfig::default()
        }),
        ..DrChronoConfig::default()
    };
    let handle = DrChronoSim::start(config).await?;
    println!("DrChrono sim listening on {}", handle.url());
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    handle.stop().await
}
