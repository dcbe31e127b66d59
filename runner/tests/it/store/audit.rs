//! The audit trigger (change_log), the actor rule and the outbox.

use runner::store::{PreparedUpsert, StoreError, UpsertCounts, set_actor, upsert_batch};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use super::{ACTOR, T1, T2, audit_rows, count, patient, patients, upsert};

#[sqlx::test(migrations = "../schema/db")]
async fn inserting_a_row_writes_one_insert_audit_row_with_the_actor(
    pool: PgPool,
) -> anyhow::Result<()> {
    let counts = upsert(&pool, &patients(), &[patient(1, "Ann", T1)]).await?;
    assert_eq!(
        counts,
        UpsertCounts {
            inserted: 1,
            ..Default::default()
        }
    );
    let id: Uuid = sqlx::query_scalar("SELECT id FROM patients")
        .fetch_one(&pool)
        .await?;
    let audit = audit_rows(&pool).await?;
    assert_eq!(audit.len(), 1);
    let a = &audit[0];
    assert_eq!(
        (a.operation.as_str(), a.actor.as_str(), a.record_id),
        ("INSERT", ACTOR, id)
    );
    assert_eq!(a.natural_key, json!({"drchrono_id": 1}));
    for field in ["drchrono_id", "first_name", "drchrono_raw", "date_of_birth"] {
        assert!(
            a.changed_fields.iter().any(|f| f == field),
            "{field} in {:?}",
            a.changed_fields
        );
    }
    let new = a.new_values.as_ref().expect("new values");
    assert_eq!(new["first_name"], json!("Ann"));
    assert!(
        new.get("drchrono_raw").is_none(),
        "raw JSON is listed, not copied"
    );
    assert!(a.old_values.is_none());
    Ok(())
}

#[sqlx::test(migrations = "../schema/db")]
async fn updating_one_field_audits_exactly_that_field_with_old_and_new_values(
    pool: PgPool,
) -> anyhow::Result<()> {
    upsert(&pool, &patients(), &[patient(1, "Ann", T1)]).await?;
    let counts = upsert(&pool, &patients(), &[patient(1, "Anna", T1)]).await?;
    assert_eq!(
        counts,
        UpsertCounts {
            updated: 1,
            ..Default::default()
        }
    );
    let audit = audit_rows(&pool).await?;
    assert_eq!(audit.len(), 2);
    let a = &audit[1];
    assert_eq!((a.operation.as_str(), a.actor.as_str()), ("UPDATE", ACTOR));
    assert_eq!(a.changed_fields, ["drchrono_raw", "first_name"]);
    assert_eq!(a.old_values, Some(json!({"first_name": "Ann"})));
    assert_eq!(a.new_values, Some(json!({"first_name": "Anna"})));
    Ok(())
}

#[sqlx::test(migrations = "../schema/db")]
async fn a_write_without_an_actor_is_refused_and_leaves_nothing(
    pool: PgPool,
) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    let err = upsert_batch(&mut tx, &patients(), &[patient(1, "Ann", T1)])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::MissingActor), "{err}");
    drop(tx);
    let mut conn = pool.acquire().await?;
    let err = upsert_batch(&mut conn, &patients(), &[patient(1, "Ann", T1)])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::MissingActor), "{err}");
    let mut tx = pool.begin().await?;
    assert!(matches!(
        set_actor(&mut tx, " ").await,
        Err(StoreError::MissingActor)
    ));
    for table in ["patients", "change_log", "outbox"] {
        assert_eq!(count(&pool, table).await?, 0, "{table}");
    }
    Ok(())
}

#[sqlx::test(migrations = "../schema/db")]
async fn insert_update_and_no_op_produce_exactly_two_audit_rows(
    pool: PgPool,
) -> anyhow::Result<()> {
    let prepared = PreparedUpsert::new(&patients())?;
    let mut tx = pool.begin().await?;
    set_actor(&mut tx, ACTOR).await?;
    let mut total = UpsertCounts::default();
    for name in ["Ann", "Anna", "Anna"] {
        total += prepared.execute(&mut tx, &[patient(1, name, T2)]).await?;
    }
    tx.commit().await?;
    assert_eq!(
        total,
        UpsertCounts {
            inserted: 1,
            updated: 1,
            unchanged: 1,
            stale: 0
        }
    );
    let ops: Vec<String> = audit_rows(&pool)
        .await?
        .into_iter()
        .map(|a| a.operation)
        .collect();
    assert_eq!(ops, ["INSERT", "UPDATE"]);
    Ok(())
}

#[sqlx::test(migrations = "../schema/db")]
async fn outbox_rows_appear_for_inserts_updates_and_soft_deletes_but_not_for_no_ops(
    pool: PgPool,
) -> anyhow::Result<()> {
    upsert(
        &pool,
        &patients(),
        &[patient(1, "Ann", T1), patient(2, "Bob", T1)],
    )
    .await?;
    upsert(
        &pool,
        &patients(),
        &[patient(1, "Ann", T1), patient(2, "Rob", T2)],
    )
    .await?;
    let mut tx = pool.begin().await?;
    set_actor(&mut tx, ACTOR).await?;
    sqlx::query("UPDATE patients SET deleted_at = now() WHERE drchrono_id = 1")
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE patients SET synced_at = now()")
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    let events: Vec<(String, Value, String)> = sqlx::query_as(
        "SELECT o.operation, o.natural_key, o.status FROM outbox o \
         JOIN change_log c ON c.id = o.change_log_id AND c.record_id = o.record_id ORDER BY o.id",
    )
    .fetch_all(&pool)
    .await?;
    let expected = [
        ("INSERT", json!({"drchrono_id": 1})),
        ("INSERT", json!({"drchrono_id": 2})),
        ("UPDATE", json!({"drchrono_id": 2})),
        ("SOFT_DELETE", json!({"drchrono_id": 1})),
    ];
    assert_eq!(events.len(), expected.len(), "{events:?}");
    for ((op, key, status), (want_op, want_key)) in events.iter().zip(expected) {
        assert_eq!(
            (op.as_str(), key, status.as_str()),
            (want_op, &want_key, "pending")
        );
    }
    Ok(())
}
