//! One locked run, shared by the `/sync/*` routes and the embedded scheduler: take the
//! pipeline's advisory lock or report it busy (nothing is queued), run the sync, release.

use crate::app::AppState;
use crate::config::{Plan, PlannedPipeline};
use crate::store::StoreError;
use crate::sync::{NoProgress, SyncOptions, SyncReport, run_pipeline};

use super::lock::PipelineLock;

/// What a trigger did.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The sync ran (successfully or not: see the report's `error`).
    Ran(SyncReport),
    /// Another run held the lock; this trigger did nothing and queued nothing.
    AlreadyRunning,
}

/// The pipelines that can be triggered (those with a list endpoint), in dependency order.
pub fn runnable(plan: &Plan) -> impl Iterator<Item = &PlannedPipeline> {
    plan.pipelines
        .iter()
        .filter(|p| p.file.source.endpoint.is_some())
}

/// Runs `pipeline` with `trigger` (`api`, `schedule`) under its advisory lock. The error is
/// only about the lock (the database is unreachable); sync failures are in the report.
pub async fn run_locked(
    state: &AppState,
    pipeline: &PlannedPipeline,
    trigger: &str,
) -> Result<Outcome, StoreError> {
    let name = pipeline.mapping.name.as_str();
    let Some(lock) = PipelineLock::try_acquire(&state.pool, name).await? else {
        tracing::info!(pipeline = %name, trigger, "Sync already running; trigger skipped.");
        return Ok(Outcome::AlreadyRunning);
    };
    let opts = SyncOptions {
        trigger: trigger.to_string(),
        ..SyncOptions::default()
    };
    let report = run_pipeline(
        &state.pool,
        &state.drchrono,
        &state.plan,
        pipeline,
        &opts,
        &NoProgress,
    )
    .await;
    lock.release().await;
    Ok(Outcome::Ran(report))
}
