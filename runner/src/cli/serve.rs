//! `runner serve`: the HTTP server (webhooks, health, readiness, metrics, scheduled-sync routes,
//! Pub/Sub push) with the background workers of its role. Listens on `$PORT` when set (Cloud
//! Run), else on `--listen`; stops gracefully on SIGTERM or Ctrl-C.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::app::{AppState, shutdown_signal};
use crate::config::Needs;
use crate::server::serve_with;

/// Arguments of `runner serve`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on when `$PORT` is not set.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Do not run the embedded scheduler (Cloud Scheduler calls `/sync/*` instead).
    #[arg(long, env = "RUNNER_NO_SCHEDULER")]
    pub no_scheduler: bool,
    /// Google OIDC verification of `/sync/*` (and Pub/Sub push) callers.
    #[command(flatten)]
    pub oidc: OidcArgs,
    /// What this instance runs (the GCP topology runs one Cloud Run service per role): `all`
    /// (embedded: everything in one process), `sync` (webhooks, `/sync/*`, the inbox worker,
    /// the outbox relay to Pub/Sub, the scheduler unless `--no-scheduler`), `push` (the
    /// Pub/Sub push receiver and the outbox worker pushing relayed events to Coda) or `api`
    /// (write-back and the admin dashboard). Every role serves
    /// `/health`, `/ready` and `/metrics` and runs the daily retention.
    #[arg(long, value_enum, env = "RUNNER_ROLE", default_value = "all")]
    pub role: Role,
    /// The Pub/Sub topic of `--role sync`.
    #[command(flatten)]
    pub pubsub: crate::pubsub::PubsubArgs,
    /// Who may use the admin dashboard (`/admin`): IAP's audience, or a loopback dev user.
    #[command(flatten)]
    pub admin: crate::admin::AdminArgs,
}

/// The roles of the GCP topology (DESIGN.md §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    /// Everything in one process; no Pub/Sub.
    All,
    /// Receives webhooks, syncs, and relays outbox events to Pub/Sub.
    Sync,
    /// Receives Pub/Sub pushes and writes Coda.
    Push,
    /// Write-back from Coda and the admin dashboard.
    Api,
}

impl Role {
    /// The systems this role talks to: only their `${VAR}`s must be set.
    pub fn needs(self) -> Needs {
        match self {
            Role::All => Needs {
                writeback: false,
                inbound: false,
                ..Needs::ALL
            },
            Role::Sync => Needs {
                drchrono: true,
                drchrono_webhooks: true,
                deepcura: true,
                inbound: true,
                ..Needs::NONE
            },
            Role::Push => Needs {
                coda: true,
                ..Needs::NONE
            },
            Role::Api => Needs::NONE,
        }
    }

    /// Whether this role applies migrations at start-up (the embedded topology, which owns
    /// its database). The others only check that the schema is current.
    pub fn migrates(self) -> bool {
        self == Role::All
    }
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
pub(super) fn listen_addr(port: Option<&str>, listen: SocketAddr) -> anyhow::Result<SocketAddr> {
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
pub(super) async fn run(dir: &Path, args: Args) -> anyhow::Result<i32> {
    let plan = super::context::plan(dir, args.role.needs())?;
    let pool = if args.role.migrates() {
        super::context::database().await?
    } else {
        super::context::database_current().await?
    };
    if matches!(args.role, Role::All | Role::Api) && plan.writeback.secret.is_empty() {
        tracing::info!("Write-back disabled: CODA_WRITEBACK_SECRET is not set.");
    }
    if matches!(args.role, Role::All | Role::Sync)
        && !crate::ingest::inbound::routes_of(&plan).is_empty()
        && !crate::ingest::inbound::enabled(&plan)
    {
        tracing::info!("Inbound routes disabled: INBOUND_SECRET is not set.");
    }
    let mut state = AppState::new(pool, Arc::new(plan));
    state.oidc = args.oidc.verifier();
    let addr = listen_addr(std::env::var("PORT").ok().as_deref(), args.listen)?;
    state.admin = args.admin.auth(addr)?;
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let relay = match args.role {
        Role::Sync => Some(Arc::new(
            args.pubsub
                .publisher(state.pool.clone())
                .map_err(anyhow::Error::msg)?,
        )),
        Role::All | Role::Push | Role::Api => None,
    };
    let workers = Workers {
        role: args.role,
        scheduler: !args.no_scheduler,
        relay,
    };
    serve_with(state, listener, shutdown_signal(), move |state, stop| {
        workers.spawn(state, stop)
    })
    .await
    .context("server failed")?;
    Ok(0)
}

/// The background work of a role (public so tests run a role's server through the library).
#[derive(Debug)]
pub struct Workers {
    /// The role.
    pub role: Role,
    /// Run the embedded scheduler (roles `all` and `sync`).
    pub scheduler: bool,
    /// The relay's publisher (role `sync`).
    pub relay: Option<Arc<crate::pubsub::Publisher>>,
}

impl Workers {
    /// Starts the role's own workers, and nothing else: `all` runs the inbox worker, the
    /// dashboard's sync requests, the outbox worker pushing pending events to Coda and the
    /// scheduler; `sync` the inbox worker, the dashboard's sync requests, the relay to Pub/Sub
    /// and the scheduler; `push` the outbox worker pushing
    /// relayed events to Coda, woken by each Pub/Sub delivery; `api` no worker. Every role
    /// runs the daily retention (what its database role may do of it). `--no-scheduler` leaves
    /// the scheduler out (Cloud Scheduler calls `/sync/*` instead).
    pub fn spawn(self, state: &AppState, stop: crate::app::Shutdown) -> Vec<JoinHandle<()>> {
        let retention = &state.plan.systems.retention;
        let storage = (!retention.archive_bucket.trim().is_empty())
            .then(|| Arc::new(crate::gcp::Storage::from_env(Some(state.pool.clone()))));
        let mut tasks = vec![crate::retention::spawn_daily(
            state.pool.clone(),
            retention.clone(),
            storage,
            stop.clone(),
        )];
        if matches!(self.role, Role::All | Role::Sync) {
            tasks.push(crate::ingest::spawn_worker(state.clone(), stop.clone()));
            // "Run again" from the dashboard: the api role asks, the syncing role runs.
            tasks.push(crate::admin::spawn_request_worker(
                state.clone(),
                stop.clone(),
            ));
        }
        match (self.role, self.relay) {
            (Role::Sync, Some(publisher)) => tasks.push(crate::pubsub::spawn_relay(
                state.pool.clone(),
                publisher,
                stop.clone(),
            )),
            (Role::All | Role::Push, _) => {
                tasks.extend(crate::reconcile::spawn_daily(
                    state.pool.clone(),
                    state.plan.clone(),
                    state.coda.clone(),
                    stop.clone(),
                ));
                let claim = match self.role {
                    Role::Push => crate::push::Claim::Relayed,
                    _ => crate::push::Claim::Pending,
                };
                tasks.push(crate::push::spawn_outbox_worker(
                    state.pool.clone(),
                    state.plan.clone(),
                    state.coda.clone(),
                    crate::push::OutboxOptions {
                        claim,
                        wake: Some(state.outbox_notify.clone()),
                        ..crate::push::OutboxOptions::default()
                    },
                    stop.clone(),
                ));
            }
            _ => {}
        }
        if !matches!(self.role, Role::All | Role::Sync) {
            tracing::info!(role = ?self.role, "No sync workers in this role.");
        } else if self.scheduler {
            let mut stop = stop;
            let stopped = async move { stop.wait().await };
            tasks.push(crate::schedule::spawn_scheduler(state.clone(), stopped));
        } else {
            tracing::info!("Embedded scheduler off (--no-scheduler).");
        }
        tasks
    }
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
