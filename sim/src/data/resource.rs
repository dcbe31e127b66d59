//! The DrChrono resources the simulator serves, their record templates and sort keys.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One DrChrono list endpoint (`/api/<path>`), and the table of records behind it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resource {
    /// `/api/doctors` (schema `Doctor`).
    Doctors,
    /// `/api/offices` (schema `Office`).
    Offices,
    /// `/api/patients` (schema `Patient`).
    Patients,
    /// `/api/appointments` (schema `Appointment`; `id` is a string).
    Appointments,
    /// `/api/clinical_notes` (schema `ClinicalNote`).
    ClinicalNotes,
    /// `/api/medications` (schema `PatientDrug`).
    Medications,
    /// `/api/problems` (schema `PatientProblem`).
    Problems,
    /// `/api/allergies` (schema `PatientAllergy`).
    Allergies,
    /// `/api/line_items` (schema `BillingLineItem`).
    LineItems,
}

impl Resource {
    /// Every resource, in the order tables are generated.
    pub const ALL: [Resource; 9] = [
        Resource::Doctors,
        Resource::Offices,
        Resource::Patients,
        Resource::Appointments,
        Resource::ClinicalNotes,
        Resource::Medications,
        Resource::Problems,
        Resource::Allergies,
        Resource::LineItems,
    ];

    /// The path segment after `/api/`, e.g. `line_items`.
    pub fn path(self) -> &'static str {
        match self {
            Resource::Doctors => "doctors",
            Resource::Offices => "offices",
            Resource::Patients => "patients",
            Resource::Appointments => "appointments",
            Resource::ClinicalNotes => "clinical_notes",
            Resource::Medications => "medications",
            Resource::Problems => "problems",
            Resource::Allergies => "allergies",
            Resource::LineItems => "line_items",
        }
    }

    /// The resource served at `/api/<segment>`, if any.
    pub fn from_path(segment: &str) -> Option<Resource> {
        Resource::ALL.into_iter().find(|r| r.path() == segment)
    }

    /// The spec schema name behind this resource.
    pub fn schema(self) -> &'static str {
        match self {
            Resource::Doctors => "Doctor",
            Resource::Offices => "Office",
            Resource::Patients => "Patient",
            Resource::Appointments => "Appointment",
            Resource::ClinicalNotes => "ClinicalNote",
            Resource::Medications => "PatientDrug",
            Resource::Problems => "PatientProblem",
            Resource::Allergies => "PatientAllergy",
            Resource::LineItems => "BillingLineItem",
        }
    }

    /// Fields the spec marks `x-verbose-required`: served only with `verbose=true`.
    ///
    /// Only endpoints that take a `verbose` parameter strip them (patients, appointments).
    /// `PatientAllergy` and `BillingLineItem` also list `description`, but their endpoints have
    /// no `verbose` switch, so the simulator always serves it there.
    pub fn verbose_only_fields(self) -> &'static [&'static str] {
        match self {
            Resource::Patients => &[
                "auto_accident_insurance",
                "custom_demographics",
                "patient_flags",
                "patient_flags_attached",
                "primary_insurance",
                "referring_doctor",
                "secondary_insurance",
                "tertiary_insurance",
                "workers_comp_insurance",
            ],
            Resource::Appointments => &[
                "clinical_note",
                "custom_fields",
                "custom_vitals",
                "extended_updated_at",
                "reminders",
                "status_transitions",
                "vitals",
            ],
            _ => &[],
        }
    }

    /// The record with every spec-declared field at its empty default, from
    /// `src/data/templates/<name>.json` (generated from the spec schema).
    pub fn template(self) -> &'static serde_json::Map<String, Value> {
        static TEMPLATES: OnceLock<[serde_json::Map<String, Value>; 9]> = OnceLock::new();
        let all = TEMPLATES.get_or_init(|| Resource::ALL.map(|r| parse_template(template_text(r))));
        // `ALL` lists the variants in declaration order, so the discriminant is the index.
        &all[self as usize]
    }

    /// Whether `id` is served as a JSON string (only appointments) rather than an integer.
    pub fn string_ids(self) -> bool {
        self == Resource::Appointments
    }
}

impl std::fmt::Display for Resource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.path())
    }
}

fn template_text(r: Resource) -> &'static str {
    match r {
        Resource::Doctors => include_str!("templates/doctor.json"),
        Resource::Offices => include_str!("templates/office.json"),
        Resource::Patients => include_str!("templates/patient.json"),
        Resource::Appointments => include_str!("templates/appointment.json"),
        Resource::ClinicalNotes => include_str!("templates/clinical_note.json"),
        Resource::Medications => include_str!("templates/medication.json"),
        Resource::Problems => include_str!("templates/problem.json"),
        Resource::Allergies => include_str!("templates/allergy.json"),
        Resource::LineItems => include_str!("templates/line_item.json"),
    }
}

fn parse_template(text: &str) -> serde_json::Map<String, Value> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    }
}

/// The position of a record in list order: appointments sort by `scheduled_time` then id,
/// everything else by id. Numeric ids sort numerically, before non-numeric ones.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SortKey {
    /// `scheduled_time` for appointments, empty otherwise.
    pub time: String,
    /// The id as a number, or `u64::MAX` when it is not numeric.
    pub num: u64,
    /// The id as text, the final tie-breaker.
    pub id: String,
}

impl SortKey {
    /// Computes the sort key of a record of `resource`.
    pub fn of(resource: Resource, record: &Value) -> SortKey {
        let id = record_id(record).unwrap_or_default();
        let time = if resource == Resource::Appointments {
            record
                .get("scheduled_time")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        } else {
            String::new()
        };
        SortKey {
            time,
            num: id.parse().unwrap_or(u64::MAX),
            id,
        }
    }
}

/// The `id` of a record as text (integers are rendered in decimal).
pub fn record_id(record: &Value) -> Option<String> {
    match record.get("id")? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_round_trip() {
        for r in Resource::ALL {
            assert_eq!(Resource::from_path(r.path()), Some(r));
            assert!(!r.template().is_empty(), "{r} template is empty");
        }
        assert_eq!(Resource::from_path("nope"), None);
    }

    #[test]
    fn sort_keys_order_numeric_ids_numerically() {
        let a = SortKey::of(Resource::Patients, &serde_json::json!({"id": 9}));
        let b = SortKey::of(Resource::Patients, &serde_json::json!({"id": 10}));
        assert!(a < b);
        let c = SortKey::of(Resource::Appointments, &serde_json::json!({"id": "1_x"}));
        assert_eq!(c.num, u64::MAX);
    }
}
