//! Webhook receivers (DrChrono, Deep Cura), the durable inbox, and routing of inbox entries
//! to the pipelines that take them.
//!
//! - `/webhooks/drchrono`: handshake, then deliveries authenticated, stored in the inbox
//!   (idempotent on the delivery id) and acknowledged; [`spawn_worker`] processes them after.
//! - `/webhooks/deepcura`: encrypted gridhooks, decrypted ([`envelope`]), validated and
//!   written in the request's own transaction.
//! - inbound routes ([`inbound`]): our own signed posts (questionnaire responses), one route
//!   per `system: inbound` pipeline, written in the request's own transaction.
//! - [`replay`]: re-processes `received`/`failed` entries (`runner replay`).

mod accept;
mod deepcura;
mod drchrono;
pub mod envelope;
pub mod inbound;
pub mod inbox;
mod process;
mod refetch;
mod replay;
mod signature;
mod worker;

use axum::Router;
use axum::routing::{get, post};

use crate::app::AppState;
use crate::config::Plan;

pub use deepcura::GRIDHOOK_EVENT;
pub use envelope::{EnvelopeError, derive_key};
pub use inbox::{SOURCE_DEEPCURA, SOURCE_DRCHRONO, SOURCE_INBOUND, Status};
pub use process::{
    DEEPCURA_ACTOR, DRCHRONO_ACTOR, INBOUND_ACTOR, Mapped, Outcome, PING, ProcessError, actor,
    check_shape, needs_refetch, prepare, prepare_with, retryable, settle, targets,
};
pub use refetch::refetch_pending;
pub use replay::{ReplayFilter, ReplayReport, replay};
pub use signature::{handshake_token, verify_signature};
pub use worker::{DrainReport, POLL_INTERVAL, process_next, process_pending, spawn_worker};

/// Logs a delivery refused before anything was stored (the `webhook_rejected` event). The
/// reason names what is wrong, never a value.
pub(crate) fn rejected(source: &str, reason: &str) {
    tracing::warn!(
        event = crate::telemetry::events::WEBHOOK_REJECTED,
        source,
        reason,
        "Delivery rejected."
    );
}

/// The webhook routes and the inbound routes of `plan`.
pub fn routes(plan: &Plan) -> Router<AppState> {
    Router::new()
        .route(
            "/webhooks/drchrono",
            get(drchrono::handshake).post(drchrono::receive),
        )
        .route("/webhooks/deepcura", post(deepcura::receive))
        .merge(inbound::routes(plan))
}
