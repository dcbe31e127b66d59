//! The generated clinic: every table, built deterministically from a seed.

use chrono::{Duration, NaiveDate, NaiveDateTime};
use serde_json::{Value, json};

use super::SplitMix64;
use super::chart::{allergies, choose_problems, medications, problem_codes, problems};
use super::patients::patient;
use super::people::{doctors, offices};
use super::record::{Ids, between, finish};
use super::resource::{Resource, SortKey};
use super::time::{fmt_date, midnight, parse_datetime, today_utc};
use super::visits::visits;

/// A generated practice: doctors, offices, patients and their clinical and billing records.
///
/// Every timestamp of change (`created_at`, `updated_at`) lies before midnight at the start of
/// the anchor date, so anything a simulator changes later, at the real current time, is
/// strictly newer. Only future appointments' `scheduled_time` lies after the anchor.
#[derive(Debug, Clone, PartialEq)]
pub struct Clinic {
    seed: u64,
    anchor: NaiveDate,
    tables: [Vec<Value>; 9],
}

impl Clinic {
    /// Generates a clinic anchored at today's date (UTC). The same seed gives the same data
    /// on the same day; use [`Clinic::generate_at`] for data that never changes.
    pub fn generate(seed: u64, patients: usize) -> Clinic {
        Clinic::generate_at(seed, patients, today_utc())
    }

    /// Generates a clinic with `patients` patients and `max(2, patients / 200)` doctors,
    /// anchored at `anchor` (the day the data was "exported").
    pub fn generate_at(seed: u64, patients: usize, anchor: NaiveDate) -> Clinic {
        Clinic::generate_only(seed, patients, anchor, &Resource::ALL)
    }

    /// Like [`Clinic::generate_at`], but keeps only the `keep` tables. Records are identical
    /// to those of the full clinic; the others are generated and dropped patient by patient,
    /// so a benchmark can serve 200,000 patients without holding millions of visits.
    pub fn generate_only(
        seed: u64,
        patients: usize,
        anchor: NaiveDate,
        keep: &[Resource],
    ) -> Clinic {
        let t0 = midnight(anchor);
        let mut ids = Ids::new();
        let mut practice = SplitMix64::derive(seed, 0);
        let n_doctors = (patients / 200).max(2);
        let n_offices = n_doctors.div_ceil(2);
        let mut tables: [Vec<Value>; 9] = Default::default();
        let doctor_rows = doctors(&mut practice, &mut ids, n_doctors, t0);
        let doctor_ids: Vec<u64> = doctor_rows
            .iter()
            .filter_map(|d| d["id"].as_u64())
            .collect();
        let office_rows = offices(&mut practice, &mut ids, n_offices, &doctor_ids, t0);
        let office_ids: Vec<u64> = office_rows
            .iter()
            .filter_map(|o| o["id"].as_u64())
            .collect();
        tables[Resource::Doctors as usize] = doctor_rows;
        tables[Resource::Offices as usize] = office_rows;

        for index in 0..patients {
            let mut rng = SplitMix64::derive(seed, index as u64 + 1);
            let which = rng.below(n_doctors as u64) as usize;
            let doctor = doctor_ids.get(which).copied().unwrap_or_default();
            let office = office_ids
                .get(which % n_offices)
                .copied()
                .unwrap_or_default();
            let (mut record, facts) = patient(&mut rng, &mut ids, index, doctor, office, t0);
            let chosen = choose_problems(&mut rng);
            let v = visits(&mut rng, &mut ids, &facts, &problem_codes(&chosen), t0);
            record.insert(
                "date_of_first_appointment".into(),
                json!(v.first_date.map(fmt_date)),
            );
            record.insert(
                "date_of_last_appointment".into(),
                json!(v.last_past_date.map(fmt_date)),
            );
            let updated = between(&mut rng, facts.created, t0 - Duration::seconds(1));
            tables[Resource::Patients as usize].push(finish(Resource::Patients, record, updated));
            let chart_problems =
                problems(&mut rng, &mut ids, &facts, &chosen, v.first_completed, t0);
            let meds = medications(&mut rng, &mut ids, &facts, v.first_completed, t0);
            let allergy_rows = allergies(&mut rng, &mut ids, &facts, t0);
            tables[Resource::Appointments as usize].extend(v.appointments);
            tables[Resource::ClinicalNotes as usize].extend(v.notes);
            tables[Resource::LineItems as usize].extend(v.line_items);
            tables[Resource::Problems as usize].extend(chart_problems);
            tables[Resource::Medications as usize].extend(meds);
            tables[Resource::Allergies as usize].extend(allergy_rows);
            for r in Resource::ALL {
                if !keep.contains(&r) {
                    tables[r as usize].clear();
                }
            }
        }
        for r in Resource::ALL {
            tables[r as usize].sort_by_cached_key(|v| SortKey::of(r, v));
        }
        Clinic {
            seed,
            anchor,
            tables,
        }
    }

    /// The seed the clinic was generated from.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The anchor date: all generated change timestamps are before its midnight.
    pub fn anchor(&self) -> NaiveDate {
        self.anchor
    }

    /// Every record of a resource in list order (appointments by `scheduled_time` then id,
    /// the rest by id), in full form: verbose-only fields included, soft-deleted
    /// appointments included.
    pub fn records(&self, resource: Resource) -> &[Value] {
        &self.tables[resource as usize]
    }

    /// The record of `resource` whose id renders as `id`.
    pub fn record(&self, resource: Resource, id: &str) -> Option<&Value> {
        self.records(resource)
            .iter()
            .find(|v| super::resource::record_id(v).as_deref() == Some(id))
    }

    /// The latest `updated_at` over all tables.
    pub fn latest_updated_at(&self) -> Option<NaiveDateTime> {
        self.tables
            .iter()
            .flatten()
            .filter_map(|v| {
                v.get("updated_at")
                    .and_then(Value::as_str)
                    .and_then(parse_datetime)
            })
            .max()
    }

    /// Consumes the clinic into `(resource, records)` pairs.
    pub fn into_tables(self) -> Vec<(Resource, Vec<Value>)> {
        Resource::ALL.into_iter().zip(self.tables).collect()
    }
}
