//! The batched upsert: counts, version guard, lookups, duplicates, undelete, composite keys.

use runner::config::field_type::FieldType;
use runner::store::{UpsertCounts, UpsertTarget, set_actor};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use super::{ACTOR, T1, T2, audit_rows, col, count, patient, patients, upsert};

#[sqlx::test(migrations = "../schema/db")]
async fn re_upserting_identical_rows_writes_nothing_and_counts_them_unchanged(
    pool: PgPool,
) -> anyhow::Result<()> {
    let rows: Vec<_> = (1..=3).map(|i| patient(i, "Ann", T1)).collect();
    upsert(&pool, &patients(), &rows).await?;
    let before: Vec<(i64, chrono::DateTime<chrono::Utc>)> =
        sqlx::query_as("SELECT drchrono_id, updated_at FROM patients ORDER BY 1")
            .fetch_all(&pool)
            .await?;
    let counts = upsert(&pool, &patients(), &rows).await?;
    assert_eq!(
        counts,
        UpsertCounts {
            unchanged: 3,
            ..Default::default()
        }
    );
    assert_eq!(count(&pool, "change_log").await?, 3);
    let after: Vec<(i64, chrono::DateTime<chrono::Utc>)> =
        sqlx::query_as("SELECT drchrono_id, updated_at FROM patients ORDER BY 1")
            .fetch_all(&pool)
            .await?;
    assert_eq!(before, after, "unchanged rows are not rewritten");
    Ok(())
}

#[sqlx::test(migrations = "../schema/db")]
async fn identical_rows_are_not_even_locked_so_a_no_change_run_writes_no_tuple(
    pool: PgPool,
) -> anyhow::Result<()> {
    let rows: Vec<_> = (1..=3).map(|i| patient(i, "Ann", T1)).collect();
    upsert(&pool, &patients(), &rows).await?;
    // A row lock (ON CONFLICT DO UPDATE takes one before its WHERE) would leave the locking
    // transaction in xmax and rewrite the tuple header.
    let xmax = "SELECT drchrono_id, xmax::text FROM patients ORDER BY 1";
    let mut again = rows.clone();
    again[1] = patient(2, "Bea", T2);
    let counts = upsert(&pool, &patients(), &again).await?;
    assert_eq!(
        counts,
        UpsertCounts {
            updated: 1,
            unchanged: 2,
            ..Default::default()
        }
    );
    let after: Vec<(i64, String)> = sqlx::query_as(xmax).fetch_all(&pool).await?;
    assert_eq!(after[0], (1, "0".to_string()));
    assert_eq!(after[2], (3, "0".to_string()));
    Ok(())
}

#[sqlx::test(migrations = "../schema/db")]
async fn an_older_version_is_counted_stale_and_the_newer_row_is_kept(
    pool: PgPool,
) -> anyhow::Result<()> {
    upsert(
        &pool,
        &patients(),
        &[patient(1, "New", T2), patient(2, "New", T2)],
    )
    .await?;
    let mut unversioned = patient(2, "Unversioned", T1);
    unversioned.insert("source_updated_at".into(), Value::Null);
    let counts = upsert(&pool, &patients(), &[patient(1, "Old", T1), unversioned]).await?;
    assert_eq!(
        counts,
        UpsertCounts {
            stale: 2,
            ..Default::default()
        }
    );
    assert_eq!(count(&pool, "patients WHERE first_name = 'New'").await?, 2);
    assert_eq!(count(&pool, "change_log").await?, 2);
    Ok(())
}

#[sqlx::test(migrations = "../schema/db")]
async fn lookups_resolve_to_the_parent_uuid_and_to_null_when_the_parent_is_missing(
    pool: PgPool,
) -> anyhow::Result<()> {
    let providers = UpsertTarget {
        table: "providers".into(),
        key: vec!["drchrono_id".into()],
        version: None,
        columns: vec![
            col("drchrono_id", FieldType::Int),
            col("drchrono_raw", FieldType::Jsonb),
        ],
        digest: false,
    };
    let provider = json!({"drchrono_id": 10, "drchrono_raw": {"id": 10}});
    upsert(
        &pool,
        &providers,
        &[provider.as_object().cloned().expect("object")],
    )
    .await?;
    let mut orphan = patient(2, "Bea", T1);
    orphan.insert("provider_id".into(), json!(99));
    upsert(&pool, &patients(), &[patient(1, "Ann", T1), orphan]).await?;
    let linked: Vec<(i64, Option<Uuid>)> =
        sqlx::query_as("SELECT drchrono_id, provider_id FROM patients ORDER BY 1")
            .fetch_all(&pool)
            .await?;
    let provider_id: Uuid = sqlx::query_scalar("SELECT id FROM providers")
        .fetch_one(&pool)
        .await?;
    assert_eq!(linked, [(1, Some(provider_id)), (2, None)]);
    Ok(())
}

#[sqlx::test(migrations = "../schema/db")]
async fn duplicate_keys_in_one_batch_keep_the_last_occurrence(pool: PgPool) -> anyhow::Result<()> {
    let rows = [
        patient(1, "A", T1),
        patient(2, "B", T1),
        patient(1, "C", T1),
    ];
    let counts = upsert(&pool, &patients(), &rows).await?;
    assert_eq!(
        counts,
        UpsertCounts {
            inserted: 2,
            ..Default::default()
        }
    );
    assert_eq!(
        count(&pool, "patients WHERE drchrono_id = 1 AND first_name = 'C'").await?,
        1
    );
    assert_eq!(count(&pool, "change_log").await?, 2);
    Ok(())
}

#[sqlx::test(migrations = "../schema/db")]
async fn a_soft_deleted_row_that_reappears_is_undeleted(pool: PgPool) -> anyhow::Result<()> {
    upsert(&pool, &patients(), &[patient(1, "Ann", T1)]).await?;
    let mut tx = pool.begin().await?;
    set_actor(&mut tx, ACTOR).await?;
    sqlx::query("UPDATE patients SET deleted_at = now()")
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    let counts = upsert(&pool, &patients(), &[patient(1, "Ann", T1)]).await?;
    assert_eq!(
        counts,
        UpsertCounts {
            updated: 1,
            ..Default::default()
        }
    );
    assert_eq!(count(&pool, "patients WHERE deleted_at IS NULL").await?, 1);
    let audit = audit_rows(&pool).await?;
    let fields: Vec<&[String]> = audit.iter().map(|a| a.changed_fields.as_slice()).collect();
    assert_eq!(fields[1..], [["deleted_at"], ["deleted_at"]]);
    Ok(())
}

#[sqlx::test(migrations = "../schema/db")]
async fn a_composite_natural_key_keeps_one_insurance_row_per_patient_and_type(
    pool: PgPool,
) -> anyhow::Result<()> {
    let target = UpsertTarget {
        table: "insurance_records".into(),
        key: vec!["drchrono_patient_id".into(), "insurance_type".into()],
        version: Some("source_updated_at".into()),
        columns: vec![
            col("drchrono_patient_id", FieldType::Int),
            col("insurance_type", FieldType::Text),
            col("insurance_company", FieldType::Text),
            col("drchrono_raw", FieldType::Jsonb),
            col("source_updated_at", FieldType::Timestamp),
        ],
        digest: false,
    };
    let row = |kind: &str, company: &str| {
        let v = json!({"drchrono_patient_id": 1, "insurance_type": kind,
            "insurance_company": company, "drchrono_raw": {}, "source_updated_at": T1});
        v.as_object().cloned().expect("object")
    };
    upsert(
        &pool,
        &target,
        &[row("primary", "Aetna"), row("secondary", "Cigna")],
    )
    .await?;
    let counts = upsert(
        &pool,
        &target,
        &[row("primary", "Aetna"), row("secondary", "Humana")],
    )
    .await?;
    assert_eq!(
        counts,
        UpsertCounts {
            updated: 1,
            unchanged: 1,
            ..Default::default()
        }
    );
    let last = audit_rows(&pool).await?.pop().expect("an audit row");
    assert_eq!(
        last.natural_key,
        json!({"drchrono_patient_id": 1, "insurance_type": "secondary"})
    );
    Ok(())
}
