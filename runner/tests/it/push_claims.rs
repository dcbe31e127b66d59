//! `runner outbox drain` killed with SIGKILL: its claimed batch is not stranded until the lease
//! runs out. The next drain takes the dead worker's claims over at once and ends with Coda
//! equal to PostgreSQL and an empty outbox, in one run, wherever the kill landed.

use std::time::Duration;

use serde_json::json;
use sim::data::{Resource, SplitMix64};
use sqlx::PgPool;

use crate::common;
use crate::push::{World, assert_equal, sync_all, world};
use crate::push_cli::{run, runner};

/// Events not yet settled (pending or relayed) and dead letters.
async fn unsettled(pool: &PgPool) -> (i64, i64) {
    sqlx::query_as(
        "select count(*) filter (where status in ('pending', 'relayed')),
                count(*) filter (where status = 'dead') from outbox",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

/// Starts `runner outbox drain`, waits until Coda has received `writes` write calls from it
/// and `jitter_ms` more, and kills it with SIGKILL.
async fn drain_killed_after(pool: &PgPool, w: &World, writes: u64, jitter_ms: u64) {
    let before = w.coda.state().stats().writes;
    let mut cmd = runner(pool, w).await;
    let mut child = cmd
        .args(["outbox", "drain"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..3000 {
        if w.coda.state().stats().writes >= before + writes || child.try_wait().unwrap().is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(jitter_ms)).await;
    // SIGKILL: no destructor, no unlock, no rollback sent.
    let _ = child.start_kill();
    let _ = child.wait().await;
}

/// One complete `runner outbox drain`.
async fn drain_once(pool: &PgPool, w: &World) -> String {
    let mut cmd = runner(pool, w).await;
    cmd.args(["outbox", "drain"]);
    let (code, text) = run(cmd).await;
    assert_eq!(code, Some(0), "{text}");
    text
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_drain_killed_mid_batch_leaves_nothing_stranded_for_the_next_drain(pool: PgPool) {
    let w = world(5, false).await;
    sync_all(&pool, &w.plan).await;
    // Coda accepts the first write but applies nothing: the drain waits for confirmation
    // with its whole batch claimed when it is killed.
    w.coda.state().set_apply_delay(Duration::from_secs(3600));
    drain_killed_after(&pool, &w, 1, 50).await;
    let claimed = common::count(
        &pool,
        "select count(*) from outbox where status = 'pending' and available_at > now()",
    )
    .await;
    assert!(claimed > 0, "the killed drain held a leased batch");
    w.coda.state().flush_mutations();
    w.coda.state().set_apply_delay(Duration::ZERO);

    let text = drain_once(&pool, &w).await;
    assert_eq!(unsettled(&pool).await, (0, 0), "{text}");
    assert_equal(&pool, &w.coda, &w.plan).await;
}

/// Changes a few DrChrono records of every kind and syncs them, so the outbox holds events of
/// several tables.
async fn change_some(pool: &PgPool, w: &World, rng: &mut SplitMix64, round: usize) {
    let s = w.drchrono.state();
    for (resource, field) in [
        (Resource::Patients, "cell_phone"),
        (Resource::Appointments, "notes"),
        (Resource::Medications, "notes"),
    ] {
        let records = s.records(resource);
        for _ in 0..=rng.below(4) {
            let r = &records[rng.below(records.len() as u64) as usize];
            let id = match &r["id"] {
                serde_json::Value::String(id) => id.clone(),
                other => other.to_string(),
            };
            let value = format!("trial {round} {}", rng.below(1_000_000));
            s.update_record(resource, id.as_str(), json!({ field: value }))
                .unwrap();
        }
    }
    sync_all(pool, &w.plan).await;
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn kill_9_trials_of_outbox_drain_each_end_equal_with_an_empty_outbox_in_one_run(
    pool: PgPool,
) {
    let w = world(6, false).await;
    sync_all(&pool, &w.plan).await;
    let mut rng = SplitMix64::new(0x6b69_6c6c);
    for trial in 0..10 {
        if trial > 0 {
            change_some(&pool, &w, &mut rng, trial).await;
        }
        let events = unsettled(&pool).await.0;
        // Kill points spread over the drain: before its first write, between a write and its
        // confirmation (Coda applies each mutation after a random delay), between tables,
        // while settling. Each changed table costs at least one write.
        let tables = common::count(
            &pool,
            "select count(distinct table_name) from outbox where status = 'pending'",
        )
        .await as u64;
        let writes = rng.below(tables.max(1));
        let jitter = rng.below(80);
        w.coda
            .state()
            .set_apply_delay(Duration::from_millis(rng.below(200)));
        drain_killed_after(&pool, &w, writes, jitter).await;
        let left = unsettled(&pool).await.0;
        let leased = common::count(
            &pool,
            "select count(*) from outbox where status = 'pending' and available_at > now() + interval '1 minute'",
        )
        .await;
        let text = drain_once(&pool, &w).await;
        eprintln!(
            "trial {trial}: {events} events, killed after {writes} write(s) + {jitter} ms with {left} unsettled ({leased} under the dead drain's lease); next drain: {}",
            text.trim()
        );
        assert_eq!(unsettled(&pool).await, (0, 0), "trial {trial}: {text}");
        assert_equal(&pool, &w.coda, &w.plan).await;
    }
}
