//! `runner sync` and `runner verify` as a user runs them: the real binary, its exit status and
//! output, a kill in the middle of a backfill, and the DrChrono limits.

use std::process::{Output, Stdio};

use std::time::Duration;
use tokio::process::Command;

use sim::drchrono::{DrChronoConfig, DrChronoHandle, DrChronoSim, FaultConfig, RateLimitConfig};
use sqlx::PgPool;

use crate::common;

/// The binary with the environment of the shipped config pointed at `sim` and `pool`'s database.
async fn runner(sim: &DrChronoHandle, pool: &PgPool) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_runner"));
    cmd.current_dir(common::repo())
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

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_backfill_killed_midway_and_restarted_ends_exact_without_duplicates(pool: PgPool) {
    let sim = DrChronoSim::start(DrChronoConfig {
        patients: 150,
        rate_limit: None,
        ..DrChronoConfig::default()
    })
    .await
    .unwrap();
    // Slow every response so the kill lands in the middle of the listing.
    sim.state().set_faults(FaultConfig {
        slow_rate: 1.0,
        slow_delay: Duration::from_millis(120),
        ..FaultConfig::default()
    });
    let mut child = runner(&sim, &pool)
        .await
        .args(["sync", "--all"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until some pages of the verbose insurance listing (25 per page) are committed.
    let mut waited = 0;
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += 1;
        let resumed: i64 =
            sqlx::query_scalar("select count(*) from sync_cursors where resume_state is not null")
                .fetch_one(&pool)
                .await
                .unwrap();
        if resumed > 0 || waited > 600 {
            break;
        }
    }
    child.kill().await.unwrap();
    let partial = common::count(
        &pool,
        "select count(*) from sync_log where status = 'running'",
    )
    .await;
    assert_eq!(partial, 1, "the killed run is left as running in sync_log");

    sim.state().set_faults(FaultConfig::default());
    let out = runner(&sim, &pool)
        .await
        .args(["sync", "--all"])
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let interrupted: i64 = common::count(
        &pool,
        "select count(*) from sync_log where status = 'failed' and error like 'interrupted%'",
    )
    .await;
    assert_eq!(
        interrupted, 1,
        "the killed run is closed as interrupted by the next run"
    );
    let out = runner(&sim, &pool)
        .await
        .arg("verify")
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "verify after restart:\n{}",
        text(&out)
    );
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        report
            .lines()
            .filter(|l| l.trim_end().ends_with(" ok"))
            .count()
            >= 9,
        "{report}"
    );
    let dup: i64 = common::count(&pool, "select count(*) - count(distinct drchrono_patient_id || insurance_type) from insurance_records").await;
    assert_eq!(dup, 0);
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn verify_names_a_mismatch_and_exits_non_zero(pool: PgPool) {
    let sim = common::drchrono(12).await;
    let out = runner(&sim, &pool)
        .await
        .args(["sync", "providers", "patients"])
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let extra = sim.state().create_record(sim::data::Resource::Patients, serde_json::json!({"first_name": "Zzlate", "last_name": "Fakeson", "gender": "Other", "doctor": sim.state().records(sim::data::Resource::Doctors)[0]["id"]})).unwrap();
    let out = runner(&sim, &pool)
        .await
        .args(["verify", "patients"])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("MISMATCH") && stdout.contains(&format!("missing [{}]", extra["id"])),
        "{stdout}"
    );
    assert!(!stdout.contains("Zzlate"), "verify prints ids, never names");
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_failing_pipeline_exits_non_zero_with_a_one_line_reason(pool: PgPool) {
    let sim = common::drchrono(3).await;
    let mut cmd = runner(&sim, &pool).await;
    cmd.env("DRCHRONO_CLIENT_SECRET", "wrong")
        .args(["sync", "providers"]);
    let out = cmd.output().await.unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr
        .lines()
        .find(|l| l.starts_with("FAILED providers:"))
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(line.contains("re-authorise"), "{line}");
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_backfill_within_the_declared_budget_is_never_throttled(pool: PgPool) {
    // The simulator enforces exactly the limits systems.yaml declares, scaled down in time:
    // the hourly budget becomes 12 per 3 s so the test crosses several budget windows.
    let sim = DrChronoSim::start(DrChronoConfig {
        patients: 60,
        rate_limit: Some(RateLimitConfig {
            hourly: Some(12),
            hour: Duration::from_secs(3),
            burst: Some(8),
            ..RateLimitConfig::default()
        }),
        ..DrChronoConfig::default()
    })
    .await
    .unwrap();
    let mut plan = common::plan(sim.url());
    plan.systems.drchrono.rate = vec![
        runner::config::systems::RateLimit {
            requests: 12,
            per_secs: 3,
        },
        runner::config::systems::RateLimit {
            requests: 8,
            per_secs: 1,
        },
    ];
    let client = runner::source::RestClient::drchrono(&plan.systems.drchrono, pool.clone());
    let opts = runner::sync::SyncOptions {
        trigger: "test".into(),
        ..Default::default()
    };
    for p in plan
        .pipelines
        .iter()
        .filter(|p| p.file.source.endpoint.is_some())
    {
        let r =
            runner::sync::run_pipeline(&pool, &client, &plan, p, &opts, &runner::sync::NoProgress)
                .await;
        assert!(r.error.is_none(), "{:?}", r.error);
    }
    let stats = sim.state().stats();
    assert!(
        stats.requests_total > 12,
        "the backfill needs more than one budget window: {stats:?}"
    );
    assert_eq!(stats.throttled, 0, "{stats:?}");
    let throttled = common::count(
        &pool,
        "select count(*) from access_log where status_code = 429",
    )
    .await;
    assert_eq!(throttled, 0);
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn runner_sync_skips_a_pipeline_another_process_is_running_when_asked(pool: PgPool) {
    let sim = common::drchrono(3).await;
    let held = runner::schedule::PipelineLock::try_acquire(&pool, "providers")
        .await
        .unwrap()
        .expect("free");
    let out = runner(&sim, &pool)
        .await
        .args(["sync", "providers", "--if-locked", "skip"])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("providers          skipped: another process is running it"),
        "{}",
        text(&out)
    );
    assert_eq!(
        common::count(&pool, "select count(*) from sync_log").await,
        0,
        "nothing ran"
    );
    held.release().await;
    let out = runner(&sim, &pool)
        .await
        .args(["sync", "providers"])
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
}
