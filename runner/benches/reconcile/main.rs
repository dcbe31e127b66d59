//! `cargo bench -p runner --bench reconcile`: the Coda reconcile figures of issue 14, measured
//! in one run.
//!
//! 20,000 patients (synced from the DrChrono simulator) are pushed to the Coda simulator, then
//! staff work is made by hand in Coda: 2,500 rows deleted, a cell edited in 5,000 rows, 500
//! keys typed twice and 500 rows PostgreSQL does not have (the mapping says
//! `extra_rows: delete`). `runner coda reconcile patients --repair` then runs with the
//! simulator at Coda's real limits (10 writes and 100 reads per 6 s) and the shipped budgets.
//! Printed: `listRows` calls against ceil(rows / page size), write calls against the minimum
//! (ceil(upserts / 500) + ceil(deletes / 500)), 429s, and the wall time against the minimum
//! the limits allow at their steady rate (list calls x 0.06 s + write calls x 0.6 s, the
//! convention of the push benchmark), then the calls of a second reconcile.
//! `BENCH_QUICK=1`: 2,000 rows.

// Shared with the sync benchmark; this one uses only part of it.
#[allow(dead_code)]
#[path = "../sync/util.rs"]
mod util;

use std::time::{Duration, Instant};

use runner::config::reconcile::ExtraRows;
use runner::push::{CodaClient, NoPushProgress, push_full};
use runner::reconcile::{Options, reconcile};
use runner::source::RestClient;
use runner::sync::{NoProgress, SyncOptions, run_pipeline};
use serde_json::json;
use sim::coda::{CodaConfig, CodaSim, RateLimitConfig};
use sim::data::{Clinic, Resource};
use sim::drchrono::{DrChronoConfig, DrChronoSim};

const DOC: &str = "doc-bench";

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
        rate_limit: None,
        ..CodaConfig::default()
    })
    .await?;
    let mut plan = util::plan(drchrono.url())?;
    plan.systems.drchrono.rate.clear();
    plan.systems.coda.base_url = coda.url().to_string();
    plan.systems.coda.doc_id = DOC.into();
    if let Some(m) = plan.mappings.get_mut("patients") {
        m.extra_rows = ExtraRows::Delete;
    }
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
    // The first push is set-up, not measured: no limits on either side.
    let mut setup = plan.clone();
    setup.systems.coda.write_rate.clear();
    setup.systems.coda.read_rate.clear();
    let selected = vec!["patients".to_string()];
    let setup_client = CodaClient::new(&setup.systems.coda, db.pool.clone());
    push_full(
        &db.pool,
        &setup,
        &setup_client,
        &selected,
        false,
        &NoPushProgress,
    )
    .await?;
    coda.state().flush_mutations();

    let (upserts, deletes) = staff_work(coda.state(), &plan, n)?;
    coda.state()
        .set_rate_limit(Some(RateLimitConfig::default()));
    coda.state().reset_stats();
    let rows_in_coda = coda
        .state()
        .table_rows(DOC, &plan.mappings["patients"].table)
        .len() as u64;

    let coda_client = CodaClient::new(&plan.systems.coda, db.pool.clone());
    let repair = Options {
        repair: true,
        dry_run: false,
        trigger: "bench".into(),
    };
    let run = || async {
        let out = reconcile(
            &db.pool,
            &plan,
            &coda_client,
            &selected,
            &repair,
            &NoPushProgress,
            &mut |_| {},
        )
        .await?;
        out.into_iter()
            .next()
            .ok_or_else(|| anyhow::anyhow!("no outcome"))
    };
    let started = Instant::now();
    let t = run().await?;
    let wall = started.elapsed();
    let stats = coda.state().stats();
    anyhow::ensure!(t.failed.is_none(), "{:?}", t.failed);
    let page = u64::from(plan.systems.coda.reconcile.page_size);
    let min_writes = upserts.div_ceil(500) + deletes.div_ceil(500);
    let minimum = Duration::from_millis(60 * t.read_calls + 600 * t.repaired.write_calls);
    println!(
        "reconcile  {n} PostgreSQL rows, {rows_in_coda} Coda rows; staff work: {} deleted, {} edited, {} duplicates, {} extra",
        n / 8,
        n / 4,
        n / 40,
        n / 40
    );
    println!(
        "  listRows calls {} (ceil({rows_in_coda}/{page}) = {}); mutationStatus polls {}",
        t.read_calls,
        rows_in_coda.div_ceil(page),
        stats.reads.saturating_sub(t.read_calls)
    );
    println!(
        "  write calls {} (minimum ceil({upserts}/500) + ceil({deletes}/500) = {min_writes}); rows upserted {}, deleted {}",
        t.repaired.write_calls, t.repaired.upserted, t.repaired.deleted
    );
    println!("  429s answered: {}", stats.throttled);
    println!(
        "  wall time {:.1} s; minimum the limits allow (list calls x 0.06 s + write calls x 0.6 s) {:.1} s; ratio {:.2} (target <= 1.25)",
        wall.as_secs_f64(),
        minimum.as_secs_f64(),
        wall.as_secs_f64() / minimum.as_secs_f64()
    );
    coda.state().reset_stats();
    let a = run().await?;
    println!(
        "  second reconcile: drift {}, {} listRows calls, {} write calls ({} seen by Coda), 429s {}",
        if a.drift.is_empty() { "none" } else { "LEFT" },
        a.read_calls,
        a.repaired.write_calls,
        coda.state().stats().writes,
        coda.state().stats().throttled
    );
    drop(coda);
    drop(drchrono);
    db.drop().await
}

/// Staff work by hand on the patients table (see the module docs); returns the rows a repair
/// must upsert and delete.
fn staff_work(
    state: &sim::coda::CodaState,
    plan: &runner::config::Plan,
    n: usize,
) -> anyhow::Result<(u64, u64)> {
    let m = &plan.mappings["patients"];
    let rows = state.table_rows(DOC, &m.table);
    let (deleted, edited, twice, extra) = (n / 8, n / 4, n / 40, n / 40);
    for r in rows.iter().take(deleted) {
        state.delete_row(DOC, &m.table, &r.id)?;
    }
    for r in rows.iter().skip(deleted).take(edited) {
        let cells = [("c-patLastNam".to_string(), json!("edited by hand"))];
        state.edit_row(DOC, &m.table, &r.id, cells.into_iter().collect())?;
    }
    for r in rows.iter().skip(deleted + edited).take(twice) {
        state.insert_row(DOC, &m.table, r.values.clone())?;
    }
    for i in 0..extra {
        let cells = [("c-patDrchrId".to_string(), json!(900_000_000 + i))];
        state.insert_row(DOC, &m.table, cells.into_iter().collect())?;
    }
    Ok(((deleted + edited) as u64, (twice + extra) as u64))
}
