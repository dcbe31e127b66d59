//! `runner push` and the Coda push against the Coda simulator, with PostgreSQL filled by the
//! real DrChrono sync: a full push equals PostgreSQL cell by cell, a second push writes
//! nothing, batches are `ceil(N / max_rows_per_call)` calls, and throttling and 5xx still
//! end exactly equal. Helpers here are shared with `push_outbox`.

use std::collections::BTreeMap;

use minijinja::{Environment, UndefinedBehavior};
use runner::config::Plan;
use runner::push::{CodaClient, NoPushProgress, push_full, select_mappings};
use runner::source::RestClient;
use runner::sync::{NoProgress, SyncOptions, run_pipeline};
use serde_json::{Map, Value};
use sim::coda::{CodaHandle, FaultConfig, RateLimitConfig};
use sim::drchrono::DrChronoHandle;
use sqlx::{AssertSqlSafe, PgPool};

use crate::common;

/// The simulators and the plan pointing at them.
pub(crate) struct World {
    pub drchrono: DrChronoHandle,
    pub coda: CodaHandle,
    pub plan: Plan,
}

/// DrChrono with `patients` patients and Coda holding the mapped tables. With
/// `real_limits` the Coda sim and the plan keep Coda's 10 writes / 100 reads per 6 s;
/// otherwise both are unlimited, for speed.
pub(crate) async fn world(patients: usize, real_limits: bool) -> World {
    common::logs();
    let drchrono = common::drchrono(patients).await;
    let coda = common::coda_for(&common::plan(drchrono.url())).await;
    let mut plan = common::plan_with(drchrono.url(), coda.url());
    if !real_limits {
        coda.state().set_rate_limit(None);
        plan.systems.coda.write_rate.clear();
        plan.systems.coda.read_rate.clear();
    }
    World {
        drchrono,
        coda,
        plan,
    }
}

/// Runs every DrChrono pipeline (dependency order) into `pool`.
pub(crate) async fn sync_all(pool: &PgPool, plan: &Plan) {
    let client = RestClient::drchrono(&plan.systems.drchrono, pool.clone());
    let opts = SyncOptions {
        trigger: "test".into(),
        ..SyncOptions::default()
    };
    for p in plan
        .pipelines
        .iter()
        .filter(|p| p.file.source.endpoint.is_some())
    {
        let r = run_pipeline(pool, &client, plan, p, &opts, &NoProgress).await;
        assert!(r.error.is_none(), "{} failed: {:?}", r.pipeline, r.error);
    }
}

/// Runs one pipeline.
pub(crate) async fn sync_one(pool: &PgPool, plan: &Plan, name: &str) {
    let client = RestClient::drchrono(&plan.systems.drchrono, pool.clone());
    let opts = SyncOptions {
        trigger: "test".into(),
        ..SyncOptions::default()
    };
    let r = run_pipeline(
        pool,
        &client,
        plan,
        plan.pipeline(name).unwrap(),
        &opts,
        &NoProgress,
    )
    .await;
    assert!(r.error.is_none(), "{name} failed: {:?}", r.error);
}

/// The value Coda must hold for a PostgreSQL JSON value (written here independently of the
/// runner's conversion).
fn expected_value(v: &Value) -> Value {
    match v {
        Value::Null => Value::String(String::new()),
        Value::Object(_) => Value::String(v.to_string()),
        Value::Array(items) => Value::Array(items.iter().map(expected_value).collect()),
        other => other.clone(),
    }
}

type Cells = BTreeMap<String, Value>;

/// Per mapping name: key (JSON text) -> the cells Coda must hold.
pub(crate) async fn expected(
    pool: &PgPool,
    plan: &Plan,
) -> BTreeMap<String, BTreeMap<String, Cells>> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    let mut out = BTreeMap::new();
    for (name, m) in &plan.mappings {
        let mut tx = pool.begin().await.unwrap();
        sqlx::query("set local timezone to 'UTC'")
            .execute(&mut *tx)
            .await
            .unwrap();
        let rows: Vec<Value> = sqlx::query_scalar(AssertSqlSafe(format!(
            "select to_jsonb(t) from {} t",
            runner::store::Ident::new(&m.source).unwrap()
        )))
        .fetch_all(&mut *tx)
        .await
        .unwrap();
        let mut table = BTreeMap::new();
        for row in rows {
            let row: Map<String, Value> = row.as_object().unwrap().clone();
            if m.skip_deleted && !row["deleted_at"].is_null() {
                continue;
            }
            let mut cells = Cells::new();
            for c in &m.columns {
                let v = match (&c.from, &c.template) {
                    (Some(col), _) => expected_value(&row[col]),
                    (_, Some(t)) => {
                        Value::String(env.render_str(t, minijinja::value::Serde(&row)).unwrap())
                    }
                    _ => unreachable!(),
                };
                cells.insert(c.id.clone(), v);
            }
            let key: Vec<Value> = m.key.iter().map(|k| expected_value(&row[k])).collect();
            table.insert(Value::Array(key).to_string(), cells);
        }
        out.insert(name.clone(), table);
    }
    out
}

/// Per mapping name: key (JSON text) -> the cells Coda holds. Fails on a duplicated key.
pub(crate) fn actual(coda: &CodaHandle, plan: &Plan) -> BTreeMap<String, BTreeMap<String, Cells>> {
    let mut out = BTreeMap::new();
    for (name, m) in &plan.mappings {
        let doc = m
            .doc
            .clone()
            .unwrap_or_else(|| plan.systems.coda.doc_id.clone());
        let key_ids: Vec<String> = m
            .key
            .iter()
            .map(|k| {
                m.columns
                    .iter()
                    .find(|c| c.from.as_ref() == Some(k))
                    .unwrap()
                    .id
                    .clone()
            })
            .collect();
        let mut table = BTreeMap::new();
        for row in coda.state().table_rows(&doc, &m.table) {
            let key: Vec<Value> = key_ids.iter().map(|k| row.values[k].clone()).collect();
            let key = Value::Array(key).to_string();
            let cells: Cells = row.values.into_iter().collect();
            assert!(
                table.insert(key.clone(), cells).is_none(),
                "{name}: key {key} twice in Coda"
            );
        }
        out.insert(name.clone(), table);
    }
    out
}

/// Coda equals PostgreSQL for every mapped table, cell by cell.
pub(crate) async fn assert_equal(pool: &PgPool, coda: &CodaHandle, plan: &Plan) {
    assert_equal_only(pool, coda, plan, None).await;
}

/// [`assert_equal`] for the mappings named in `only` (all with `None`).
pub(crate) async fn assert_equal_only(
    pool: &PgPool,
    coda: &CodaHandle,
    plan: &Plan,
    only: Option<&[&str]>,
) {
    let want = expected(pool, plan).await;
    let have = actual(coda, plan);
    for (name, rows) in &want {
        if only.is_some_and(|o| !o.contains(&name.as_str())) {
            continue;
        }
        assert_eq!(have[name].len(), rows.len(), "{name}: row count");
        for (key, cells) in rows {
            assert_eq!(have[name].get(key), Some(cells), "{name}: row {key}");
        }
    }
}

/// Live rows per mapping (what a full push sends).
pub(crate) async fn live_rows(pool: &PgPool, plan: &Plan) -> BTreeMap<String, u64> {
    expected(pool, plan)
        .await
        .into_iter()
        .map(|(k, v)| (k, v.len() as u64))
        .collect()
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_full_push_equals_postgresql_cell_by_cell_and_a_second_push_makes_no_write(pool: PgPool) {
    let w = world(15, true).await;
    sync_all(&pool, &w.plan).await;
    let coda = CodaClient::new(&w.plan.systems.coda, pool.clone());
    let all = select_mappings(&w.plan, &[], true).unwrap();
    let live = live_rows(&pool, &w.plan).await;
    let calls: u64 = live.values().map(|n| n.div_ceil(500)).sum();

    let dry = push_full(&pool, &w.plan, &coda, &all, true, &NoPushProgress)
        .await
        .unwrap();
    for r in &dry {
        assert_eq!(
            r.report.created, live[&r.mapping],
            "{}: would create",
            r.mapping
        );
        assert_eq!(
            r.report.write_calls,
            live[&r.mapping].div_ceil(500),
            "{}",
            r.mapping
        );
    }
    assert_eq!(
        w.coda.state().stats().requests_total,
        0,
        "a dry run calls nothing"
    );

    let reports = push_full(&pool, &w.plan, &coda, &all, false, &NoPushProgress)
        .await
        .unwrap();
    assert_equal(&pool, &w.coda, &w.plan).await;
    let stats = w.coda.state().stats();
    assert_eq!(
        stats.throttled, 0,
        "every call waits for its budget: {stats:?}"
    );
    assert_eq!(
        stats.writes, calls,
        "one call per 500 changed rows per table"
    );
    assert_eq!(
        reports.iter().map(|r| r.report.sent).sum::<u64>(),
        live.values().sum::<u64>()
    );
    // Formats Coda accepts: ISO dates and RFC 3339 timestamps.
    for row in w.coda.state().table_rows("doc-test", "grid-patients00") {
        let dob = row.values["c-patBirthDt"].as_str().unwrap();
        assert!(
            dob.is_empty() || chrono::NaiveDate::parse_from_str(dob, "%Y-%m-%d").is_ok(),
            "{dob}"
        );
        let at = row.values["c-patUpdated"].as_str().unwrap();
        assert!(chrono::DateTime::parse_from_rfc3339(at).is_ok(), "{at}");
    }

    w.coda.state().reset_stats();
    let again = push_full(&pool, &w.plan, &coda, &all, false, &NoPushProgress)
        .await
        .unwrap();
    assert_eq!(
        w.coda.state().stats().writes,
        0,
        "an unchanged re-push writes nothing"
    );
    assert!(
        again
            .iter()
            .all(|r| r.report.sent == 0 && r.report.write_calls == 0)
    );
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn write_calls_are_the_ceiling_of_changed_rows_over_the_batch_size(pool: PgPool) {
    let mut w = world(12, false).await;
    w.plan.systems.coda.max_rows_per_call = 7;
    sync_all(&pool, &w.plan).await;
    let coda = CodaClient::new(&w.plan.systems.coda, pool.clone());
    let only = select_mappings(&w.plan, &["appointments".into()], false).unwrap();
    let n = live_rows(&pool, &w.plan).await["appointments"];
    push_full(&pool, &w.plan, &coda, &only, false, &NoPushProgress)
        .await
        .unwrap();
    assert_eq!(w.coda.state().stats().upserts, n.div_ceil(7));

    let appts = w
        .drchrono
        .state()
        .records(sim::data::Resource::Appointments);
    for a in appts.iter().take(9) {
        let id = a["id"].as_str().unwrap();
        let patch = serde_json::json!({"notes": format!("changed {id}")});
        w.drchrono
            .state()
            .update_record(sim::data::Resource::Appointments, id, patch)
            .unwrap();
    }
    sync_one(&pool, &w.plan, "appointments").await;
    w.coda.state().reset_stats();
    push_full(&pool, &w.plan, &coda, &only, false, &NoPushProgress)
        .await
        .unwrap();
    let stats = w.coda.state().stats();
    assert_eq!(
        (stats.upserts, stats.upsert_rows_received),
        (2, 9),
        "{stats:?}"
    );
    assert_equal_only(&pool, &w.coda, &w.plan, Some(&["appointments"])).await;
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn throttling_and_server_errors_still_end_exactly_equal(pool: PgPool) {
    let mut w = world(10, true).await;
    let retry = &mut w.plan.systems.coda.retry;
    (
        retry.base_delay_ms,
        retry.max_delay_ms,
        retry.floor_ms,
        retry.max_attempts,
    ) = (100, 2000, 300, 40);
    // The sim allows less than the plan declares, and fails some calls.
    w.coda.state().set_rate_limit(Some(RateLimitConfig {
        writes: Some(3),
        reads: Some(20),
        window: std::time::Duration::from_secs(2),
        ..RateLimitConfig::default()
    }));
    w.coda.state().set_faults(FaultConfig {
        seed: 3,
        error_rate: 0.2,
        error_status: 503,
        ..FaultConfig::default()
    });
    sync_all(&pool, &w.plan).await;
    let coda = CodaClient::new(&w.plan.systems.coda, pool.clone());
    let all = select_mappings(&w.plan, &[], true).unwrap();
    push_full(&pool, &w.plan, &coda, &all, false, &NoPushProgress)
        .await
        .unwrap();
    let stats = w.coda.state().stats();
    assert!(
        stats.throttled > 0 && stats.injected_errors > 0,
        "{stats:?}"
    );
    assert_equal(&pool, &w.coda, &w.plan).await;
}
