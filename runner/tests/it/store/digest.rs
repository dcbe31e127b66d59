//! The source digest of a synced row (migration 0018): stored by the sync's upsert, never
//! audited, cleared by any other write.

use runner::store::{SOURCE_DIGEST, UpsertCounts, UpsertTarget, set_actor};
use serde_json::{Map, Value, json};
use sqlx::PgPool;

use super::{ACTOR, T1, T2, audit_rows, count, patient, patients, upsert};

fn with_digests() -> UpsertTarget {
    UpsertTarget {
        digest: true,
        ..patients()
    }
}

fn digested(id: i64, name: &str, at: &str, digest: &str) -> Map<String, Value> {
    let mut row = patient(id, name, at);
    row.insert(SOURCE_DIGEST.into(), json!(digest));
    row
}

/// drchrono_id -> (source_digest as hex, updated_at, first_name).
async fn stored(
    pool: &PgPool,
) -> Vec<(i64, Option<String>, chrono::DateTime<chrono::Utc>, String)> {
    sqlx::query_as(
        "SELECT drchrono_id, encode(source_digest, 'hex'), updated_at, first_name \
         FROM patients ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

#[sqlx::test(migrations = "../schema/db")]
async fn a_new_digest_alone_is_stored_without_audit_and_counts_as_unchanged(
    pool: PgPool,
) -> anyhow::Result<()> {
    let target = with_digests();
    let first = [digested(1, "Ann", T1, "0a"), digested(2, "Bob", T1, "0b")];
    let counts = upsert(&pool, &target, &first).await?;
    assert_eq!(counts.inserted, 2);
    let audit = audit_rows(&pool).await?;
    assert!(
        audit
            .iter()
            .all(|a| !a.changed_fields.iter().any(|f| f == SOURCE_DIGEST)
                && a.new_values
                    .as_ref()
                    .is_some_and(|v| v.get(SOURCE_DIGEST).is_none())),
        "the digest is bookkeeping: {audit:?}"
    );
    let before = stored(&pool).await;
    assert_eq!(before[0].1.as_deref(), Some("0a"));

    // The same values under another digest (a row written by a webhook, or a record whose
    // bytes changed in nothing the row keeps): the digest changes, nothing else.
    let again = [digested(1, "Ann", T1, "1a"), digested(2, "Bob", T1, "0b")];
    let counts = upsert(&pool, &target, &again).await?;
    assert_eq!(
        counts,
        UpsertCounts {
            unchanged: 2,
            ..Default::default()
        }
    );
    let after = stored(&pool).await;
    assert_eq!(after[0].1.as_deref(), Some("1a"));
    assert_eq!(after[0].2, before[0].2, "updated_at is kept");
    assert_eq!(count(&pool, "change_log").await?, 2);
    assert_eq!(count(&pool, "outbox").await?, 2);

    // A real change with its new digest: updated and audited as ever.
    let changed = [digested(2, "Bea", T2, "2b")];
    let counts = upsert(&pool, &target, &changed).await?;
    assert_eq!(counts.updated, 1);
    let last = audit_rows(&pool).await?.pop().unwrap();
    assert_eq!(
        last.changed_fields,
        ["drchrono_raw", "first_name", "source_updated_at"]
    );
    assert_eq!(stored(&pool).await[1].1.as_deref(), Some("2b"));
    Ok(())
}

#[sqlx::test(migrations = "../schema/db")]
async fn any_other_write_clears_the_digest(pool: PgPool) -> anyhow::Result<()> {
    upsert(
        &pool,
        &with_digests(),
        &[
            digested(1, "Ann", T1, "0a"),
            digested(2, "Bob", T1, "0b"),
            digested(3, "Cy", T1, "0c"),
        ],
    )
    .await?;
    // An upsert that keeps no digest (a webhook's), with a real change and without.
    upsert(
        &pool,
        &patients(),
        &[patient(1, "Anne", T2), patient(2, "Bob", T1)],
    )
    .await?;
    // A hand-made UPDATE (a write-back, a link rule, a soft delete).
    let mut tx = pool.begin().await?;
    set_actor(&mut tx, ACTOR).await?;
    sqlx::query("UPDATE patients SET cell_phone = '555' WHERE drchrono_id = 3")
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    let digests: Vec<Option<String>> = stored(&pool).await.into_iter().map(|r| r.1).collect();
    // Bob's identical row was not written at all, so its digest still vouches for it.
    assert_eq!(digests, [None, Some("0b".to_string()), None]);
    Ok(())
}
