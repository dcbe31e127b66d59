//! `runner sync` against the DrChrono simulator and a fresh database per test.

use std::collections::BTreeMap;

use runner::config::{Plan, PlannedPipeline};
use runner::source::RestClient;
use runner::store::Ident;
use runner::sync::{NoProgress, SyncOptions, SyncReport, key_text, run_pipeline};
use serde_json::{Value, json};
use sim::data::Resource;
use sim::drchrono::{DrChronoHandle, FaultConfig};
use sqlx::{AssertSqlSafe, PgPool};

use crate::common;

fn resource_of(p: &PlannedPipeline) -> Resource {
    let endpoint = p.file.source.endpoint.as_deref().expect("endpoint");
    Resource::from_path(endpoint.trim_start_matches("/api/").trim_end_matches('/'))
        .expect("a simulated resource")
}

pub(crate) fn opts() -> SyncOptions {
    SyncOptions {
        trigger: "test".into(),
        ..SyncOptions::default()
    }
}

/// Runs every pipeline with an endpoint, in dependency order.
pub(crate) async fn sync_all(pool: &PgPool, plan: &Plan, opts: &SyncOptions) -> Vec<SyncReport> {
    let client = RestClient::drchrono(&plan.systems.drchrono, pool.clone());
    let mut out = Vec::new();
    for p in plan
        .pipelines
        .iter()
        .filter(|p| p.file.source.endpoint.is_some())
    {
        out.push(run_pipeline(pool, &client, plan, p, opts, &NoProgress).await);
    }
    out
}

pub(crate) fn assert_succeeded(reports: &[SyncReport]) {
    for r in reports {
        assert!(r.error.is_none(), "{} failed: {:?}", r.pipeline, r.error);
    }
}

/// Key -> raw object, as the simulator serves them and as the table holds them.
async fn expected_and_stored(
    pool: &PgPool,
    sim: &DrChronoHandle,
    p: &PlannedPipeline,
) -> (BTreeMap<String, Value>, BTreeMap<String, Value>) {
    let m = &p.mapping;
    let verbose = p
        .file
        .source
        .params
        .get("verbose")
        .is_some_and(|v| v == "true");
    let mut expected = BTreeMap::new();
    for rec in sim.state().records_as_served(resource_of(p), verbose) {
        for row in m.map_record(&rec).expect("sim records map") {
            let raw = m.raw.as_ref().map_or(Value::Null, |r| row[r].clone());
            expected.insert(key_text(&m.key_of(&row)), raw);
        }
    }
    let keys = m
        .key
        .iter()
        .map(|k| Ident::new(k).unwrap().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let raw = m.raw.clone().unwrap_or_else(|| "null::jsonb".into());
    let sql = format!(
        "select jsonb_build_array({keys})::text, {raw} from {} where deleted_at is null",
        Ident::new(&m.table).unwrap()
    );
    let rows: Vec<(String, Value)> = sqlx::query_as(AssertSqlSafe(sql))
        .fetch_all(pool)
        .await
        .unwrap();
    let stored = rows
        .into_iter()
        .map(|(k, v)| (serde_json::from_str::<Value>(&k).unwrap().to_string(), v))
        .collect();
    (expected, stored)
}

pub(crate) async fn assert_exact(pool: &PgPool, sim: &DrChronoHandle, plan: &Plan) {
    for p in plan
        .pipelines
        .iter()
        .filter(|p| p.file.source.endpoint.is_some())
    {
        let (expected, stored) = expected_and_stored(pool, sim, p).await;
        assert!(
            !expected.is_empty(),
            "{}: the simulator serves nothing",
            p.mapping.name
        );
        assert_eq!(
            expected.len(),
            stored.len(),
            "{}: row count",
            p.mapping.name
        );
        assert!(
            expected == stored,
            "{}: stored rows differ from what DrChrono serves",
            p.mapping.name
        );
    }
}

pub(crate) async fn audit_rows(pool: &PgPool) -> i64 {
    common::count(pool, "select count(*) from change_log").await
}

pub(crate) async fn outbox_rows(pool: &PgPool) -> i64 {
    common::count(pool, "select count(*) from outbox").await
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_full_backfill_equals_the_simulated_clinic_and_a_second_run_changes_nothing(
    pool: PgPool,
) {
    common::logs();
    let sim = common::drchrono(40).await;
    let plan = common::plan(sim.url());
    assert_succeeded(&sync_all(&pool, &plan, &opts()).await);
    assert_exact(&pool, &sim, &plan).await;
    // Foreign keys resolved: every appointment of a known patient points at it.
    let orphans = common::count(&pool, "select count(*) from appointments a where a.drchrono_patient_id is not null and a.patient_id is null").await;
    assert_eq!(orphans, 0);
    // Unknown upstream fields are ignored by the mapping but kept in the raw object.
    let extra = common::count(
        &pool,
        "select count(*) from patients where drchrono_raw ? 'x_sim_extra'",
    )
    .await;
    assert_eq!(
        extra,
        common::count(&pool, "select count(*) from patients").await
    );

    let (audit, outbox) = (audit_rows(&pool).await, outbox_rows(&pool).await);
    sim.state().reset_stats();
    let second = sync_all(&pool, &plan, &opts()).await;
    assert_succeeded(&second);
    assert_eq!(
        audit_rows(&pool).await,
        audit,
        "a second run writes no audit rows"
    );
    assert_eq!(
        outbox_rows(&pool).await,
        outbox,
        "a second run adds no change events"
    );
    assert!(
        second
            .iter()
            .all(|r| r.counts.inserted == 0 && r.counts.updated == 0 && r.soft_deleted == 0)
    );
    // An incremental cycle with no upstream change costs one request per incremental pipeline.
    let incremental: Vec<&PlannedPipeline> = plan
        .pipelines
        .iter()
        .filter(|p| p.file.source.incremental.is_some())
        .collect();
    let stats = sim.state().stats();
    for p in &incremental {
        let r = second
            .iter()
            .find(|r| r.pipeline == p.mapping.name)
            .unwrap();
        assert_eq!(r.pages, 1, "{}: one page", r.pipeline);
    }
    let incremental_paths: std::collections::BTreeSet<&str> = incremental
        .iter()
        .map(|p| p.file.source.endpoint.as_deref().unwrap())
        .collect();
    let calls: u64 = incremental_paths
        .iter()
        .map(|path| stats.requests(path))
        .sum();
    assert_eq!(
        calls,
        incremental.len() as u64,
        "one request per incremental pipeline: {stats:?}"
    );
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_record_changed_upstream_is_updated_and_audited_as_drchrono_sync(pool: PgPool) {
    let sim = common::drchrono(10).await;
    let plan = common::plan(sim.url());
    assert_succeeded(&sync_all(&pool, &plan, &opts()).await);
    let patient = sim.state().records(Resource::Patients)[0].clone();
    let id = patient["id"].as_i64().unwrap();
    sim.state()
        .update_record(
            Resource::Patients,
            id,
            json!({"cell_phone": "(555) 010-9999"}),
        )
        .unwrap();
    let p = plan.pipeline("patients").unwrap();
    let client = RestClient::drchrono(&plan.systems.drchrono, pool.clone());
    let r = run_pipeline(&pool, &client, &plan, p, &opts(), &NoProgress).await;
    assert!(r.error.is_none(), "{:?}", r.error);
    assert_eq!(r.counts.updated, 1);
    let (actor, fields): (String, Vec<String>) = sqlx::query_as(
        "select actor, changed_fields from change_log where table_name = 'patients' and operation = 'UPDATE' order by id desc limit 1",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(actor, "drchrono_sync");
    assert!(fields.contains(&"cell_phone".to_string()), "{fields:?}");
    let phone: String =
        sqlx::query_scalar("select cell_phone from patients where drchrono_id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(phone, "(555) 010-9999");
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn throttling_and_server_errors_still_end_with_exact_data(pool: PgPool) {
    let sim = common::drchrono(25).await;
    sim.state().set_faults(FaultConfig {
        seed: 7,
        error_rate: 0.25,
        ..FaultConfig::default()
    });
    sim.state()
        .set_rate_limit(Some(sim::drchrono::RateLimitConfig {
            hourly: None,
            burst: Some(3),
            ..Default::default()
        }));
    let plan = common::plan(sim.url());
    assert_succeeded(&sync_all(&pool, &plan, &opts()).await);
    let stats = sim.state().stats();
    assert!(
        stats.injected_errors > 0 && stats.throttled > 0,
        "faults were injected: {stats:?}"
    );
    assert_exact(&pool, &sim, &plan).await;
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn full_mode_soft_deletes_a_removed_medication_and_the_breaker_stops_a_mass_delete(
    pool: PgPool,
) {
    let sim = common::drchrono(20).await;
    let plan = common::plan(sim.url());
    assert_succeeded(&sync_all(&pool, &plan, &opts()).await);
    let meds = sim.state().records(Resource::Medications);
    let gone = meds[0]["id"].as_i64().unwrap();
    sim.state()
        .delete_record(Resource::Medications, gone)
        .unwrap();
    let p = plan.pipeline("medications").unwrap();
    let client = RestClient::drchrono(&plan.systems.drchrono, pool.clone());
    let r = run_pipeline(&pool, &client, &plan, p, &opts(), &NoProgress).await;
    assert!(r.error.is_none(), "{:?}", r.error);
    assert_eq!(r.soft_deleted, 1);
    let deleted: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("select deleted_at from medications where drchrono_id = $1")
            .bind(gone)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(deleted.is_some(), "soft-deleted, not removed");

    // Half of the table disappears upstream: the breaker refuses and deletes nothing.
    for m in meds.iter().skip(1).step_by(2) {
        sim.state()
            .delete_record(Resource::Medications, m["id"].as_i64().unwrap())
            .unwrap();
    }
    let live = || {
        common::count(
            &pool,
            "select count(*) from medications where deleted_at is null",
        )
    };
    let before = live().await;
    let r = run_pipeline(&pool, &client, &plan, p, &opts(), &NoProgress).await;
    assert!(
        r.error
            .as_deref()
            .is_some_and(|e| e.contains("--allow-mass-delete")),
        "{:?}",
        r.error
    );
    assert_eq!(live().await, before);
    let allowed = SyncOptions {
        allow_mass_delete: true,
        ..opts()
    };
    let r = run_pipeline(&pool, &client, &plan, p, &allowed, &NoProgress).await;
    assert!(r.error.is_none(), "{:?}", r.error);
    assert_eq!(
        live().await as usize,
        sim.state().records(Resource::Medications).len()
    );
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_dry_run_reports_changes_and_writes_nothing(pool: PgPool) {
    let sim = common::drchrono(8).await;
    let plan = common::plan(sim.url());
    let dry = SyncOptions {
        dry_run: true,
        ..opts()
    };
    let reports = sync_all(&pool, &plan, &dry).await;
    assert_succeeded(&reports);
    assert!(reports.iter().map(|r| r.counts.inserted).sum::<u64>() > 0);
    assert_eq!(
        common::count(&pool, "select count(*) from patients").await,
        0
    );
    assert_eq!(audit_rows(&pool).await, 0);
    assert_eq!(
        common::count(&pool, "select count(*) from sync_log").await,
        0
    );
}
