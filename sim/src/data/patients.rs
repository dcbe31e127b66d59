//! Patients, with their insurance objects nested inside the record as DrChrono does.
//!
//! Insurance is one of the spec's `x-verbose-required` fields: the full record always carries
//! `primary_insurance`, `secondary_insurance` and `tertiary_insurance` (plus auto-accident and
//! workers' comp), and the server strips them unless `verbose=true`. A patient without a given
//! insurance gets the object with every field empty (`""`, `is_subscriber_the_patient: true`),
//! never a missing key or `null`, because the serializer always renders the nested object.

use chrono::{Duration, NaiveDateTime};
use serde_json::{Value, json};

use super::SplitMix64;
use super::names::{CITIES, FIRST_NAMES, INSURERS, MIDDLE_NAMES, PLAN_TYPES, STREETS};
use super::record::{Ids, Record, between, blank, phone, put};
use super::resource::Resource;
use super::time::{fmt_date, fmt_datetime};

/// What the visit and chart generators need to know about a patient.
#[derive(Debug, Clone)]
pub(super) struct PatientFacts {
    /// The patient id.
    pub id: u64,
    /// The patient's doctor.
    pub doctor: u64,
    /// The patient's office.
    pub office: u64,
    /// When the chart was created; everything else about the patient happens later.
    pub created: NaiveDateTime,
    /// The fake last name, e.g. `Zzpatient0042`.
    pub last_name: String,
    /// The primary insurer `(name, payer id, member id)`, if the patient has one.
    pub insurer: Option<(String, String, String)>,
}

/// Generates patient number `index` (0-based). The record is returned unfinished: the caller
/// fills in the appointment dates, then stamps `updated_at`.
pub(super) fn patient(
    rng: &mut SplitMix64,
    ids: &mut Ids,
    index: usize,
    doctor: u64,
    office: u64,
    anchor: NaiveDateTime,
) -> (Record, PatientFacts) {
    let id = ids.take(Resource::Patients);
    let first = rng.pick(FIRST_NAMES).copied().unwrap_or("Testy");
    let last = format!("Zzpatient{:04}", index + 1);
    let created = between(
        rng,
        anchor - Duration::days(1100),
        anchor - Duration::days(30),
    );
    let dob = (anchor - Duration::days(rng.range(18 * 365, 85 * 365))).date();
    let gender = pick_weighted(rng, &[("Female", 45), ("Male", 45), ("Other", 5), ("", 5)]);
    let (city, state) = rng.pick(CITIES).copied().unwrap_or(("Testville", "CA"));
    let address = format!(
        "{} {}",
        rng.range(1, 9999),
        rng.pick(STREETS).copied().unwrap_or_default()
    );
    let zip = format!("99{:03}", rng.below(1000));
    let status = pick_weighted(rng, &[("A", 85), ("I", 12), ("D", 3)]);

    let who = Subscriber {
        first,
        last: &last,
        dob: &fmt_date(dob),
        gender,
        address: &address,
        city,
        state,
        zip: &zip,
    };
    let has_primary = rng.chance(0.8);
    let has_secondary = has_primary && rng.chance(0.3);
    let has_tertiary = has_secondary && rng.chance(0.2);
    let primary = insurance(rng, has_primary, &who);
    let insurer = has_primary.then(|| {
        let text = |k: &str| {
            primary
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        (
            text("insurance_company"),
            text("insurance_payer_id"),
            text("insurance_id_number"),
        )
    });

    let mut r = blank(Resource::Patients);
    put(
        &mut r,
        [
            ("id", json!(id)),
            ("address", json!(address)),
            ("cell_phone", json!(phone(rng))),
            ("chart_id", json!(format!("ZZ{:06}", index + 1))),
            ("city", json!(city)),
            ("created_at", json!(fmt_datetime(created))),
            ("date_of_birth", json!(fmt_date(dob))),
            ("date_of_death", Value::Null),
            ("date_of_first_appointment", Value::Null),
            ("date_of_last_appointment", Value::Null),
            ("doctor", json!(doctor)),
            (
                "email",
                json!(format!("{}@example.invalid", last.to_lowercase())),
            ),
            (
                "ethnicity",
                json!(pick_weighted(
                    rng,
                    &[
                        ("not_hispanic", 60),
                        ("hispanic", 20),
                        ("blank", 15),
                        ("declined", 5)
                    ]
                )),
            ),
            ("first_name", json!(first)),
            ("gender", json!(gender)),
            (
                "home_phone",
                json!(if rng.chance(0.3) {
                    phone(rng)
                } else {
                    String::new()
                }),
            ),
            ("last_name", json!(last)),
            (
                "middle_name",
                json!(if rng.chance(0.3) {
                    rng.pick(MIDDLE_NAMES).copied().unwrap_or_default()
                } else {
                    ""
                }),
            ),
            ("offices", json!([office])),
            (
                "patient_payment_profile",
                json!(if has_primary { "Insurance" } else { "Cash" }),
            ),
            ("patient_status", json!(status)),
            (
                "preferred_language",
                json!(pick_weighted(
                    rng,
                    &[("eng", 80), ("spa", 12), ("blank", 8)]
                )),
            ),
            ("primary_insurance", Value::Object(primary)),
            (
                "race",
                json!(pick_weighted(
                    rng,
                    &[
                        ("white", 40),
                        ("black", 15),
                        ("asian", 10),
                        ("blank", 30),
                        ("declined", 5)
                    ]
                )),
            ),
            (
                "secondary_insurance",
                Value::Object(insurance(rng, has_secondary, &who)),
            ),
            ("state", json!(state)),
            (
                "tertiary_insurance",
                Value::Object(insurance(rng, has_tertiary, &who)),
            ),
            ("zip_code", json!(zip)),
        ],
    );
    let facts = PatientFacts {
        id,
        doctor,
        office,
        created,
        last_name: last,
        insurer,
    };
    (r, facts)
}

/// The person an insurance policy is written for (the patient, in the simulator).
struct Subscriber<'a> {
    first: &'a str,
    last: &'a str,
    dob: &'a str,
    gender: &'a str,
    address: &'a str,
    city: &'a str,
    state: &'a str,
    zip: &'a str,
}

/// An insurance object: the template's all-empty object when `present` is false.
fn insurance(rng: &mut SplitMix64, present: bool, who: &Subscriber<'_>) -> Record {
    let Some(Value::Object(mut ins)) = Resource::Patients
        .template()
        .get("primary_insurance")
        .cloned()
    else {
        return Record::new();
    };
    if !present {
        return ins;
    }
    let (company, payer) = rng
        .pick(INSURERS)
        .copied()
        .unwrap_or(("Acme Sim Health", "SIM01"));
    put(
        &mut ins,
        [
            ("insurance_claim_office_number", json!(phone(rng))),
            ("insurance_company", json!(company)),
            ("insurance_group_name", json!("Sim Employer Group")),
            (
                "insurance_group_number",
                json!(format!("G{:05}", rng.below(100_000))),
            ),
            (
                "insurance_id_number",
                json!(format!("SIM{:09}", rng.below(1_000_000_000))),
            ),
            ("insurance_payer_id", json!(payer)),
            ("insurance_plan_name", json!("Sim PPO")),
            (
                "insurance_plan_type",
                json!(rng.pick(PLAN_TYPES).copied().unwrap_or_default()),
            ),
            ("is_subscriber_the_patient", json!(true)),
            ("subscriber_address", json!(who.address)),
            ("subscriber_city", json!(who.city)),
            ("subscriber_country", json!("US")),
            ("subscriber_date_of_birth", json!(who.dob)),
            ("subscriber_first_name", json!(who.first)),
            ("subscriber_gender", json!(who.gender)),
            ("subscriber_last_name", json!(who.last)),
            ("subscriber_state", json!(who.state)),
            ("subscriber_zip_code", json!(who.zip)),
        ],
    );
    ins
}

/// Picks a value with integer weights; the first value if all weights are zero.
pub(super) fn pick_weighted<'a>(rng: &mut SplitMix64, choices: &[(&'a str, u64)]) -> &'a str {
    let total: u64 = choices.iter().map(|(_, w)| w).sum();
    let mut roll = rng.below(total);
    for (value, weight) in choices {
        if roll < *weight {
            return value;
        }
        roll -= weight;
    }
    choices.first().map(|(v, _)| *v).unwrap_or_default()
}
