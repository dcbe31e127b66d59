//! `cargo bench -p runner --bench push`: Coda push figures of issue 5, measured in one run.
//!
//! 20,000 changed rows (patients synced from the DrChrono simulator) are pushed to the Coda
//! simulator running at Coda's real limits (10 writes and 100 reads per 6 s). Printed: write
//! calls against ceil(N/500), 429s, wall time against the minimum the write limit allows
//! (calls x 0.6 s), and the write calls of an unchanged re-push. `BENCH_QUICK=1`: 2,000 rows.

// Shared with the sync benchmark; this one uses only part of it.
#[allow(dead_code)]
#[path = "../sync/util.rs"]
mod util;

use std::time::{Duration, Instant};

use runner::push::{CodaClient, NoPushProgress, push_full};
use runner::source::RestClient;
use runner::sync::{NoProgress, SyncOptions, run_pipeline};
use sim::coda::{CodaConfig, CodaSim};
use sim::data::{Clinic, Resource};
use sim::drchrono::{DrChronoConfig, DrChronoSim};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let n = if std::env::var_os("BENCH_QUICK").is_some() {
        2_000
    } else {
        20_000
    };
    let db = util::BenchDb::create().await?;
    let anchor = chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap_or_default();
    let clinic = Clinic::generate_only(3, n, anchor, &[Resource::Patients, Resource::Doctors]);
    let drchrono = DrChronoSim::start_with_clinic(
        DrChronoConfig {
            rate_limit: None,
            ..DrChronoConfig::default()
        },
        clinic,
    )
    .await?;
    let coda = CodaSim::start(CodaConfig {
        tokens: vec!["bench".into()],
        ..CodaConfig::default()
    })
    .await?;
    let mut plan = util::plan(drchrono.url())?;
    plan.systems.drchrono.rate.clear();
    plan.systems.coda.base_url = coda.url().to_string();
    runner::demo::create_tables(coda.state(), &plan);

    let client = RestClient::drchrono(&plan.systems.drchrono, db.pool.clone());
    let opts = SyncOptions {
        trigger: "bench".into(),
        ..SyncOptions::default()
    };
    for name in ["providers", "patients"] {
        let p = plan
            .pipeline(name)
            .ok_or_else(|| anyhow::anyhow!("no {name} pipeline"))?;
        let r = run_pipeline(&db.pool, &client, &plan, p, &opts, &NoProgress).await;
        anyhow::ensure!(r.error.is_none(), "{name}: {:?}", r.error);
    }

    let coda_client = CodaClient::new(&plan.systems.coda, db.pool.clone());
    let selected = vec!["patients".to_string()];
    coda.state().reset_stats();
    let started = Instant::now();
    let reports = push_full(
        &db.pool,
        &plan,
        &coda_client,
        &selected,
        false,
        &NoPushProgress,
    )
    .await?;
    let wall = started.elapsed();
    let stats = coda.state().stats();
    let rows: u64 = reports.iter().map(|r| r.report.sent).sum();
    let calls: u64 = reports.iter().map(|r| r.report.write_calls).sum();
    let minimum = Duration::from_millis(600 * calls);
    println!(
        "push       {rows} changed rows to the Coda simulator at Coda's limits (10 writes, 100 reads per 6 s)"
    );
    println!(
        "  write calls {calls} (ceil(N/500) = {}), 429s answered: {}",
        rows.div_ceil(500),
        stats.throttled
    );
    println!(
        "  wall time {:.1} s; minimum the write limit allows (calls x 0.6 s) {:.1} s; ratio {:.2} (target <= 1.25)",
        wall.as_secs_f64(),
        minimum.as_secs_f64(),
        wall.as_secs_f64() / minimum.as_secs_f64()
    );
    coda.state().reset_stats();
    let again = push_full(
        &db.pool,
        &plan,
        &coda_client,
        &selected,
        false,
        &NoPushProgress,
    )
    .await?;
    let again_calls: u64 = again.iter().map(|r| r.report.write_calls).sum();
    println!(
        "  unchanged re-push: {again_calls} write calls ({} seen by Coda)",
        coda.state().stats().writes
    );
    drop(coda);
    drop(drchrono);
    db.drop().await
}
