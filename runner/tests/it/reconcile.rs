//! `runner coda reconcile` as a library against the Coda simulator, with PostgreSQL filled by
//! the real DrChrono sync and pushed once: rows deleted, cells edited, duplicate keys and
//! extra rows made by hand in Coda are found by key and column, repaired with the fewest
//! writes, and a second reconcile finds nothing; columns Coda owns keep their values;
//! write-back tables are reported, never overwritten; throttled reads back off; the daily
//! run repairs on its own; and no log line holds patient data. Helpers are shared with
//! `reconcile_cli`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use runner::config::reconcile::ExtraRows;
use runner::push::{CodaClient, NoPushProgress, push_full, select_mappings};
use runner::reconcile::{Options, TableOutcome, reconcile};
use serde_json::{Value, json};
use sim::coda::{ColumnSpec, RateLimitConfig, Row};
use sqlx::PgPool;
use uuid::Uuid;

use crate::common::LogCapture;
use crate::push::{World, sync_all, world};

/// The doc of `common::env`.
pub(crate) const DOC: &str = "doc-test";
/// The Coda table of `mappings/patients.yaml`.
pub(crate) const PATIENTS: &str = "grid-patients00";

/// A world with `patients` patients, synced and pushed in full to Coda.
pub(crate) async fn pushed_world(pool: &PgPool, patients: usize) -> World {
    let w = world(patients, false).await;
    sync_all(pool, &w.plan).await;
    let coda = CodaClient::new(&w.plan.systems.coda, pool.clone());
    let all = select_mappings(&w.plan, &[], true).unwrap();
    push_full(pool, &w.plan, &coda, &all, false, &NoPushProgress)
        .await
        .unwrap();
    w
}

/// The rows of a Coda table of the test doc.
pub(crate) fn rows(w: &World, table: &str) -> Vec<Row> {
    w.coda.state().table_rows(DOC, table)
}

/// Cell values by column id.
pub(crate) fn values(pairs: &[(&str, Value)]) -> BTreeMap<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_string(), v.clone()))
        .collect()
}

/// The PostgreSQL id a Coda row of a mapping with an `id` column (`Record ID`) carries.
pub(crate) fn record(row: &Row, column: &str) -> Uuid {
    row.values[column].as_str().unwrap().parse().unwrap()
}

fn opts(repair: bool) -> Options {
    Options {
        repair,
        dry_run: false,
        trigger: "test".into(),
    }
}

/// Reconciles `names` of `w` with a fresh client.
async fn run(pool: &PgPool, w: &World, names: &[&str], repair: bool) -> Vec<TableOutcome> {
    let coda = CodaClient::new(&w.plan.systems.coda, pool.clone());
    let names: Vec<String> = names.iter().map(|n| (*n).to_string()).collect();
    let selected = select_mappings(&w.plan, &names, false).unwrap();
    reconcile(
        pool,
        &w.plan,
        &coda,
        &selected,
        &opts(repair),
        &NoPushProgress,
        &mut |_| {},
    )
    .await
    .unwrap()
}

/// Staff work in Coda on the patients table: a Coda-owned column with notes in every row,
/// then row 0 deleted, row 1's last name overwritten, a row PostgreSQL does not have, and a
/// second row with row 2's key. Returns rows 0, 1, 2 as they were, and the extra and
/// duplicate row ids.
pub(crate) fn staff_work(w: &World) -> (Vec<Row>, String, String) {
    let s = w.coda.state();
    s.add_column(DOC, PATIENTS, ColumnSpec::new("c-staffNote", "Staff Notes"))
        .unwrap();
    for r in rows(w, PATIENTS) {
        s.edit_row(
            DOC,
            PATIENTS,
            &r.id,
            values(&[("c-staffNote", json!("call back"))]),
        )
        .unwrap();
    }
    let before = rows(w, PATIENTS);
    s.delete_row(DOC, PATIENTS, &before[0].id).unwrap();
    s.edit_row(
        DOC,
        PATIENTS,
        &before[1].id,
        values(&[("c-patLastNam", json!("EDITED-BY-HAND"))]),
    )
    .unwrap();
    let extra = s
        .insert_row(
            DOC,
            PATIENTS,
            values(&[
                ("c-patDrchrId", json!(990_000_001)),
                ("c-staffNote", json!("walk-in")),
            ]),
        )
        .unwrap()
        .id;
    let mut copy = before[2].values.clone();
    copy.insert("c-staffNote".into(), json!("typed twice"));
    let duplicate = s.insert_row(DOC, PATIENTS, copy).unwrap().id;
    (before[..3].to_vec(), extra, duplicate)
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn staff_edits_are_reported_then_repaired_and_a_second_reconcile_finds_nothing(pool: PgPool) {
    let w = pushed_world(&pool, 8).await;
    let (before, extra, duplicate) = staff_work(&w);
    let id = |i: usize| record(&before[i], "c-patLocalId");
    let writes = w.coda.state().stats().writes;

    let report = run(&pool, &w, &["patients"], false).await;
    let t = &report[0];
    assert_eq!(t.drift.missing, vec![id(0)]);
    assert_eq!(t.drift.changed.len(), 1);
    assert_eq!(t.drift.changed[0].record, id(1));
    assert_eq!(
        t.changed_labels,
        BTreeMap::from([("Last Name".to_string(), vec![id(1)])])
    );
    assert_eq!(t.drift.extra, vec![extra.clone()]);
    assert_eq!(t.drift.duplicates.len(), 1);
    assert_eq!(t.drift.duplicates[0].record, id(2));
    assert_eq!(
        t.drift.duplicates[0].keep, before[2].id,
        "the oldest row is kept"
    );
    assert_eq!(t.drift.duplicates[0].others, vec![duplicate.clone()]);
    assert_eq!(t.unrepaired(&opts(false)), 4);
    assert_eq!(
        w.coda.state().stats().writes,
        writes,
        "a report writes nothing"
    );

    let repaired = run(&pool, &w, &["patients"], true).await;
    let r = &repaired[0].repaired;
    assert_eq!((r.upserted, r.deleted, r.write_calls), (2, 1, 2), "{r:?}");
    assert_eq!(
        repaired[0].unrepaired(&opts(true)),
        1,
        "the extra row is reported, kept"
    );
    w.coda.state().flush_mutations();

    let now = rows(&w, PATIENTS);
    let by_id = |rid: &str| now.iter().find(|r| r.id == rid).cloned();
    assert!(by_id(&duplicate).is_none(), "the younger duplicate went");
    assert!(
        by_id(&extra).is_some(),
        "extra rows stay unless the mapping says delete"
    );
    let restored = now
        .iter()
        .find(|r| r.values["c-patDrchrId"] == before[0].values["c-patDrchrId"])
        .expect("the deleted row is back");
    assert_eq!(restored.values.get("c-staffNote"), None);
    let edited = by_id(&before[1].id).unwrap();
    assert_eq!(
        edited.values["c-patLastNam"],
        before[1].values["c-patLastNam"]
    );
    for row in [&before[1], &before[2]] {
        assert_eq!(
            by_id(&row.id).unwrap().values["c-staffNote"],
            json!("call back"),
            "Coda-owned columns keep their values"
        );
    }

    let again = run(&pool, &w, &["patients"], true).await;
    let d = &again[0].drift;
    assert!(d.missing.is_empty() && d.changed.is_empty() && d.duplicates.is_empty());
    assert_eq!(d.extra, vec![extra]);
    assert_eq!(again[0].repaired.write_calls, 0);

    // The next push finds coda_pushed_rows right: nothing to send.
    let coda = CodaClient::new(&w.plan.systems.coda, pool.clone());
    let pushed = push_full(
        &pool,
        &w.plan,
        &coda,
        &["patients".into()],
        false,
        &NoPushProgress,
    )
    .await
    .unwrap();
    assert_eq!(
        (pushed[0].report.sent, pushed[0].report.write_calls),
        (0, 0)
    );
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn extra_rows_are_deleted_where_the_mapping_says_delete(pool: PgPool) {
    let mut w = pushed_world(&pool, 4).await;
    w.plan.mappings.get_mut("providers").unwrap().extra_rows = ExtraRows::Delete;
    let table = w.plan.mappings["providers"].table.clone();
    for n in 0..2 {
        w.coda
            .state()
            .insert_row(DOC, &table, values(&[("c-prvDrchrId", json!(880_000 + n))]))
            .unwrap();
    }
    let count = rows(&w, &table).len();
    let first = run(&pool, &w, &["providers"], true).await;
    assert_eq!(first[0].drift.extra.len(), 2);
    assert_eq!(first[0].repaired.deleted, 2);
    assert_eq!(first[0].unrepaired(&opts(true)), 0);
    w.coda.state().flush_mutations();
    assert_eq!(rows(&w, &table).len(), count - 2);
    let second = run(&pool, &w, &["providers"], false).await;
    assert!(second[0].drift.is_empty(), "{:?}", second[0].drift);
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_write_back_table_reports_coda_values_postgresql_lacks_and_never_overwrites_them(
    pool: PgPool,
) {
    let w = world(3, false).await;
    sync_all(&pool, &w.plan).await;
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("set local app.actor = 'coda:test@example.com'")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("insert into intake_checklists (appointment_id) select id from appointments order by id limit 3")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let coda = CodaClient::new(&w.plan.systems.coda, pool.clone());
    push_full(
        &pool,
        &w.plan,
        &coda,
        &["intake_checklists".into()],
        false,
        &NoPushProgress,
    )
    .await
    .unwrap();
    let table = w.plan.mappings["intake_checklists"].table.clone();
    let before = rows(&w, &table);
    assert_eq!(before.len(), 3);
    let s = w.coda.state();
    s.edit_row(
        DOC,
        &table,
        &before[0].id,
        values(&[("c-itkStatus0", json!("complete"))]),
    )
    .unwrap();
    s.delete_row(DOC, &table, &before[1].id).unwrap();
    s.insert_row(DOC, &table, values(&[("c-itkStatus0", json!("pending"))]))
        .unwrap();

    let t = &run(&pool, &w, &["intake_checklists"], true).await[0];
    assert!(t.coda_owned);
    assert_eq!(
        t.changed_labels,
        BTreeMap::from([(
            "Status".to_string(),
            vec![record(&before[0], "c-itkLocalId")]
        )])
    );
    assert_eq!(
        (t.repaired.upserted, t.repaired.deleted),
        (1, 0),
        "only the missing row"
    );
    assert_eq!(t.unrepaired(&opts(true)), 2);
    w.coda.state().flush_mutations();
    let now = rows(&w, &table);
    assert_eq!(now.len(), 4, "the deleted row is back, the extra one kept");
    let kept = now.iter().find(|r| r.id == before[0].id).unwrap();
    assert_eq!(
        kept.values["c-itkStatus0"],
        json!("complete"),
        "not overwritten"
    );
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn throttled_reads_back_off_and_every_page_is_read_once(pool: PgPool) {
    let mut w = pushed_world(&pool, 9).await;
    w.plan.systems.coda.reconcile.page_size = 2;
    w.plan.systems.coda.retry.max_delay_ms = 1000;
    w.coda.state().set_rate_limit(Some(RateLimitConfig {
        reads: Some(2),
        writes: None,
        window: Duration::from_millis(500),
        ..RateLimitConfig::default()
    }));
    w.coda.state().reset_stats();
    let t = &run(&pool, &w, &["patients"], false).await[0];
    assert!(t.drift.is_empty(), "{:?}", t.drift);
    assert_eq!(t.read_calls, t.coda_rows.div_ceil(2));
    let stats = w.coda.state().stats();
    assert!(stats.throttled > 0, "the sim throttled: {stats:?}");
    assert_eq!(stats.reads, t.read_calls, "each page served once");
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn the_daily_run_repairs_on_its_own_and_logs_its_events(pool: PgPool) {
    let mut w = pushed_world(&pool, 4).await;
    let logs = LogCapture::json_filtered("runner=info");
    w.plan.systems.coda.reconcile.schedule = "*/1 * * * * *".into();
    let before = rows(&w, PATIENTS);
    w.coda
        .state()
        .delete_row(DOC, PATIENTS, &before[0].id)
        .unwrap();
    let (signal, stop) = runner::server::Shutdown::channel();
    let coda = CodaClient::new(&w.plan.systems.coda, pool.clone());
    let task = runner::reconcile::spawn_daily(pool.clone(), Arc::new(w.plan.clone()), coda, stop)
        .expect("scheduled");
    for _ in 0..300 {
        if rows(&w, PATIENTS).len() == before.len() && !logs.events("coda_reconciled").is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    signal.trigger();
    task.await.unwrap();
    assert_eq!(rows(&w, PATIENTS).len(), before.len(), "the row is back");
    let events = logs.events("coda_reconciled");
    let patients = events
        .iter()
        .find(|e| e["mapping"] == "patients")
        .expect("a coda_reconciled event for patients");
    assert_eq!(patients["trigger"], "schedule");
    assert_eq!(patients["missing"], 1);
    assert_eq!(patients["upserted"], 1);
    let text = runner::telemetry::metrics::metrics().encode();
    assert!(
        text.contains("runner_coda_drift_rows_total{mapping=\"patients\",kind=\"missing\"}"),
        "{text}"
    );
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn no_patient_data_reaches_the_logs_of_a_reconcile(pool: PgPool) {
    let w = pushed_world(&pool, 6).await;
    let logs = LogCapture::json_filtered("runner=trace,warn");
    staff_work(&w);
    run(&pool, &w, &["patients", "appointments"], false).await;
    run(&pool, &w, &["patients", "appointments"], true).await;
    assert!(!logs.events("coda_reconciled").is_empty());
    logs.assert_free_of(&patient_data(&w));
}

/// Names, birth dates, emails and phone numbers of the simulated clinic, and the value typed
/// by hand in Coda.
pub(crate) fn patient_data(w: &World) -> Vec<String> {
    let mut out = vec!["EDITED-BY-HAND".to_string()];
    for p in w.drchrono.state().records(sim::data::Resource::Patients) {
        for k in [
            "first_name",
            "last_name",
            "date_of_birth",
            "email",
            "cell_phone",
        ] {
            out.extend(p[k].as_str().map(str::to_owned));
        }
    }
    out.retain(|s| s.len() >= 6);
    out
}
