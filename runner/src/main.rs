//! The `runner` binary: parses the command line and hands over to [`runner::cli`].

use clap::Parser;

#[tokio::main]
async fn main() {
    // reqwest is built without a default TLS provider; ring is ours.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = runner::cli::Cli::parse();
    // The demo prints its own story; its servers' info lines would drown it.
    let quiet = matches!(cli.command, runner::cli::Command::Demo(_));
    runner::telemetry::init(if quiet { "warn" } else { "warn,runner=info" });
    let code = match runner::cli::run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            2
        }
    };
    std::process::exit(code);
}
