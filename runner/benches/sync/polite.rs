//! Politeness: with the simulator enforcing exactly the budget `systems.yaml` declares, a full
//! backfill gets no 429; an incremental cycle with no upstream change costs one request per
//! incremental pipeline and writes nothing.

use std::time::Duration;

use runner::source::RestClient;
use runner::sync::{NoProgress, SyncOptions, run_pipeline};
use sim::drchrono::{DrChronoConfig, DrChronoSim, RateLimitConfig};

use super::util::BenchDb;

pub(crate) async fn run(db: &BenchDb) -> anyhow::Result<()> {
    db.reset().await?;
    let probe = super::util::plan("http://127.0.0.1:9")?;
    let limits = &probe.systems.drchrono.rate;
    let hourly = limits
        .iter()
        .find(|l| l.per_secs == 3600)
        .map(|l| l.requests);
    let burst = limits.iter().find(|l| l.per_secs == 1).map(|l| l.requests);
    let sim = DrChronoSim::start(DrChronoConfig {
        patients: 150,
        rate_limit: Some(RateLimitConfig {
            hourly,
            hour: Duration::from_secs(3600),
            burst,
            burst_window: Duration::from_secs(1),
            retry_after: false,
        }),
        ..DrChronoConfig::default()
    })
    .await?;
    let plan = super::util::plan(sim.url())?;
    let client = RestClient::drchrono(&plan.systems.drchrono, db.pool.clone());
    let opts = SyncOptions {
        trigger: "bench".into(),
        ..SyncOptions::default()
    };
    let synced: Vec<_> = plan
        .pipelines
        .iter()
        .filter(|p| p.file.source.endpoint.is_some())
        .collect();
    for p in &synced {
        let r = run_pipeline(&db.pool, &client, &plan, p, &opts, &NoProgress).await;
        if let Some(e) = r.error {
            anyhow::bail!("{}: {e}", r.pipeline);
        }
    }
    let s = sim.state().stats();
    println!(
        "politeness simulator limits = declared budget ({hourly:?}/hour, {burst:?}/s), 150 patients, all pipelines"
    );
    println!(
        "  full backfill: {} requests, {} answered 429",
        s.requests_total, s.throttled
    );
    let audit: i64 = sqlx::query_scalar("select count(*) from change_log")
        .fetch_one(&db.pool)
        .await?;
    sim.state().reset_stats();
    let mut pages = Vec::new();
    for p in &synced {
        let r = run_pipeline(&db.pool, &client, &plan, p, &opts, &NoProgress).await;
        if p.file.source.incremental.is_some() {
            pages.push(format!("{}={}", r.pipeline, r.pages));
        }
    }
    let after: i64 = sqlx::query_scalar("select count(*) from change_log")
        .fetch_one(&db.pool)
        .await?;
    let s2 = sim.state().stats();
    println!(
        "  incremental cycle, no upstream change: requests per incremental pipeline [{}], rows written {}",
        pages.join(", "),
        after - audit
    );
    println!(
        "  (full-mode pipelines, which DrChrono gives no `since`, re-list: {} requests in all, {} answered 429)",
        s2.requests_total, s2.throttled
    );
    sim.stop().await?;
    Ok(())
}
