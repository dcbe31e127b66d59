//! Several processes at once, as on GCP (several Cloud Run instances, `runner sync` beside
//! `runner serve`): DrChrono's budget is shared through PostgreSQL, so three processes together
//! stay under DrChrono's real limits, and two runs of one pipeline wait for each other (or the
//! second skips it) instead of failing.

use std::process::Output;
use std::time::Duration;

use sim::drchrono::{DrChronoConfig, DrChronoHandle, DrChronoSim, RateLimitConfig};
use sqlx::PgPool;
use tokio::process::Command;

use crate::common;

/// A copy of the shipped config whose DrChrono listings use pages of `page_size` records, so a
/// small clinic makes many calls.
fn small_pages(page_size: u32) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("runner-small-pages-{}", uuid::Uuid::new_v4()));
    for sub in ["pipelines", "pipelines/tests", "mappings"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
        for e in std::fs::read_dir(common::repo().join(sub)).unwrap() {
            let path = e.unwrap().path();
            if path.is_file() {
                let text = std::fs::read_to_string(&path).unwrap();
                let text: String = text
                    .lines()
                    .filter(|l| !l.trim_start().starts_with("page_size:"))
                    .map(|l| {
                        if l.starts_with("  rate:") {
                            format!("  page_size: {page_size}\n{l}\n")
                        } else {
                            format!("{l}\n")
                        }
                    })
                    .collect();
                std::fs::write(dir.join(sub).join(path.file_name().unwrap()), text).unwrap();
            }
        }
    }
    std::fs::create_dir_all(dir.join("schema")).unwrap();
    dir
}

async fn runner(sim: &DrChronoHandle, pool: &PgPool) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_runner"));
    cmd.current_dir(small_pages(5))
        .env("DATABASE_URL", common::database_url(pool).await)
        .env("CI", "1");
    if let runner::config::Env::Map(vars) = common::env(sim.url(), "http://127.0.0.1:9") {
        cmd.envs(vars);
    }
    cmd
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// DrChrono with its real limits (500 per hour, 10 within any second).
async fn real_limits(patients: usize) -> DrChronoHandle {
    DrChronoSim::start(DrChronoConfig {
        patients,
        rate_limit: Some(RateLimitConfig {
            hourly: Some(500),
            burst: Some(10),
            ..RateLimitConfig::default()
        }),
        ..DrChronoConfig::default()
    })
    .await
    .unwrap()
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn three_processes_syncing_at_once_stay_under_drchronos_limits(pool: PgPool) {
    let sim = real_limits(120).await;
    // Each process alone respects 8 per second; three at once would send 24.
    let mut children = Vec::new();
    for pipelines in [
        ["providers", "appointments"],
        ["patients", "medications"],
        ["problems", "allergies"],
    ] {
        let child = runner(&sim, &pool)
            .await
            .args(["sync", "--full"])
            .args(pipelines)
            .output();
        children.push(tokio::spawn(child));
    }
    for c in children {
        let out = c.await.unwrap().unwrap();
        assert!(out.status.success(), "{}", text(&out));
    }
    let stats = sim.state().stats();
    assert_eq!(stats.throttled, 0, "{stats:?}");
    assert!(stats.requests_total > 30, "{stats:?}");
    let shared = common::count(
        &pool,
        "select count(*) from rate_budget_calls where system = 'drchrono'",
    )
    .await;
    assert!(shared > 0, "the calls were counted in the shared budget");
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_second_run_of_a_pipeline_waits_for_the_first_or_skips_it(pool: PgPool) {
    let sim = DrChronoSim::start(DrChronoConfig {
        patients: 40,
        rate_limit: None,
        ..DrChronoConfig::default()
    })
    .await
    .unwrap();
    sim.state().set_faults(sim::drchrono::FaultConfig {
        slow_rate: 1.0,
        slow_delay: Duration::from_millis(300),
        ..Default::default()
    });
    let first = runner(&sim, &pool)
        .await
        .args(["sync", "patients"])
        .output();
    let first = tokio::spawn(first);
    // The first holds the lock while its pages are slow.
    let mut held = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if common::count(
            &pool,
            "select count(*) from sync_log where pipeline = 'patients' and status = 'running'",
        )
        .await
            > 0
        {
            held = true;
            break;
        }
    }
    assert!(held, "the first run started");
    let skip = runner(&sim, &pool)
        .await
        .args(["sync", "patients", "--if-locked", "skip"])
        .output()
        .await
        .unwrap();
    assert!(skip.status.success(), "{}", text(&skip));
    assert!(text(&skip).contains("skipped: another process is running it"));
    let wait = runner(&sim, &pool)
        .await
        .args(["sync", "patients"])
        .output()
        .await
        .unwrap();
    assert!(wait.status.success(), "{}", text(&wait));
    assert!(
        text(&wait).contains("waiting for it to finish"),
        "{}",
        text(&wait)
    );
    assert!(first.await.unwrap().unwrap().status.success());
    let runs = common::count(
        &pool,
        "select count(*) from sync_log where pipeline = 'patients' and status = 'succeeded'",
    )
    .await;
    assert_eq!(runs, 2, "the waiting run ran after the first");
}
