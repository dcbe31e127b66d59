//! Regression tests of hostile data and races (issue 9): each reproduces a defect that was
//! seen, deterministically, and checks what a user would.

mod data;
mod processes;
mod races;
mod references;
mod transport;

use std::sync::Arc;

use runner::config::Plan;
use runner::server::AppState;
use runner::source::RestClient;
use runner::sync::{NoProgress, SyncOptions, SyncReport, run_pipeline};
use sqlx::PgPool;

fn opts() -> SyncOptions {
    SyncOptions {
        trigger: "test".into(),
        ..SyncOptions::default()
    }
}

/// Runs pipeline `name` of `plan` once.
async fn sync(pool: &PgPool, plan: &Plan, name: &str, opts: &SyncOptions) -> SyncReport {
    let client = RestClient::drchrono(&plan.systems.drchrono, pool.clone());
    let p = plan.pipeline(name).unwrap();
    run_pipeline(pool, &client, plan, p, opts, &NoProgress).await
}

fn state(pool: &PgPool, plan: Plan) -> AppState {
    AppState::new(pool.clone(), Arc::new(plan))
}
