//! `runner serve`: the HTTP server (webhooks, health, scheduled-sync routes) with the inbox
//! worker and, unless `--no-scheduler`, the embedded scheduler. Listens on `$PORT` when set
//! (Cloud Run), else on `--listen`; stops gracefully on SIGTERM or Ctrl-C.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::server::{AppState, serve_with, shutdown_signal};

/// Arguments of `runner serve`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on when `$PORT` is not set.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Do not run the embedded scheduler (Cloud Scheduler calls `/sync/*` instead).
    #[arg(long)]
    pub no_scheduler: bool,
    /// Google OIDC verification of `/sync/*` (and Pub/Sub push) callers.
    #[command(flatten)]
    pub oidc: OidcArgs,
    /// What this instance runs: `all` (embedded: outbox worker pushing to Coda, scheduler),
    /// `sync` (outbox relay to Pub/Sub instead of the worker, scheduler) or `push` (only
    /// `/pubsub/push`: no worker, relay or scheduler). Every role serves every route.
    #[arg(long, value_enum, env = "RUNNER_ROLE", default_value = "all")]
    pub role: Role,
    /// The Pub/Sub topic of `--role sync`.
    #[command(flatten)]
    pub pubsub: crate::pubsub::PubsubArgs,
}

/// The roles of the GCP topology (DESIGN.md §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    /// Everything in one process; no Pub/Sub.
    All,
    /// Syncs and relays outbox events to Pub/Sub.
    Sync,
    /// Receives Pub/Sub pushes and writes Coda.
    Push,
}

/// Who may call `/sync/*`: the OIDC token's audience, issuer and service-account emails.
/// Without an audience and at least one email the routes refuse every call.
#[derive(Debug, Clone, clap::Args)]
pub struct OidcArgs {
    /// Required `aud` of the ID token (the audience set on the Scheduler job and the Pub/Sub
    /// subscription).
    #[arg(long = "oidc-audience", env = "OIDC_AUDIENCE", default_value = "")]
    pub audience: String,
    /// Allowed service-account emails, comma-separated.
    #[arg(
        long = "oidc-allowed-emails",
        env = "OIDC_ALLOWED_EMAILS",
        default_value = ""
    )]
    pub allowed_emails: String,
    /// JSON Web Key Set of the signer.
    #[arg(
        long = "oidc-jwks-url",
        env = "OIDC_JWKS_URL",
        default_value = "https://www.googleapis.com/oauth2/v3/certs"
    )]
    pub jwks_url: String,
    /// Accepted issuers, comma-separated.
    #[arg(
        long = "oidc-issuers",
        env = "OIDC_ISSUERS",
        default_value = "https://accounts.google.com,accounts.google.com"
    )]
    pub issuers: String,
}

impl OidcArgs {
    /// The verifier, or `None` (with a warning) when the settings are incomplete.
    pub fn verifier(&self) -> Option<Arc<crate::server::oidc::OidcVerifier>> {
        let list = |s: &str| {
            s.split(',')
                .map(str::trim)
                .filter(|x| !x.is_empty())
                .map(String::from)
                .collect::<Vec<_>>()
        };
        let config = crate::server::oidc::OidcConfig {
            jwks_url: self.jwks_url.clone(),
            issuers: list(&self.issuers),
            audience: self.audience.trim().to_string(),
            allowed_emails: list(&self.allowed_emails),
            ..crate::server::oidc::OidcConfig::default()
        };
        match crate::server::oidc::OidcVerifier::new(config) {
            Ok(v) => Some(Arc::new(v)),
            Err(e) => {
                tracing::warn!(reason = %e, "OIDC not configured: /sync/* refuses every call.");
                None
            }
        }
    }
}

/// Where to listen: `0.0.0.0:$PORT` when `PORT` is set, else `listen`.
pub fn listen_addr(port: Option<&str>, listen: SocketAddr) -> anyhow::Result<SocketAddr> {
    match port {
        Some(p) => {
            let port: u16 = p
                .trim()
                .parse()
                .with_context(|| format!("PORT is not a port number: {p:?}"))?;
            Ok(SocketAddr::from(([0, 0, 0, 0], port)))
        }
        None => Ok(listen),
    }
}

/// Runs the command until shutdown.
pub async fn run(dir: &Path, args: Args) -> anyhow::Result<i32> {
    let plan = super::context::plan(dir)?;
    let pool = super::context::database().await?;
    let mut state = AppState::new(pool, Arc::new(plan));
    state.oidc = args.oidc.verifier();
    let addr = listen_addr(std::env::var("PORT").ok().as_deref(), args.listen)?;
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let scheduler = !args.no_scheduler;
    let relay = match args.role {
        Role::Sync => Some(Arc::new(
            args.pubsub
                .publisher(state.pool.clone())
                .map_err(anyhow::Error::msg)?,
        )),
        Role::All | Role::Push => None,
    };
    let role = args.role;
    serve_with(state, listener, shutdown_signal(), move |state, stop| {
        background(state, stop, scheduler, role, relay)
    })
    .await
    .context("server failed")?;
    Ok(0)
}

/// The background tasks besides the inbox worker (which `serve_with` always starts): the
/// embedded outbox worker pushing change events to Coda (role `all`) or the relay publishing
/// them to Pub/Sub (role `sync`), the daily `processed_messages` purge, and the embedded
/// scheduler, unless switched off. Role `push` runs none of them.
fn background(
    state: &AppState,
    mut stop: crate::server::Shutdown,
    scheduler: bool,
    role: Role,
    relay: Option<Arc<crate::pubsub::Publisher>>,
) -> Vec<tokio::task::JoinHandle<()>> {
    if role == Role::Push {
        tracing::info!("Role push: no outbox worker, relay or scheduler.");
        return Vec::new();
    }
    let mut tasks = vec![crate::pubsub::spawn_daily_purge(
        state.pool.clone(),
        stop.clone(),
    )];
    if let Some(publisher) = relay {
        tasks.push(crate::pubsub::spawn_relay(
            state.pool.clone(),
            publisher,
            stop.clone(),
        ));
    } else {
        let coda = state.coda.clone();
        tasks.push(crate::push::spawn_outbox_worker(
            state.pool.clone(),
            state.plan.clone(),
            coda,
            crate::push::OutboxOptions::default(),
            stop.clone(),
        ));
    }
    if !scheduler {
        tracing::info!("Embedded scheduler off (--no-scheduler).");
        return tasks;
    }
    let stopped = async move { stop.wait().await };
    tasks.push(crate::schedule::spawn_scheduler(state.clone(), stopped));
    tasks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_wins_over_listen() {
        let listen: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        assert_eq!(listen_addr(None, listen).unwrap(), listen);
        assert_eq!(
            listen_addr(Some("9000"), listen).unwrap(),
            "0.0.0.0:9000".parse().unwrap()
        );
        assert!(listen_addr(Some("http"), listen).is_err());
    }
}
