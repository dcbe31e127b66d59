//! Small building blocks shared by the generators: blank records, id sequences, fake contact
//! details and the documented extra field.

use chrono::{Duration, NaiveDateTime};
use serde_json::{Map, Value, json};

use super::SplitMix64;
use super::resource::Resource;
use super::time::fmt_datetime;

/// A record under construction: a JSON object in spec field order.
pub(super) type Record = Map<String, Value>;

/// The name of the extra field the simulator adds to every record. DrChrono only makes
/// additive changes within API v4, so clients must ignore fields they do not know; this one
/// (a nested object) proves that they do.
pub const EXTRA_FIELD: &str = "x_sim_extra";

/// A copy of the resource's template: every spec-declared field at its empty default.
pub(super) fn blank(resource: Resource) -> Record {
    resource.template().clone()
}

/// Sets several fields at once; existing keys keep their position.
pub(super) fn put<const N: usize>(record: &mut Record, fields: [(&str, Value); N]) {
    for (k, v) in fields {
        record.insert(k.to_owned(), v);
    }
}

/// The value of the documented extra field for a record of `resource`.
pub fn extra_field_value(resource: Resource) -> Value {
    json!({ "generator": "drchrono-sim", "schema": resource.schema() })
}

/// Finishes a record: sets `updated_at` (declared or not: every simulated record has one)
/// and appends the extra field.
pub(super) fn finish(resource: Resource, mut record: Record, updated_at: NaiveDateTime) -> Value {
    record.insert("updated_at".to_owned(), json!(fmt_datetime(updated_at)));
    record.insert(EXTRA_FIELD.to_owned(), extra_field_value(resource));
    Value::Object(record)
}

/// The first id handed out for each resource. Ranges never overlap, so a client that joins
/// on the wrong column finds nothing instead of a plausible wrong row.
pub fn first_id(resource: Resource) -> u64 {
    match resource {
        Resource::Doctors => 100_001,
        Resource::Offices => 200_001,
        Resource::Patients => 1_000_001,
        Resource::Appointments => 300_000_001,
        Resource::ClinicalNotes => 40_000_001,
        Resource::Medications => 50_000_001,
        Resource::Problems => 60_000_001,
        Resource::Allergies => 70_000_001,
        Resource::LineItems => 80_000_001,
    }
}

/// Per-resource id counters.
#[derive(Debug, Clone)]
pub(super) struct Ids {
    next: [u64; 9],
}

impl Ids {
    /// Counters at each resource's first id.
    pub(super) fn new() -> Self {
        Self {
            next: Resource::ALL.map(first_id),
        }
    }

    /// Takes the next id of `resource`.
    pub(super) fn take(&mut self, resource: Resource) -> u64 {
        let slot = &mut self.next[resource as usize];
        let id = *slot;
        *slot += 1;
        id
    }
}

impl Default for Ids {
    fn default() -> Self {
        Self::new()
    }
}

/// A phone number in the 555-01xx block, which is reserved for fiction.
pub(super) fn phone(rng: &mut SplitMix64) -> String {
    format!("(555) 01{}-{:04}", rng.below(10), rng.below(10_000))
}

/// A uniformly random instant in `[from, to)`, whole seconds; `from` if the span is empty.
pub(super) fn between(
    rng: &mut SplitMix64,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> NaiveDateTime {
    let span = (to - from).num_seconds();
    if span <= 0 {
        return from;
    }
    from + Duration::seconds(rng.range(0, span - 1))
}

/// Rounds cents to dollars as a JSON number with two decimals at most.
pub(super) fn dollars(cents: i64) -> Value {
    json!(cents as f64 / 100.0)
}

/// Formats cents as a decimal string (`"12.50"`), as DrChrono does for some money fields.
pub(super) fn dollars_text(cents: i64) -> Value {
    json!(format!("{}.{:02}", cents / 100, cents % 100))
}
