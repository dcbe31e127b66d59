//! Audit retention against a real PostgreSQL and the Cloud Storage double: the partitioning
//! migration keeps every existing row, partitions are created ahead, old partitions are
//! archived (gzip JSON Lines, CRC32C verified) before they are detached, nothing is detached
//! when the upload fails or does not verify, archives are dropped after 7 years, and every
//! least-privilege role runs what it may of retention without a permission error.

use std::borrow::Cow;
use std::io::Read as _;

use chrono::{TimeZone as _, Utc};
use runner::config::retention::Retention;
use runner::config::secret::Secret;
use runner::gcp::{Auth, Storage};
use runner::retention::{RetentionError, run_once};
use runner::store::MIGRATOR;
use runner::telemetry::events;
use sim::gcs::{Corruption, GcsConfig, GcsHandle, GcsSim};
use sqlx::PgPool;
use sqlx::migrate::Migrator;

use crate::common::{self, LogCapture};

const BUCKET: &str = "clinic-audit";
const SEVEN_YEARS_SECS: u64 = 220_752_000;

async fn gcs() -> GcsHandle {
    GcsSim::new(GcsConfig {
        token: Some("gcs-token".into()),
        buckets: vec![(BUCKET.into(), Some(SEVEN_YEARS_SECS))],
    })
    .spawn("127.0.0.1:0".parse().unwrap())
    .await
    .unwrap()
}

fn storage(pool: &PgPool, gcs: &GcsHandle) -> Storage {
    Storage::new(
        gcs.url(),
        Auth::Static(Secret::new("gcs-token")),
        Some(pool.clone()),
    )
}

fn settings() -> Retention {
    Retention {
        archive_bucket: BUCKET.into(),
        ..Retention::default()
    }
}

/// The day the tests pretend it is.
fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).unwrap()
}

/// A January 2025 change_log partition with `n` rows (as the owner writes history directly).
async fn old_month(pool: &PgPool, n: i64) {
    sqlx::query("select ensure_month_partition('change_log', date '2025-01-01')")
        .execute(pool)
        .await
        .unwrap();
    sqlx::query(
        "insert into change_log (table_name, record_id, natural_key, operation, changed_fields, new_values, actor, at) \
         select 'patients', gen_random_uuid(), jsonb_build_object('drchrono_id', i), 'INSERT', '{first_name}', \
                jsonb_build_object('first_name', 'Name' || i), 'drchrono_sync', timestamptz '2025-01-15 10:00+00' + i * interval '1 minute' \
           from generate_series(1, $1) i",
    )
    .bind(n)
    .execute(pool)
    .await
    .unwrap();
}

async fn attached(pool: &PgPool, name: &str) -> bool {
    sqlx::query_scalar("select exists (select 1 from pg_inherits where inhrelid = to_regclass($1))")
        .bind(format!("public.{name}"))
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn exists(pool: &PgPool, name: &str) -> bool {
    sqlx::query_scalar("select to_regclass($1) is not null")
        .bind(format!("public.{name}"))
        .fetch_one(pool)
        .await
        .unwrap()
}

fn gunzip_lines(bytes: &[u8]) -> Vec<serde_json::Value> {
    let mut text = String::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_string(&mut text)
        .unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[sqlx::test(migrations = false)]
async fn the_partitioning_migration_keeps_every_audit_row_and_the_append_only_guard(pool: PgPool) {
    let before = Migrator {
        migrations: Cow::Owned(MIGRATOR.migrations[..8].to_vec()),
        ..Migrator::DEFAULT
    };
    before.run(&pool).await.unwrap();
    let mut tx = pool.begin().await.unwrap();
    runner::store::set_actor(&mut tx, "drchrono_sync")
        .await
        .unwrap();
    for i in 1..=5i64 {
        sqlx::query("insert into providers (drchrono_id, drchrono_raw) values ($1, '{}')")
            .bind(i)
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    sqlx::query("insert into sync_log (pipeline, trigger, status, started_at) values ('patients', 'test', 'succeeded', now() - interval '14 months'), ('patients', 'test', 'failed', now())")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("insert into access_log (system, method, path_template, status_code, latency_ms) values ('drchrono', 'GET', '/api/patients', 200, 12)")
        .execute(&pool)
        .await
        .unwrap();
    let max_id: i64 = sqlx::query_scalar("select max(id) from change_log")
        .fetch_one(&pool)
        .await
        .unwrap();

    MIGRATOR.run(&pool).await.unwrap();
    assert_eq!(
        common::count(&pool, "select count(*) from change_log").await,
        5
    );
    assert_eq!(
        common::count(&pool, "select count(*) from sync_log").await,
        2
    );
    assert_eq!(
        common::count(&pool, "select count(*) from access_log").await,
        1
    );
    let kind: String =
        sqlx::query_scalar("select relkind::text from pg_class where oid = 'change_log'::regclass")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(kind, "p", "change_log is partitioned");
    // The old sync_log row got its own month's partition.
    let months: i64 = sqlx::query_scalar(
        "select count(*) from pg_inherits where inhparent = 'sync_log'::regclass",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(months >= 5, "{months} sync_log partitions");
    // New audit rows continue the id sequence, and history stays append-only.
    let mut tx = pool.begin().await.unwrap();
    runner::store::set_actor(&mut tx, "drchrono_sync")
        .await
        .unwrap();
    sqlx::query("insert into providers (drchrono_id, drchrono_raw) values (99, '{}')")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let new_id: i64 = sqlx::query_scalar("select max(id) from change_log")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(new_id > max_id);
    let refused = sqlx::query("update change_log set actor = 'forged'")
        .execute(&pool)
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("append-only"), "{refused}");
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn partitions_are_created_months_ahead_once(pool: PgPool) {
    let s = Retention {
        months_ahead: 6,
        ..Retention::default()
    };
    let first = run_once(&pool, &s, None, Utc::now()).await.unwrap();
    assert_eq!(
        first.partitions_created, 9,
        "3 more months for each of 3 tables"
    );
    let again = run_once(&pool, &s, None, Utc::now()).await.unwrap();
    assert_eq!(again.partitions_created, 0);
    assert_eq!(
        first.archive_skipped,
        Some("no archive bucket is configured (retention.archive_bucket)")
    );
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn an_old_partition_is_archived_verified_and_detached_and_recent_ones_stay(pool: PgPool) {
    let gcs = gcs().await;
    old_month(&pool, 250).await;
    let logs = LogCapture::json();
    let r = run_once(&pool, &settings(), Some(&storage(&pool, &gcs)), now())
        .await
        .unwrap();
    assert_eq!(r.archived.len(), 1, "{r:?}");
    let a = &r.archived[0];
    assert_eq!(a.partition, "change_log_2025_01");
    assert_eq!(a.rows, 250);
    let name = "audit/change_log/2025/change_log_2025_01.jsonl.gz";
    assert_eq!(a.object, format!("gs://{BUCKET}/{name}"));
    let obj = gcs.state().object(BUCKET, name).expect("uploaded");
    let lines = gunzip_lines(&obj.bytes);
    assert_eq!(lines.len(), 250);
    assert_eq!(lines[0]["table_name"], "patients");
    assert_eq!(lines[0]["actor"], "drchrono_sync");
    // Detached, kept in the database until 7 years have passed, and recorded.
    assert!(!attached(&pool, "change_log_2025_01").await);
    assert!(exists(&pool, "change_log_2025_01").await);
    assert_eq!(
        common::count(&pool, "select count(*) from change_log").await,
        0
    );
    let (crc, bytes): (String, i64) = sqlx::query_as(
        "select crc32c, bytes from audit_archives where partition = 'change_log_2025_01'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(crc, obj.crc32c_base64());
    assert_eq!(bytes as u64, obj.size());
    // This month's partitions are untouched.
    let month = Utc::now().format("change_log_%Y_%m").to_string();
    assert!(attached(&pool, &month).await);
    let ev = logs.events(events::RETENTION_ARCHIVED);
    assert_eq!(ev.len(), 1);
    assert_eq!(
        (ev[0]["table"].as_str(), ev[0]["rows"].as_u64()),
        (Some("change_log"), Some(250))
    );
    assert!(!logs.text().contains("Name1"), "no row content in logs");
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_failed_upload_detaches_nothing_and_the_next_run_finishes(pool: PgPool) {
    let gcs = gcs().await;
    old_month(&pool, 10).await;
    let st = storage(&pool, &gcs);
    gcs.state().fail_next_uploads(1, 503);
    let logs = LogCapture::json();
    let err = run_once(&pool, &settings(), Some(&st), now())
        .await
        .unwrap_err();
    assert!(matches!(err, RetentionError::Upload { .. }), "{err}");
    assert!(err.to_string().contains("change_log_2025_01") && err.to_string().contains("503"));
    assert!(attached(&pool, "change_log_2025_01").await);
    assert_eq!(
        common::count(&pool, "select count(*) from audit_archives").await,
        0
    );
    assert_eq!(logs.events(events::RETENTION_FAILED).len(), 1);

    let r = run_once(&pool, &settings(), Some(&st), now())
        .await
        .unwrap();
    assert_eq!(r.archived.len(), 1);
    assert!(!attached(&pool, "change_log_2025_01").await);
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn an_archive_that_does_not_verify_is_never_detached(pool: PgPool) {
    let gcs = gcs().await;
    old_month(&pool, 10).await;
    let st = storage(&pool, &gcs);
    // The answer reports a wrong checksum: nothing is detached. The stored bytes are intact,
    // so the next run finds the object, checks it, and finishes.
    gcs.state().corrupt_next_uploads(1, Corruption::Crc32c);
    let err = run_once(&pool, &settings(), Some(&st), now())
        .await
        .unwrap_err();
    assert!(matches!(err, RetentionError::Mismatch { .. }), "{err}");
    assert!(attached(&pool, "change_log_2025_01").await);
    let r = run_once(&pool, &settings(), Some(&st), now())
        .await
        .unwrap();
    assert_eq!(r.archived.len(), 1);
    assert_eq!(gcs.state().objects(BUCKET).len(), 1, "never overwritten");

    // Stored bytes that were damaged never verify: the partition stays attached for good.
    old_month_feb(&pool).await;
    gcs.state().corrupt_next_uploads(1, Corruption::Bytes);
    for _ in 0..2 {
        let err = run_once(&pool, &settings(), Some(&st), now())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("CRC32C"), "{err}");
        assert!(attached(&pool, "change_log_2025_02").await);
    }
}

async fn old_month_feb(pool: &PgPool) {
    sqlx::query("select ensure_month_partition('change_log', date '2025-02-01')")
        .execute(pool)
        .await
        .unwrap();
    sqlx::query("insert into change_log (table_name, record_id, natural_key, operation, changed_fields, actor, at) values ('patients', gen_random_uuid(), '{}', 'DELETE', '{}', 'x', '2025-02-03')")
        .execute(pool)
        .await
        .unwrap();
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn archives_older_than_seven_years_are_dropped_and_younger_ones_kept(pool: PgPool) {
    let gcs = gcs().await;
    for month in ["2018-03-01", "2020-06-01"] {
        sqlx::query("select ensure_month_partition('change_log', $1::date)")
            .bind(month)
            .execute(&pool)
            .await
            .unwrap();
        sqlx::query("insert into change_log (table_name, record_id, natural_key, operation, changed_fields, actor, at) values ('patients', gen_random_uuid(), '{}', 'INSERT', '{}', 'x', $1::timestamptz + interval '1 day')")
            .bind(month)
            .execute(&pool)
            .await
            .unwrap();
    }
    let r = run_once(&pool, &settings(), Some(&storage(&pool, &gcs)), now())
        .await
        .unwrap();
    assert_eq!(r.archived.len(), 2);
    assert_eq!(r.dropped, vec!["change_log_2018_03".to_string()]);
    assert!(!exists(&pool, "change_log_2018_03").await);
    assert!(exists(&pool, "change_log_2020_06").await);
    let dropped: Option<chrono::DateTime<Utc>> = sqlx::query_scalar(
        "select dropped_at from audit_archives where partition = 'change_log_2018_03'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(dropped.is_some());
    assert_eq!(
        gcs.state().objects(BUCKET).len(),
        2,
        "the archive outlives the table"
    );
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn every_least_privilege_role_runs_its_part_of_retention(pool: PgPool) {
    let gcs = gcs().await;
    old_month(&pool, 3).await;
    let db = common::database_name(&pool).await;
    for role in ["clinical_sync", "clinical_push", "clinical_writeback"] {
        sqlx::query("insert into processed_messages (message_id, processed_at) values ('old', now() - interval '8 days'), ('new', now())")
            .execute(&pool)
            .await
            .unwrap();
        let login = common::login_name(&db, role);
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!("drop role if exists {login}")))
            .execute(&pool)
            .await;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "create role {login} login in role {role}"
        )))
        .execute(&pool)
        .await
        .unwrap();
        let as_role = PgPool::connect(&format!(
            "postgres://{}@127.0.0.1:5432/{db}",
            login.as_str()
        ))
        .await
        .unwrap();
        let s = Retention {
            months_ahead: 5,
            ..settings()
        };
        let r = run_once(&as_role, &s, Some(&storage(&as_role, &gcs)), now())
            .await
            .unwrap_or_else(|e| panic!("{role}: {e}"));
        assert_eq!(r.purged_messages, 1, "{role}");
        assert_eq!(
            r.archive_skipped,
            Some("this database role does not own the audit tables; the retention job archives"),
            "{role}"
        );
        // Only the owner archives: the old partition is still attached, and writes to the
        // audit trail stay refused.
        assert!(attached(&pool, "change_log_2025_01").await);
        let refused = sqlx::query("delete from change_log")
            .execute(&as_role)
            .await
            .unwrap_err();
        assert!(
            refused.to_string().contains("permission denied"),
            "{role}: {refused}"
        );
        as_role.close().await;
        sqlx::query("delete from processed_messages")
            .execute(&pool)
            .await
            .unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("drop role {login}")))
            .execute(&pool)
            .await
            .unwrap();
    }
    assert_eq!(gcs.state().upload_calls(), 0);
}
