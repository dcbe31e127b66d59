//! A Coda table that refuses every row (a mapped column deleted in Coda): the table is
//! stopped after one refused call and one column read, its outbox events are dead letters at
//! once with a reason that names the column and `runner coda check`, the drain reports them,
//! `runner push --all` reports the table and goes on with the others.

use std::time::Duration;

use runner::push::CodaClient;
use runner::push::outbox::{self, OutboxOptions};
use runner::telemetry::events;
use sqlx::PgPool;

use crate::common::{self, LogCapture};
use crate::push::{actual, assert_equal_only, sync_one, world};
use crate::push_cli::{assert_others_equal, run, runner};

/// A mapped, non-key column of the patients table.
const GONE: &str = "c-patMiddlNm";

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_column_deleted_in_coda_dead_letters_the_tables_events_once_without_bisecting(
    pool: PgPool,
) {
    let w = world(300, false).await;
    sync_one(&pool, &w.plan, "patients").await;
    sync_one(&pool, &w.plan, "providers").await;
    let patients = common::count(
        &pool,
        "select count(*) from outbox where table_name = 'patients'",
    )
    .await;
    assert!(patients >= 300, "{patients}");
    w.coda
        .state()
        .delete_column("doc-test", "grid-patients00", GONE)
        .unwrap();
    let coda = CodaClient::new(&w.plan.systems.coda, pool.clone());
    let logs = LogCapture::json();
    let o = OutboxOptions {
        worker: "refusals".into(),
        idle_poll: Duration::from_millis(50),
        ..OutboxOptions::default()
    };
    let out = outbox::drain(&pool, &w.plan, &coda, &o, None)
        .await
        .unwrap();

    assert_eq!(out.dead as i64, patients, "{out:?}");
    let stats = w.coda.state().stats();
    assert_eq!(
        stats.bad_requests, 1,
        "one refused call, no bisection: {stats:?}"
    );
    let status = outbox::status(&pool).await.unwrap();
    assert_eq!(status.pending, 0);
    assert_eq!(status.dead.len() as i64, patients);
    assert!(
        status
            .dead
            .iter()
            .all(|d| d.table_name == "patients" && d.attempts == 1)
    );
    let reason = status.dead[0].last_error.clone().unwrap();
    assert!(
        reason.contains("grid-patients00")
            && reason.contains(GONE)
            && reason.contains("run `runner coda check`"),
        "{reason}"
    );
    let refused = logs.events(events::CODA_TABLE_REFUSED);
    assert_eq!(refused.len(), 1, "{:?}", logs.lines());
    assert_eq!(refused[0]["table"], "grid-patients00");
    assert_eq!(refused[0]["severity"], "ERROR");
    // The other table went on.
    assert_equal_only(&pool, &w.coda, &w.plan, Some(&["providers"])).await;
    assert!(actual(&w.coda, &w.plan)["patients"].is_empty());
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn runner_push_all_reports_a_refused_table_and_pushes_the_others(pool: PgPool) {
    let w = world(40, false).await;
    crate::push::sync_all(&pool, &w.plan).await;
    w.coda
        .state()
        .delete_column("doc-test", "grid-patients00", GONE)
        .unwrap();
    let mut cmd = runner(&pool, &w).await;
    cmd.args(["push", "--all"]);
    let (code, text) = run(cmd).await;
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains(&format!(
            "{GONE} of mappings/patients.yaml no longer exists in Coda"
        )) && text.contains("run `runner coda check`")
            && text.contains("1 of 12 table(s) failed: patients"),
        "{text}"
    );
    assert_eq!(w.coda.state().stats().bad_requests, 1);
    assert_others_equal(&pool, &w, "patients").await;
}
