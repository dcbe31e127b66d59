//! The outbox relay against the Coda simulator: change events become keyed upserts, a crash
//! between a write and its confirmation still ends exactly equal, a refused row is
//! dead-lettered while the rest lands, and two workers send each changed row once; and the
//! `runner push` / `runner outbox` verbs run as a black box.

use std::time::Duration;

use runner::push::outbox::{self, OutboxOptions};
use runner::push::{CodaClient, NoPushProgress, push_full, select_mappings, spawn_outbox_worker};
use runner::server::Shutdown;
use serde_json::json;
use sim::data::Resource;
use sqlx::PgPool;
use tokio::process::Command;
use uuid::Uuid;

use crate::common;
use crate::push::{World, assert_equal, expected, live_rows, sync_all, sync_one, world};

fn opts(name: &str) -> OutboxOptions {
    OutboxOptions {
        worker: name.to_string(),
        retry_delay: Duration::ZERO,
        idle_poll: Duration::from_millis(50),
        ..OutboxOptions::default()
    }
}

async fn pending(pool: &PgPool) -> i64 {
    common::count(pool, "select count(*) from outbox where status = 'pending'").await
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn one_upstream_change_reaches_coda_as_one_row_in_one_call_through_the_embedded_worker(
    pool: PgPool,
) {
    let w = world(10, false).await;
    sync_all(&pool, &w.plan).await;
    let coda = CodaClient::new(&w.plan.systems.coda, pool.clone());
    let all = select_mappings(&w.plan, &[], true).unwrap();
    push_full(&pool, &w.plan, &coda, &all, false, &NoPushProgress)
        .await
        .unwrap();
    // The sync's events find Coda up to date: settled without a single call.
    w.coda.state().reset_stats();
    outbox::drain(&pool, &w.plan, &coda, &opts("a"), None)
        .await
        .unwrap();
    assert_eq!(w.coda.state().stats().writes, 0);
    assert_eq!(pending(&pool).await, 0);

    // An upsert that changes nothing adds no event, for a mapped table too.
    let events = common::count(
        &pool,
        "select count(*) from outbox where table_name = 'patients'",
    )
    .await;
    sync_one(&pool, &w.plan, "patients").await;
    assert_eq!(
        common::count(
            &pool,
            "select count(*) from outbox where table_name = 'patients'"
        )
        .await,
        events
    );

    let patient = w.drchrono.state().records(Resource::Patients)[0].clone();
    let id = patient["id"].as_i64().unwrap();
    w.drchrono
        .state()
        .update_record(
            Resource::Patients,
            id,
            json!({"cell_phone": "(555) 010-4242"}),
        )
        .unwrap();
    sync_one(&pool, &w.plan, "patients").await;
    let (n, op): (i64, String) = sqlx::query_as(
        "select count(*), min(operation) from outbox where status = 'pending' and table_name = 'patients'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((n, op.as_str()), (1, "UPDATE"));

    let (signal, stop) = Shutdown::channel();
    let worker = spawn_outbox_worker(
        pool.clone(),
        w.plan.clone().into(),
        coda.clone(),
        opts("embedded"),
        stop,
    );
    let seen = || {
        w.coda
            .state()
            .table_rows("doc-test", "grid-patients00")
            .iter()
            .any(|r| {
                r.values["c-patDrchrId"] == json!(id)
                    && r.values["c-patCellPhn"] == json!("(555) 010-4242")
            })
    };
    for _ in 0..200 {
        if seen() && pending(&pool).await == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    signal.trigger();
    worker.await.unwrap();
    let stats = w.coda.state().stats();
    assert_eq!(
        (stats.upserts, stats.upsert_rows_received),
        (1, 1),
        "{stats:?}"
    );
    assert_eq!(pending(&pool).await, 0);
    assert_equal(&pool, &w.coda, &w.plan).await;
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_worker_killed_between_the_write_and_its_confirmation_ends_exactly_equal_without_duplicates(
    pool: PgPool,
) {
    let w = world(8, false).await;
    sync_all(&pool, &w.plan).await;
    // Coda accepts writes but does not apply them yet: the worker waits for confirmation.
    w.coda.state().set_apply_delay(Duration::from_secs(3600));
    let first = CodaClient::new(&w.plan.systems.coda, pool.clone());
    let o = OutboxOptions {
        lease: Duration::from_millis(500),
        ..opts("doomed")
    };
    let (p, plan, c) = (pool.clone(), w.plan.clone(), first.clone());
    let task = tokio::spawn(async move { outbox::drain(&p, &plan, &c, &o, None).await });
    for _ in 0..400 {
        if w.coda.state().stats().upserts > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    assert_eq!(
        w.coda.state().stats().upserts,
        1,
        "killed after the first 202"
    );
    assert_eq!(
        common::count(&pool, "select count(*) from coda_pushed_rows").await,
        0,
        "nothing confirmed, nothing recorded"
    );
    let sources: Vec<String> = w.plan.mappings.values().map(|m| m.source.clone()).collect();
    let done: i64 = sqlx::query_scalar(
        "select count(*) from outbox where status = 'done' and table_name = any($1)",
    )
    .bind(&sources)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(done, 0, "events of mapped tables stay pending");

    // The write lands after all; the lease runs out; a second worker takes over.
    w.coda.state().flush_mutations();
    w.coda.state().set_apply_delay(Duration::ZERO);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let second = CodaClient::new(&w.plan.systems.coda, pool.clone());
    outbox::drain(&pool, &w.plan, &second, &opts("second"), None)
        .await
        .unwrap();
    assert_eq!(pending(&pool).await, 0);
    assert_equal(&pool, &w.coda, &w.plan).await;
    let live: u64 = live_rows(&pool, &w.plan).await.values().sum();
    assert_eq!(
        w.coda.state().stats().rows_added,
        live,
        "every row added once, none twice"
    );
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_refused_row_is_dead_lettered_while_its_batch_lands_and_retry_brings_it_back(
    pool: PgPool,
) {
    let w = world(8, false).await;
    // Coda refuses bodies over 64 KiB; one appointment's note alone is larger.
    w.coda.state().set_max_body_bytes(64 * 1024);
    let appt = w.drchrono.state().records(Resource::Appointments)[0].clone();
    let big = "PRIVATE-NOTE ".repeat(8000);
    w.drchrono
        .state()
        .update_record(
            Resource::Appointments,
            appt["id"].as_str().unwrap(),
            json!({"notes": big}),
        )
        .unwrap();
    sync_all(&pool, &w.plan).await;
    let bad: Uuid = sqlx::query_scalar("select id from appointments where drchrono_id = $1")
        .bind(appt["id"].as_str().unwrap())
        .fetch_one(&pool)
        .await
        .unwrap();
    let coda = CodaClient::new(&w.plan.systems.coda, pool.clone());
    let o = OutboxOptions {
        max_attempts: 3,
        ..opts("w")
    };
    let out = outbox::drain(&pool, &w.plan, &coda, &o, None)
        .await
        .unwrap();
    assert!(out.dead >= 1, "{out:?}");
    let status = outbox::status(&pool).await.unwrap();
    assert_eq!(status.pending, 0);
    assert!(
        status
            .dead
            .iter()
            .all(|d| d.record_id == bad && d.table_name == "appointments")
    );
    let reason = status.dead[0].last_error.clone().unwrap();
    assert!(
        reason.contains("grid-appointmnt") && reason.contains("413"),
        "{reason}"
    );
    assert!(!reason.contains("PRIVATE"), "no patient data in the reason");
    assert_eq!(status.dead[0].attempts, 3);
    // Everything else landed, the refused row's batch-mates included.
    let mut want = expected(&pool, &w.plan).await;
    let have = crate::push::actual(&w.coda, &w.plan);
    let bad_key = json!([appt["id"]]).to_string();
    assert!(
        want.get_mut("appointments")
            .unwrap()
            .remove(&bad_key)
            .is_some()
    );
    assert!(!have["appointments"].contains_key(&bad_key));
    assert_eq!(want, have);

    let (ok, text) = runner_cli(&pool, &w, &["outbox"]).await;
    assert!(
        ok && text.contains("dead letters: ") && text.contains("413"),
        "{text}"
    );
    assert!(!text.contains("PRIVATE"), "{text}");
    // Coda's limit is raised; the dead letters come back and land.
    w.coda.state().set_max_body_bytes(8 * 1024 * 1024);
    let (ok, text) = runner_cli(&pool, &w, &["outbox", "retry"]).await;
    assert!(ok && text.contains("back to pending"), "{text}");
    outbox::drain(&pool, &w.plan, &coda, &o, None)
        .await
        .unwrap();
    let status = outbox::status(&pool).await.unwrap();
    assert_eq!((status.pending, status.dead.len()), (0, 0));
    assert_equal(&pool, &w.coda, &w.plan).await;
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn two_workers_send_every_changed_row_exactly_once(pool: PgPool) {
    let w = world(15, false).await;
    sync_all(&pool, &w.plan).await;
    let live: u64 = live_rows(&pool, &w.plan).await.values().sum();
    let (a, b) = (
        CodaClient::new(&w.plan.systems.coda, pool.clone()),
        CodaClient::new(&w.plan.systems.coda, pool.clone()),
    );
    let oa = OutboxOptions {
        batch: 40,
        ..opts("a")
    };
    let ob = OutboxOptions {
        batch: 40,
        ..opts("b")
    };
    let (ra, rb) = tokio::join!(
        outbox::drain(&pool, &w.plan, &a, &oa, None),
        outbox::drain(&pool, &w.plan, &b, &ob, None)
    );
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert!(
        ra.rows_sent > 0 && rb.rows_sent > 0,
        "both worked: {ra:?} {rb:?}"
    );
    assert_eq!(w.coda.state().stats().upsert_rows_received, live);
    assert_eq!(ra.rows_sent + rb.rows_sent, live);
    assert_eq!(pending(&pool).await, 0);
    assert_equal(&pool, &w.coda, &w.plan).await;
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_soft_deleted_row_is_removed_from_coda_and_its_hash_dropped(pool: PgPool) {
    let w = world(10, false).await;
    sync_all(&pool, &w.plan).await;
    let coda = CodaClient::new(&w.plan.systems.coda, pool.clone());
    outbox::drain(&pool, &w.plan, &coda, &opts("w"), None)
        .await
        .unwrap();
    let gone = w.drchrono.state().records(Resource::Medications)[0]["id"]
        .as_i64()
        .unwrap();
    w.drchrono
        .state()
        .delete_record(Resource::Medications, gone)
        .unwrap();
    sync_one(&pool, &w.plan, "medications").await;
    w.coda.state().reset_stats();
    outbox::drain(&pool, &w.plan, &coda, &opts("w"), None)
        .await
        .unwrap();
    let stats = w.coda.state().stats();
    assert_eq!((stats.rows_deleted, stats.writes), (1, 1), "{stats:?}");
    assert_equal(&pool, &w.coda, &w.plan).await;
    let hashes: i64 = sqlx::query_scalar(
        "select count(*) from coda_pushed_rows h join medications m on m.id = h.record_id where m.drchrono_id = $1",
    )
    .bind(gone)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(hashes, 0);
}

/// Runs the `runner` binary with the test config on `pool`'s database and Coda at `coda`.
pub(crate) async fn runner_cli(pool: &PgPool, w: &World, args: &[&str]) -> (bool, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_runner"));
    cmd.args(args)
        .current_dir(common::repo())
        .env("DATABASE_URL", common::database_url(pool).await)
        .env("CI", "1");
    if let runner::config::Env::Map(vars) = common::env(w.drchrono.url(), w.coda.url()) {
        cmd.envs(vars);
    }
    let out = cmd.output().await.unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn runner_push_dry_run_prints_counts_then_a_push_sends_and_a_second_sends_nothing(
    pool: PgPool,
) {
    let w = world(5, true).await;
    sync_all(&pool, &w.plan).await;
    let n = live_rows(&pool, &w.plan).await["patients"];
    let (ok, out) = runner_cli(&pool, &w, &["push", "patients", "--dry-run"]).await;
    assert!(ok, "{out}");
    assert!(
        out.contains(&format!("would create {n}, update 0")),
        "{out}"
    );
    assert!(out.contains("calls: 1 write"), "{out}");
    assert_eq!(w.coda.state().stats().requests_total, 0);
    let (ok, out) = runner_cli(&pool, &w, &["push", "patients"]).await;
    assert!(ok && out.contains(&format!("sent {n}")), "{out}");
    let (ok, out) = runner_cli(&pool, &w, &["push", "patients"]).await;
    assert!(
        ok && out.contains("sent 0") && out.contains("0 write calls"),
        "{out}"
    );
    assert_eq!(w.coda.state().stats().upserts, 1);
    let (ok, out) = runner_cli(&pool, &w, &["push", "nope"]).await;
    assert!(
        !ok && out.contains("no Coda mapping named or fed by `nope`"),
        "{out}"
    );
}
