//! The daily reconcile inside `runner serve` (roles `all` and `push`): at each fire time of
//! `coda.reconcile.schedule` (UTC), every mapped table is reconciled, repairing when
//! `coda.reconcile.repair` says so. Several instances may run: the run takes an advisory lock
//! (`runner.sync` / `coda:reconcile`) and an instance that finds it held skips that fire, so
//! one instance reconciles per fire. Each table's outcome is logged as `coda_reconciled` or
//! `coda_reconcile_failed` and counted in the metrics.

use std::sync::Arc;

use chrono::Utc;
use sqlx::PgPool;
use tokio::task::JoinHandle;

use super::{Options, reconcile};
use crate::app::Shutdown;
use crate::config::Plan;
use crate::push::{CodaClient, NoPushProgress};
use crate::schedule::PipelineLock;

/// The lock name of the scheduled run (in the namespace of the sync locks).
pub(super) const LOCK: &str = "coda:reconcile";

/// Starts the daily loop; `None` when `schedule` is empty or invalid (validation rejects an
/// invalid one).
pub fn spawn_daily(
    pool: PgPool,
    plan: Arc<Plan>,
    coda: CodaClient,
    mut stop: Shutdown,
) -> Option<JoinHandle<()>> {
    let settings = plan.systems.coda.reconcile.clone();
    if settings.schedule.trim().is_empty() {
        tracing::info!("Daily Coda reconcile off (coda.reconcile.schedule is empty).");
        return None;
    }
    let cron = crate::schedule::parse_schedule(&settings.schedule).ok()?;
    Some(tokio::spawn(async move {
        loop {
            let now = Utc::now();
            let Some(wait) = cron
                .find_next_occurrence(&now, false)
                .ok()
                .and_then(|next| (next - now).to_std().ok())
            else {
                return;
            };
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = stop.wait() => return,
            }
            run_once(&pool, &plan, &coda, settings.repair).await;
        }
    }))
}

/// One scheduled reconcile of every mapping, unless another instance runs it.
pub(super) async fn run_once(pool: &PgPool, plan: &Plan, coda: &CodaClient, repair: bool) {
    let lock = match PipelineLock::try_acquire(pool, LOCK).await {
        Ok(Some(lock)) => lock,
        Ok(None) => {
            tracing::info!("Another instance runs the Coda reconcile; this fire is skipped.");
            return;
        }
        Err(e) => {
            tracing::warn!(error = %e, "Scheduled Coda reconcile skipped: cannot take its lock.");
            return;
        }
    };
    let selected: Vec<String> = plan.mappings.keys().cloned().collect();
    let opts = Options {
        repair,
        dry_run: false,
        trigger: "schedule".into(),
    };
    // Each table is logged and counted as it ends; a Coda that cannot be read has been logged
    // as `coda_reconcile_failed` and is tried again at the next fire.
    let result = reconcile(
        pool,
        plan,
        coda,
        &selected,
        &opts,
        &NoPushProgress,
        &mut |_| {},
    )
    .await;
    if let Err(e) = result {
        tracing::warn!(error = %e, "Scheduled Coda reconcile stopped; it runs again at the next fire.");
    }
    lock.release().await;
}
