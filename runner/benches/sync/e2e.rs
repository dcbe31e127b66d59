//! End to end: a backfill from the simulator (rate limit off) versus the ingest-only rate.
//! Fetching must overlap writing for this ratio to be high.

use runner::source::RestClient;
use runner::sync::{NoProgress, SyncOptions, run_pipeline};
use sim::data::{Clinic, Resource};
use sim::drchrono::{DrChronoConfig, DrChronoSim};

use super::util::{BenchDb, rate, timed};

pub(crate) async fn run(db: &BenchDb, n: usize, ingest_rate: f64) -> anyhow::Result<()> {
    let clinic = Clinic::generate_only(
        7,
        n,
        chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap_or_default(),
        &[Resource::Patients, Resource::Doctors],
    );
    let sim = DrChronoSim::start_with_clinic(
        DrChronoConfig {
            rate_limit: None,
            ..DrChronoConfig::default()
        },
        clinic,
    )
    .await?;
    let mut plan = super::util::plan(sim.url())?;
    plan.systems.drchrono.rate.clear();
    let p = plan
        .pipeline("patients")
        .ok_or_else(|| anyhow::anyhow!("no patients pipeline"))?
        .clone();
    let opts = SyncOptions {
        full: true,
        trigger: "bench".into(),
        ..SyncOptions::default()
    };
    let mut best = 0f64;
    // One client for both rounds: it keeps its access token while the tables are emptied.
    let client = RestClient::drchrono(&plan.systems.drchrono, db.pool.clone());
    for _ in 0..2 {
        db.reset().await?;
        let (report, d) = timed(async {
            Ok(run_pipeline(&db.pool, &client, &plan, &p, &opts, &NoProgress).await)
        })
        .await?;
        if let Some(e) = report.error {
            anyhow::bail!("backfill failed: {e}");
        }
        best = best.max(rate(report.records as usize, d));
    }
    // How fast the simulator alone can be listed, for context.
    let (pages, d) = timed(async {
        let mut url = client.url("/api/patients", &[("page_size".into(), "100".into())])?;
        let mut pages = 0usize;
        loop {
            let body = client.get_json(&url, None).await?;
            pages += 1;
            match body["next"].as_str() {
                Some(n) => url = n.to_string(),
                None => break,
            }
        }
        Ok(pages)
    })
    .await?;
    println!("end to end {n} patients from the simulator, rate limit off ({pages} pages)");
    println!("  listing only (no writes):  {:>9.0} records/s", rate(n, d));
    println!("  backfill (fetch + write):  {best:>9.0} records/s");
    println!("  ingest only (above):       {ingest_rate:>9.0} rows/s");
    println!("  ratio {:.2} (target >= 0.60)", best / ingest_rate);
    sim.stop().await?;
    Ok(())
}
