//! The store against a real PostgreSQL: migrations, roles, the audit trigger, the outbox and
//! the batched upsert. Shared fixtures live here; the tests live in the submodules.

mod audit;
mod compiled_audit;
mod digest;
mod schema;
mod upsert;

use runner::config::field_type::FieldType;
use runner::store::{Lookup, UpsertColumn, UpsertCounts, UpsertTarget, set_actor, upsert_batch};
use serde_json::{Map, Value, json};
use sqlx::{AssertSqlSafe, PgPool};
use uuid::Uuid;

const ACTOR: &str = "test_sync";

fn col(name: &str, ty: FieldType) -> UpsertColumn {
    UpsertColumn {
        name: name.into(),
        ty,
        lookup: None,
    }
}

fn patients() -> UpsertTarget {
    UpsertTarget {
        table: "patients".into(),
        key: vec!["drchrono_id".into()],
        version: Some("source_updated_at".into()),
        columns: vec![
            col("drchrono_id", FieldType::Int),
            col("first_name", FieldType::Text),
            col("date_of_birth", FieldType::Date),
            col("drchrono_doctor_id", FieldType::Int),
            UpsertColumn {
                name: "provider_id".into(),
                ty: FieldType::Int,
                lookup: Some(Lookup {
                    table: "providers".into(),
                    by: "drchrono_id".into(),
                }),
            },
            col("drchrono_raw", FieldType::Jsonb),
            col("source_updated_at", FieldType::Timestamp),
        ],
        digest: false,
    }
}

/// A patient row as the mapping engine would produce it; the raw object carries the name.
fn patient(id: i64, first_name: &str, updated_at: &str) -> Map<String, Value> {
    let raw = json!({"id": id, "first_name": first_name, "doctor": 10});
    let row = json!({
        "drchrono_id": id, "first_name": first_name, "date_of_birth": "1990-04-01",
        "drchrono_doctor_id": 10, "provider_id": 10, "drchrono_raw": raw,
        "source_updated_at": updated_at,
    });
    row.as_object().cloned().expect("an object")
}

const T1: &str = "2026-01-01T10:00:00Z";
const T2: &str = "2026-02-01T10:00:00Z";

/// Upserts one batch in its own transaction with the test actor.
async fn upsert(
    pool: &PgPool,
    target: &UpsertTarget,
    rows: &[Map<String, Value>],
) -> anyhow::Result<UpsertCounts> {
    let mut tx = pool.begin().await?;
    set_actor(&mut tx, ACTOR).await?;
    let counts = upsert_batch(&mut tx, target, rows).await?;
    tx.commit().await?;
    Ok(counts)
}

async fn count(pool: &PgPool, from_where: &str) -> anyhow::Result<i64> {
    let sql = format!("SELECT count(*) FROM {from_where}");
    Ok(sqlx::query_scalar(AssertSqlSafe(sql))
        .fetch_one(pool)
        .await?)
}

#[derive(Debug, sqlx::FromRow)]
struct Audit {
    record_id: Uuid,
    natural_key: Value,
    operation: String,
    changed_fields: Vec<String>,
    old_values: Option<Value>,
    new_values: Option<Value>,
    actor: String,
}

async fn audit_rows(pool: &PgPool) -> anyhow::Result<Vec<Audit>> {
    let sql = "SELECT record_id, natural_key, operation, changed_fields, old_values, new_values, \
               actor FROM change_log ORDER BY id";
    Ok(sqlx::query_as(sql).fetch_all(pool).await?)
}
