//! Processing one inbox entry: route it to its pipelines, map it (pure), then upsert every
//! pipeline's rows and run the link rules in one savepoint of the caller's transaction, and
//! record the outcome on the entry. A mapping failure or a refused write marks the entry
//! `failed` with a reason made of ids and names (never values); a lost database leaves it as
//! it was, for the worker's next round or `runner replay`.

use serde_json::Value;
use sqlx::{Connection, PgConnection};

use super::inbox::{self, Entry, SOURCE_DEEPCURA, SOURCE_DRCHRONO, SOURCE_INBOUND, Status};
use crate::config::pipeline::System;
use crate::config::{Plan, PlannedPipeline};
use crate::mapping::{MappingError, Row};
use crate::store::{StoreError, UpsertCounts, set_actor};

/// The audit actor of DrChrono webhook writes.
pub const DRCHRONO_ACTOR: &str = "drchrono_webhook";
/// The audit actor of Deep Cura gridhook writes.
pub const DEEPCURA_ACTOR: &str = "deepcura_webhook";
/// The audit actor of writes from posts to the inbound routes.
pub const INBOUND_ACTOR: &str = "inbound_route";
/// DrChrono's manual "Ping webhook" event: stored, never processed.
pub const PING: &str = "PING";

/// Why an entry cannot be mapped. `Display` shows ids and names only.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProcessError {
    /// The entry has no JSON payload.
    #[error("the entry has no JSON payload")]
    NoPayload,
    /// The pipeline's `webhooks.object` path finds no object in the payload.
    #[error("{pipeline}: the payload has no object at the pipeline's webhook path")]
    NoObject {
        /// The pipeline.
        pipeline: String,
    },
    /// The object does not map (the message hides the value).
    #[error("{error} (record id {record})")]
    Mapping {
        /// The mapping error.
        error: MappingError,
        /// The source record's id, or `?`.
        record: String,
    },
}

/// What processing an entry did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Rows written (counts summed over its pipelines).
    Processed(UpsertCounts),
    /// No pipeline takes the entry.
    Ignored,
    /// Not written; the entry is `failed` with this reason.
    Failed(String),
}

/// Rows ready to upsert, per pipeline.
pub type Mapped<'a> = Vec<(&'a PlannedPipeline, Vec<Row>)>;

/// The audit actor for writes from `source`.
pub fn actor(source: &str) -> &'static str {
    match source {
        SOURCE_DEEPCURA => DEEPCURA_ACTOR,
        SOURCE_INBOUND => INBOUND_ACTOR,
        _ => DRCHRONO_ACTOR,
    }
}

/// The pipelines an entry feeds, in dependency order. DrChrono: every pipeline whose
/// `webhooks.events` lists the event (`PING` feeds none). Inbound: the pipelines whose
/// `source.route` is the entry's event (its route). Other sources push their records whole:
/// every pipeline whose source system is the entry's source.
pub fn targets<'a>(plan: &'a Plan, source: &str, event: Option<&str>) -> Vec<&'a PlannedPipeline> {
    plan.pipelines
        .iter()
        .filter(|p| {
            if source == SOURCE_DRCHRONO {
                let Some(event) = event.filter(|e| *e != PING) else {
                    return false;
                };
                p.file.source.system == System::Drchrono
                    && p.file
                        .webhooks
                        .as_ref()
                        .is_some_and(|w| w.events.iter().any(|e| e == event))
            } else if source == SOURCE_INBOUND {
                p.file.source.system == System::Inbound
                    && event.is_some_and(|e| p.file.source.route.as_deref() == Some(e))
            } else {
                p.file.source.system.as_str() == source
            }
        })
        .collect()
}

/// The record a pipeline takes from a webhook payload (its `webhooks.object`).
fn object_of(p: &PlannedPipeline, payload: &Value) -> Value {
    match &p.mapping.webhook_object {
        Some(path) => path.one(payload),
        None => payload.clone(),
    }
}

/// Checks, before anything is stored, that an authenticated delivery has the shape of what its
/// pipelines take: a JSON object whose record (at each pipeline's `webhooks.object`) is an
/// object holding every path of `webhooks.require`. The reason names the pipeline and the
/// path, never a value. Deliveries no pipeline takes are not checked (they are stored as
/// ignored).
pub fn check_shape(
    plan: &Plan,
    source: &str,
    event: Option<&str>,
    payload: Option<&Value>,
) -> Result<(), String> {
    let targets = targets(plan, source, event);
    if targets.is_empty() {
        return Ok(());
    }
    let payload = match payload {
        None => return Err("the body is empty".into()),
        Some(v) if !v.is_object() => return Err("the body is not a JSON object".into()),
        Some(v) => v,
    };
    for p in targets {
        let object = object_of(p, payload);
        if !object.is_object() {
            return Err(format!(
                "{}: the body has no object at the pipeline's webhook path",
                p.mapping.name
            ));
        }
        for (text, path) in &p.mapping.webhook_require {
            if path.all(&object).is_empty() {
                return Err(format!(
                    "{}: the object has no `{text}`; it is not a record of this pipeline",
                    p.mapping.name
                ));
            }
        }
    }
    Ok(())
}

/// Whether a delivery feeds a pipeline that re-reads its record from the API.
pub fn needs_refetch(plan: &Plan, source: &str, event: Option<&str>) -> bool {
    targets(plan, source, event)
        .iter()
        .any(|p| p.mapping.refetch.is_some())
}

/// Maps `payload` for every target pipeline. `Ok(None)`: nothing takes it (ignored).
pub fn prepare<'a>(
    plan: &'a Plan,
    source: &str,
    event: Option<&str>,
    payload: Option<&Value>,
) -> Result<Option<Mapped<'a>>, ProcessError> {
    prepare_with(plan, source, event, payload, None)
}

/// [`prepare`], with the record re-read from the API (`refetched`) used instead of the
/// delivery's copy by the pipelines that re-read (`webhooks.refetch`). A re-read record that
/// is `null` (gone upstream) gives those pipelines no rows.
pub fn prepare_with<'a>(
    plan: &'a Plan,
    source: &str,
    event: Option<&str>,
    payload: Option<&Value>,
    refetched: Option<&Value>,
) -> Result<Option<Mapped<'a>>, ProcessError> {
    let targets = targets(plan, source, event);
    if targets.is_empty() {
        return Ok(None);
    }
    let payload = payload.ok_or(ProcessError::NoPayload)?;
    let mut mapped = Vec::with_capacity(targets.len());
    for p in targets {
        let object = match refetched.filter(|_| p.mapping.refetch.is_some()) {
            Some(Value::Null) => {
                mapped.push((p, Vec::new()));
                continue;
            }
            Some(record) => record.clone(),
            None => object_of(p, payload),
        };
        if !object.is_object() {
            return Err(ProcessError::NoObject {
                pipeline: p.mapping.name.clone(),
            });
        }
        let rows = p
            .mapping
            .map_record(&object)
            .map_err(|error| ProcessError::Mapping {
                error,
                record: record_id(&object),
            })?;
        mapped.push((p, rows));
    }
    Ok(Some(mapped))
}

/// Processes a claimed entry inside `tx` (an open transaction): sets the audit actor, writes
/// in a savepoint and records the outcome on the entry. `Err` only when the database failed
/// in a way worth retrying; the caller then rolls back and the entry stays as it was.
pub async fn settle(
    tx: &mut PgConnection,
    plan: &Plan,
    entry: &Entry,
) -> Result<Outcome, StoreError> {
    let payload = entry.payload.as_ref().map(|j| &j.0);
    let refetched = entry.refetched.as_ref().map(|j| &j.0);
    let mapped = match prepare_with(
        plan,
        &entry.source,
        entry.event.as_deref(),
        payload,
        refetched,
    ) {
        Ok(Some(m)) => m,
        Ok(None) => {
            inbox::finish(tx, entry.id, Status::Ignored, None).await?;
            return Ok(Outcome::Ignored);
        }
        Err(e) => {
            let reason = e.to_string();
            inbox::finish(tx, entry.id, Status::Failed, Some(&reason)).await?;
            return Ok(Outcome::Failed(reason));
        }
    };
    set_actor(tx, actor(&entry.source)).await?;
    let mut savepoint = tx
        .begin()
        .await
        .map_err(|e| StoreError::from_sqlx("open a savepoint", e))?;
    match write(&mut savepoint, plan, &mapped, entry.refetched_at).await {
        Ok(counts) => {
            savepoint
                .commit()
                .await
                .map_err(|e| StoreError::from_sqlx("release a savepoint", e))?;
            inbox::finish(tx, entry.id, Status::Processed, None).await?;
            Ok(Outcome::Processed(counts))
        }
        Err(e) if retryable(&e) => Err(e),
        Err(e) => {
            savepoint
                .rollback()
                .await
                .map_err(|e| StoreError::from_sqlx("roll back a savepoint", e))?;
            let reason = e.to_string();
            inbox::finish(tx, entry.id, Status::Failed, Some(&reason)).await?;
            Ok(Outcome::Failed(reason))
        }
    }
}

/// Upserts every pipeline's rows (a re-read record with its read time, so that a row written
/// after it is kept), fills the foreign keys of children waiting for a new row, then runs the
/// link rules of each table that changed.
async fn write(
    conn: &mut PgConnection,
    plan: &Plan,
    mapped: &Mapped<'_>,
    read_at: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<UpsertCounts, StoreError> {
    let tables: Vec<&str> = mapped
        .iter()
        .map(|(p, _)| p.mapping.table.as_str())
        .collect();
    crate::link::lock_for(conn, plan, &tables).await?;
    let mut total = UpsertCounts::default();
    let mut changed: Vec<&str> = Vec::new();
    for (p, rows) in mapped {
        let read_at = read_at.filter(|_| p.mapping.refetch.is_some());
        let counts = p.upsert.execute_read_at(conn, rows, read_at).await?;
        total += counts;
        if counts.inserted > 0 {
            crate::link::relink::resolve_children(conn, &plan.relations, &p.mapping.table).await?;
        }
        if counts.inserted + counts.updated > 0 && !changed.contains(&p.mapping.table.as_str()) {
            changed.push(&p.mapping.table);
        }
    }
    for table in changed {
        crate::link::after_upsert(conn, &plan.link_rules, table).await?;
    }
    Ok(total)
}

/// Whether a store error is worth retrying later unchanged (the database is away or busy),
/// as opposed to a refusal that will repeat until data or config change.
pub fn retryable(e: &StoreError) -> bool {
    e.is_transient() || matches!(e, StoreError::Driver { .. })
}

/// The record's id for messages (ids are not patient data).
fn record_id(rec: &Value) -> String {
    ["id", "note_id"]
        .iter()
        .find_map(|k| rec.get(*k).filter(|v| v.is_string() || v.is_number()))
        .map_or_else(|| "?".into(), |v| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn record_ids_come_from_id_fields_only() {
        assert_eq!(record_id(&json!({"id": 7, "first_name": "X"})), "7");
        assert_eq!(record_id(&json!({"note_id": "abc"})), "\"abc\"");
        assert_eq!(record_id(&json!({"name": "X"})), "?");
    }

    #[test]
    fn actors_follow_the_source() {
        assert_eq!(actor(SOURCE_DEEPCURA), DEEPCURA_ACTOR);
        assert_eq!(actor(SOURCE_DRCHRONO), DRCHRONO_ACTOR);
        assert_eq!(actor(SOURCE_INBOUND), INBOUND_ACTOR);
    }
}
