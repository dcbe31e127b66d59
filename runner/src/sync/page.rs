//! Writing one page: the whole page in one upsert statement, and when PostgreSQL refuses a
//! value in it, record by record (each in its own savepoint) so that the refused records go to
//! the quarantine and every other record of the page is written.

use serde_json::Value;
use sqlx::{Connection, PgConnection};

use crate::mapping::Row;
use crate::store::{PreparedUpsert, StoreError, UpsertCounts};

/// What writing a page did.
#[derive(Debug, Default)]
pub(super) struct PageOutcome {
    /// Rows written, unchanged and stale.
    pub counts: UpsertCounts,
    /// Records PostgreSQL refused: their index in the page and the reason (names and SQLSTATE
    /// only).
    pub refused: Vec<(usize, String)>,
}

/// Upserts the mapped records of a page (`(index in the page, rows)`) read from the source at
/// `read_at`. A refusal that concerns the data (see [`StoreError::is_data_error`]) isolates the
/// records; any other failure fails the page.
pub(super) async fn write(
    tx: &mut PgConnection,
    upsert: &PreparedUpsert,
    mapped: &[(usize, Vec<Row>)],
    read_at: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<PageOutcome, StoreError> {
    let rows: Vec<&Row> = mapped.iter().flat_map(|(_, r)| r.iter()).collect();
    let mut sp = savepoint(tx).await?;
    match upsert.execute_read_at(&mut sp, &rows, read_at).await {
        Ok(counts) => {
            release(sp).await?;
            return Ok(PageOutcome {
                counts,
                refused: Vec::new(),
            });
        }
        Err(e) if e.is_data_error() => rollback(sp).await?,
        Err(e) => return Err(e),
    }
    let mut out = PageOutcome::default();
    for (i, rows) in mapped {
        let mut sp = savepoint(tx).await?;
        match upsert.execute_read_at(&mut sp, rows, read_at).await {
            Ok(counts) => {
                release(sp).await?;
                out.counts += counts;
            }
            Err(e) if e.is_data_error() => {
                rollback(sp).await?;
                out.refused.push((*i, e.to_string()));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

type Savepoint<'a> = sqlx::Transaction<'a, sqlx::Postgres>;

async fn savepoint(tx: &mut PgConnection) -> Result<Savepoint<'_>, StoreError> {
    tx.begin()
        .await
        .map_err(|e| StoreError::from_sqlx("open a savepoint", e))
}

async fn release(sp: Savepoint<'_>) -> Result<(), StoreError> {
    sp.commit()
        .await
        .map_err(|e| StoreError::from_sqlx("release a savepoint", e))
}

async fn rollback(sp: Savepoint<'_>) -> Result<(), StoreError> {
    sp.rollback()
        .await
        .map_err(|e| StoreError::from_sqlx("roll back a savepoint", e))
}

/// A source record's key for the quarantine and for messages: its `id` (an id, not patient
/// data), or a digest of the record when it has none.
pub fn record_key(rec: &Value) -> String {
    match rec.get("id").or_else(|| rec.get("appointment")) {
        Some(Value::String(s)) => s.clone(),
        Some(v @ Value::Number(_)) => v.to_string(),
        _ => {
            use sha2::Digest as _;
            let digest = sha2::Sha256::digest(rec.to_string().as_bytes());
            format!("sha256:{}", &hex::encode(digest)[..16])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_record_key_is_its_id_or_a_digest() {
        assert_eq!(record_key(&json!({"id": 7, "first_name": "X"})), "7");
        assert_eq!(record_key(&json!({"appointment": "12a"})), "12a");
        let k = record_key(&json!({"first_name": "X"}));
        assert!(k.starts_with("sha256:") && !k.contains('X'), "{k}");
        assert_eq!(k, record_key(&json!({"first_name": "X"})));
    }
}
