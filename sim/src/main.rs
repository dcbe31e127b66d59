//! The `sim` binary: runs one of the simulators until Ctrl-C.
//!
//! `sim drchrono --patients 500 --seed 7` prints `DrChrono sim listening on <url>` and serves.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
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

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Drchrono(args) => run_drchrono(args).await,
    }
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
