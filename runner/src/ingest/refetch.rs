//! Re-reading a webhook's record from the API before it is applied, for pipelines whose
//! resource has no version field (`webhooks.refetch`: medications, problems, allergies). Two
//! deliveries of one record applied out of order would otherwise leave the older one; re-read,
//! both write what the API shows now. The re-read happens outside any transaction (it waits
//! for the shared rate budget), and the record is kept on the inbox entry with its read time,
//! so the write that follows is guarded like a listing page: a row written after the read is
//! newer and stays.

use serde_json::Value;
use sqlx::PgPool;

use super::inbox::{self, SOURCE_DRCHRONO};
use super::process::targets;
use crate::config::Plan;
use crate::mapping::strip_nul;
use crate::source::{RestClient, SourceError};
use crate::store::StoreError;

/// Entries re-read per round.
const BATCH: i64 = 50;

/// Re-reads the records of waiting entries (up to a batch); returns how many were read. A
/// record the API no longer has (404) is kept as `null`: its pipelines write nothing for it.
/// A call that fails otherwise ends the round; the entries wait for the next one.
pub async fn refetch_pending(
    pool: &PgPool,
    plan: &Plan,
    client: &RestClient,
) -> Result<usize, StoreError> {
    let mut conn = pool
        .acquire()
        .await
        .map_err(|e| StoreError::from_sqlx("acquire", e))?;
    let waiting = inbox::awaiting_refetch(&mut conn, BATCH).await?;
    drop(conn);
    let mut done = 0;
    for (id, event, payload) in waiting {
        let Some((p, (endpoint, id_path))) = targets(plan, SOURCE_DRCHRONO, event.as_deref())
            .into_iter()
            .find_map(|p| p.mapping.refetch.as_ref().map(|r| (p, r)))
        else {
            continue;
        };
        let object = match (&p.mapping.webhook_object, payload.as_ref().map(|j| &j.0)) {
            (Some(path), Some(v)) => path.one(v),
            (None, Some(v)) => v.clone(),
            _ => Value::Null,
        };
        let read_at = crate::sync::read_time(Some(pool)).await;
        let record = match record_id(&id_path.one(&object)) {
            // No usable id: apply the delivery's own copy (mapping decides).
            None => object,
            Some(rid) => {
                let fetched = match client.url(&endpoint.replace("{id}", &rid), &[]) {
                    Ok(url) => client.get_json(&url, Some(&p.mapping.name)).await,
                    Err(e) => Err(e),
                };
                match fetched {
                    Ok(mut record) => {
                        strip_nul(&mut record);
                        record
                    }
                    Err(SourceError::Status { status: 404, .. }) => Value::Null,
                    Err(e) => {
                        tracing::warn!(inbox_id = id, pipeline = %p.mapping.name, error = %e, "Could not re-read a webhook's record; it waits for the next round.");
                        break;
                    }
                }
            }
        };
        let mut conn = pool
            .acquire()
            .await
            .map_err(|e| StoreError::from_sqlx("acquire", e))?;
        inbox::set_refetched(&mut conn, id, &record, read_at).await?;
        done += 1;
    }
    Ok(done)
}

/// A record id fit for a URL path segment (digits, letters, `-`, `_`), or `None`.
fn record_id(v: &Value) -> Option<String> {
    let s = match v {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        _ => return None,
    };
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    ok.then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_plain_ids_go_into_a_url() {
        assert_eq!(record_id(&json!(42)).as_deref(), Some("42"));
        assert_eq!(record_id(&json!("A-7_x")).as_deref(), Some("A-7_x"));
        assert_eq!(record_id(&json!("../patients")), None);
        assert_eq!(record_id(&json!(null)), None);
    }
}
