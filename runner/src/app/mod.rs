//! What the server, the workers and the demo share: the application state ([`AppState`]: the
//! database, the plan, the API clients with their rate budgets, the wake-ups) and the shutdown
//! signal ([`Shutdown`]) that stops the background tasks.

mod shutdown;

use std::sync::Arc;

use sqlx::PgPool;
use tokio::sync::Notify;

use crate::config::Plan;
use crate::source::RestClient;

pub use shutdown::{Shutdown, ShutdownSignal, shutdown_signal};

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The database.
    pub pool: PgPool,
    /// The validated config.
    pub plan: Arc<Plan>,
    /// The DrChrono client (shared rate budget).
    pub drchrono: RestClient,
    /// Wakes the inbox worker when a webhook was stored (it also polls, so a lost wake-up
    /// only delays processing).
    pub inbox_notify: Arc<Notify>,
    /// Wakes the outbox worker when a Pub/Sub delivery announced an event (it also polls).
    pub outbox_notify: Arc<Notify>,
    /// The Coda client: one write and one read budget for every task of this process (the
    /// outbox worker and the Pub/Sub receiver).
    pub coda: crate::push::CodaClient,
    /// Verifies the OIDC tokens of `/sync/*` callers; `None` refuses them all (401).
    pub oidc: Option<Arc<crate::server::oidc::OidcVerifier>>,
    /// Who may use `/admin` (IAP, or a loopback dev user); the default admits nobody.
    pub admin: crate::admin::AdminAuth,
}

impl AppState {
    /// State for `plan` on `pool`, with a DrChrono client built from `systems.yaml`.
    pub fn new(pool: PgPool, plan: Arc<Plan>) -> Self {
        let drchrono = RestClient::drchrono(&plan.systems.drchrono, pool.clone());
        let coda = crate::push::CodaClient::new(&plan.systems.coda, pool.clone());
        AppState {
            pool,
            plan,
            drchrono,
            coda,
            inbox_notify: Arc::new(Notify::new()),
            outbox_notify: Arc::new(Notify::new()),
            oidc: None,
            admin: crate::admin::AdminAuth::default(),
        }
    }
}
