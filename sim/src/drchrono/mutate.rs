//! Changes made through the control surface: create, update and delete records, stamping
//! `updated_at` from the simulator clock so every change is newer than everything before it.

use serde_json::{Map, Value, json};

use super::clock::SimClock;
use super::error::SimError;
use super::store::Store;
use crate::data::time::fmt_datetime;
use crate::data::{EXTRA_FIELD, Resource, record_id};

/// Creates a record. Fields missing from `fields` take the template defaults; a missing or
/// null `id` gets the next free one (a numeric string for appointments). `created_at` (where
/// the schema has it) and `updated_at` default to the clock's next tick.
pub(super) fn create(
    store: &mut Store,
    clock: &mut SimClock,
    resource: Resource,
    fields: Value,
) -> Result<Value, SimError> {
    let Value::Object(fields) = fields else {
        return Err(SimError::Invalid("a record must be a JSON object".into()));
    };
    // `id` first, as generated records have it (the ClinicalNote template lacks it).
    let mut record = Map::from_iter([("id".to_owned(), Value::Null)]);
    record.extend(resource.template().clone());
    let now = json!(fmt_datetime(clock.tick()));
    if record.contains_key("created_at") {
        record.insert("created_at".into(), now.clone());
    }
    record.insert("updated_at".into(), now.clone());
    if resource == Resource::Appointments {
        record.insert("extended_updated_at".into(), now);
    }
    record.insert(EXTRA_FIELD.into(), crate::data::extra_field_value(resource));
    record.extend(fields);
    let id = match record.get("id") {
        // Templates carry an empty id; an empty or null id asks for a new one.
        None | Some(Value::Null) => new_id(store, resource),
        Some(Value::String(s)) if s.is_empty() => new_id(store, resource),
        Some(id) => check_id(resource, id)?,
    };
    record.insert("id".into(), id);
    let record = Value::Object(record);
    store.insert(resource, record.clone())?;
    Ok(record)
}

/// The next free id of `resource`, typed as the resource's ids are.
fn new_id(store: &mut Store, resource: Resource) -> Value {
    let next = store.next_id(resource);
    if resource.string_ids() {
        json!(next.to_string())
    } else {
        json!(next)
    }
}

/// Merges `patch` into a record's top-level fields. Unless the patch sets `updated_at`
/// itself (to simulate a late or back-dated write), `updated_at` (and an appointment's
/// `extended_updated_at`) becomes the clock's next tick. The id cannot change.
pub(super) fn update(
    store: &mut Store,
    clock: &mut SimClock,
    resource: Resource,
    id: &str,
    patch: Map<String, Value>,
) -> Result<Value, SimError> {
    let mut record = store
        .get(resource, id)
        .cloned()
        .ok_or_else(|| SimError::NotFound {
            resource,
            id: id.to_owned(),
        })?;
    if let Some(new_id) = patch.get("id")
        && record_id(&json!({ "id": new_id })).as_deref() != Some(id)
    {
        return Err(SimError::Invalid("the id of a record cannot change".into()));
    }
    let stamp = !patch.contains_key("updated_at");
    let Value::Object(fields) = &mut record else {
        return Err(SimError::Invalid("stored record is not an object".into()));
    };
    fields.extend(patch);
    if stamp {
        let now = json!(fmt_datetime(clock.tick()));
        if resource == Resource::Appointments {
            fields.insert("extended_updated_at".into(), now.clone());
        }
        fields.insert("updated_at".into(), now);
    }
    store.replace(resource, id, record.clone())?;
    Ok(record)
}

/// Appointments take string ids, everything else non-negative integers.
fn check_id(resource: Resource, id: &Value) -> Result<Value, SimError> {
    match id {
        Value::String(s) if resource.string_ids() && !s.is_empty() => Ok(id.clone()),
        Value::Number(n) if !resource.string_ids() && n.is_u64() => Ok(id.clone()),
        _ => Err(SimError::Invalid(format!(
            "`id` of {resource} must be {}",
            if resource.string_ids() {
                "a non-empty string"
            } else {
                "a non-negative integer"
            }
        ))),
    }
}
