//! The `runner` binary: parses the command line and hands over to [`runner::cli`].

use clap::Parser;

#[tokio::main]
async fn main() {
    // reqwest is built without a default TLS provider; ring is ours.
    let _ = rustls::crypto::ring::default_provider().install_default();
    runner::telemetry::init();
    let cli = runner::cli::Cli::parse();
    let code = match runner::cli::run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            2
        }
    };
    std::process::exit(code);
}
