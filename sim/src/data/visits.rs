//! Appointments and what hangs off them: clinical notes and billing line items.
//!
//! Appointments spread over the two years before the anchor and four weeks after it, so a
//! client needs several 190-day `date_range` windows to see them all. Past appointments are
//! mostly `Complete`; most completed ones get a clinical note and one or two CPT line items.
//! About 2% are soft-deleted (`deleted_flag: true`, hidden unless `show_archived=true`), and
//! about 5% of future ones are virtual recurring instances whose id is not numeric
//! (`"<root id>_<YYYYMMDD>"`), which the spec warns can happen.

use chrono::{Duration, NaiveDate, NaiveDateTime, NaiveTime};
use serde_json::{Value, json};

use super::SplitMix64;
use super::names::{PROCEDURES, REASONS};
use super::patients::{PatientFacts, pick_weighted};
use super::record::{Ids, Record, between, blank, dollars, dollars_text, finish, put};
use super::resource::Resource;
use super::time::{fmt_date, fmt_datetime};

/// Everything generated for one patient's visits.
#[derive(Debug, Default)]
pub(super) struct Visits {
    /// Appointment records, in scheduled order.
    pub appointments: Vec<Value>,
    /// Clinical notes, one per documented completed appointment.
    pub notes: Vec<Value>,
    /// Billing line items of completed appointments.
    pub line_items: Vec<Value>,
    /// Date of the first appointment, if any.
    pub first_date: Option<NaiveDate>,
    /// Date of the last appointment before the anchor, if any.
    pub last_past_date: Option<NaiveDate>,
    /// Id of the first completed appointment, for chart entries to point at.
    pub first_completed: Option<u64>,
}

/// Generates 0 to 6 appointments for a patient, plus their notes and line items.
/// `codes` are the patient's ICD-10 codes, used for `icd10_codes` of completed visits.
pub(super) fn visits(
    rng: &mut SplitMix64,
    ids: &mut Ids,
    p: &PatientFacts,
    codes: &[&str],
    anchor: NaiveDateTime,
) -> Visits {
    let start = (p.created + Duration::days(1)).max(anchor - Duration::days(730));
    let end = anchor + Duration::days(28);
    let mut times: Vec<NaiveDateTime> = (0..rng.below(7))
        .map(|_| {
            let day = between(rng, start, end).date();
            let clock =
                NaiveTime::from_hms_opt(8 + rng.below(9) as u32, 15 * rng.below(4) as u32, 0);
            day.and_time(clock.unwrap_or(NaiveTime::MIN))
        })
        .collect();
    times.sort();

    let mut out = Visits::default();
    for at in times {
        let past = at < anchor;
        out.first_date.get_or_insert(at.date());
        if past {
            out.last_past_date = Some(at.date());
        }
        let status = if past {
            pick_weighted(
                rng,
                &[
                    ("Complete", 78),
                    ("Cancelled", 10),
                    ("No Show", 7),
                    ("Rescheduled", 5),
                ],
            )
        } else {
            pick_weighted(rng, &[("Confirmed", 50), ("Not Confirmed", 30), ("", 20)])
        };
        let numeric = ids.take(Resource::Appointments);
        let virtual_instance = !past && rng.chance(0.05);
        let id = if virtual_instance {
            format!("{numeric}_{}", at.format("%Y%m%d"))
        } else {
            numeric.to_string()
        };
        let duration = *rng.pick(&[30i64, 45, 60]).unwrap_or(&30);
        let created = (at - Duration::days(rng.range(1, 60)))
            .max(p.created)
            .min(anchor - Duration::days(1));
        let updated = if past {
            let done = at + Duration::minutes(duration);
            between(rng, done, done + Duration::days(3)).min(anchor - Duration::seconds(1))
        } else {
            between(rng, created, anchor - Duration::seconds(1))
        };
        let completed = status == "Complete";
        let note =
            (completed && rng.chance(0.9)).then(|| note(rng, ids, p, &id, at, duration, anchor));
        let mut r = appointment(rng, p, &id, at, duration, status, created);
        if completed {
            let icd: Vec<&str> = codes.iter().take(2).copied().collect();
            put(
                &mut r,
                [
                    ("icd10_codes", json!(icd)),
                    ("billing_status", json!("Bill Insurance")),
                ],
            );
            out.first_completed.get_or_insert(numeric);
            for _ in 0..rng.range(1, 2) {
                out.line_items
                    .push(line_item(rng, ids, p, numeric, at, anchor));
            }
        }
        if virtual_instance {
            put(
                &mut r,
                [
                    ("base_recurring_appointment", json!(numeric.to_string())),
                    ("recurrence_instance_key", json!(id)),
                    ("recurring_appointment", json!(true)),
                    ("recurring_days", json!([at.format("%A").to_string()])),
                    ("recurs_every", json!(1)),
                ],
            );
        }
        let note_summary = note.as_ref().map(
            |n| json!({"locked": n["locked"], "pdf": n["pdf"], "updated_at": n["updated_at"]}),
        );
        put(
            &mut r,
            [
                ("clinical_note", note_summary.unwrap_or(Value::Null)),
                ("extended_updated_at", json!(fmt_datetime(updated))),
            ],
        );
        out.notes.extend(note);
        out.appointments
            .push(finish(Resource::Appointments, r, updated));
    }
    out
}

/// The appointment record without its timestamps of change.
fn appointment(
    rng: &mut SplitMix64,
    p: &PatientFacts,
    id: &str,
    at: NaiveDateTime,
    duration: i64,
    status: &str,
    created: NaiveDateTime,
) -> Record {
    let (insurer, payer, member) = p.insurer.clone().unwrap_or_default();
    let mut r = blank(Resource::Appointments);
    put(
        &mut r,
        [
            ("id", json!(id)),
            ("color", json!("#5B9BD5")),
            ("created_at", json!(fmt_datetime(created))),
            ("created_by", json!("sim_frontdesk")),
            ("deleted_flag", json!(rng.chance(0.02))),
            ("doctor", json!(p.doctor)),
            ("duration", json!(duration)),
            ("exam_room", json!(rng.range(1, 3))),
            (
                "notes",
                json!(if rng.chance(0.3) {
                    "Simulated scheduling note."
                } else {
                    ""
                }),
            ),
            ("office", json!(p.office)),
            ("patient", json!(p.id)),
            ("primary_insurance_id_number", json!(member)),
            ("primary_insurer_name", json!(insurer)),
            ("primary_insurer_payer_id", json!(payer)),
            (
                "reason",
                json!(rng.pick(REASONS).copied().unwrap_or_default()),
            ),
            ("scheduled_time", json!(fmt_datetime(at))),
            ("status", json!(status)),
        ],
    );
    r
}

/// A clinical note. The spec's `ClinicalNote` declares no `id`; the simulator gives each note
/// its own integer id (so `/api/clinical_notes/{id}` has something to address) and adds the
/// `locked`, `pdf` and `updated_at` fields that real responses carry.
fn note(
    rng: &mut SplitMix64,
    ids: &mut Ids,
    p: &PatientFacts,
    appointment: &str,
    at: NaiveDateTime,
    duration: i64,
    anchor: NaiveDateTime,
) -> Value {
    let id = ids.take(Resource::ClinicalNotes);
    let locked = rng.chance(0.8);
    let done = at + Duration::minutes(duration);
    let updated = between(rng, done, done + Duration::days(10)).min(anchor - Duration::seconds(1));
    let section = |name: &str, field: u64, text: String| {
        json!({
            "clinical_note_template": 9001,
            "name": name,
            "values": [{"clinical_note_field": field, "id": id * 10 + field % 10, "value": text}],
        })
    };
    // The template has no `id`; put it first, as in every other resource.
    let mut r = Record::from_iter([("id".to_owned(), json!(id))]);
    r.extend(blank(Resource::ClinicalNotes));
    put(
        &mut r,
        [
            // The spec declares these read-only references as strings.
            ("appointment", json!(appointment)),
            ("archived", json!(false)),
            (
                "clinical_note_sections",
                json!([
                    section(
                        "Subjective",
                        5001,
                        format!("Simulated narrative for {}.", p.last_name)
                    ),
                    section("Plan", 5002, "Continue simulated care plan.".to_owned()),
                ]),
            ),
            ("patient", json!(p.id.to_string())),
            (
                "signee",
                json!({"locked_by": if locked { format!("zzdoctor_{}", p.doctor) } else { String::new() }, "supervisor_locked_by": ""}),
            ),
            ("locked", json!(locked)),
            (
                "pdf",
                json!(format!(
                    "https://sim.drchrono.invalid/clinical_notes/{id}.pdf"
                )),
            ),
        ],
    );
    finish(Resource::ClinicalNotes, r, updated)
}

/// A CPT billing line item for a completed appointment.
fn line_item(
    rng: &mut SplitMix64,
    ids: &mut Ids,
    p: &PatientFacts,
    appointment: u64,
    at: NaiveDateTime,
    anchor: NaiveDateTime,
) -> Value {
    let id = ids.take(Resource::LineItems);
    let (code, description, price) = rng
        .pick(PROCEDURES)
        .copied()
        .unwrap_or(("90837", "", 180.0));
    let billed = (price * 100.0).round() as i64;
    let allowed = billed * 8 / 10;
    let ins_paid = if p.insurer.is_some() && rng.chance(0.7) {
        allowed * 8 / 10
    } else {
        0
    };
    let pt_paid = if rng.chance(0.6) {
        allowed - ins_paid
    } else {
        0
    };
    let balance_pt = allowed - ins_paid - pt_paid;
    let posted = (at + Duration::days(rng.range(0, 3))).min(anchor - Duration::seconds(1));
    let updated =
        between(rng, posted, posted + Duration::days(30)).min(anchor - Duration::seconds(1));
    let status = if balance_pt == 0 {
        "Paid in Full"
    } else {
        "Partially Paid"
    };
    let mut r = blank(Resource::LineItems);
    put(
        &mut r,
        [
            ("id", json!(id)),
            ("adjustment", dollars(billed - allowed)),
            ("allowed", dollars(allowed)),
            ("appointment", json!(appointment)),
            ("balance_ins", dollars(0)),
            ("balance_pt", dollars(balance_pt)),
            ("balance_total", dollars_text(balance_pt)),
            ("billed", dollars(billed)),
            ("billing_status", json!(status)),
            ("code", json!(code)),
            ("description", json!(description)),
            ("diagnosis_pointers", json!(["1", "", "", ""])),
            // The spec declares these read-only references as strings.
            ("doctor", json!(p.doctor.to_string())),
            ("expected_reimbursement", dollars(allowed)),
            ("ins1_paid", dollars(ins_paid)),
            ("ins2_paid", dollars(0)),
            ("ins3_paid", dollars(0)),
            ("ins_total", dollars_text(ins_paid)),
            ("modifiers", json!(["", "", "", ""])),
            ("paid_total", dollars_text(ins_paid + pt_paid)),
            ("patient", json!(p.id.to_string())),
            ("posted_date", json!(fmt_date(posted.date()))),
            ("price", dollars(billed)),
            ("procedure_type", json!("C")),
            ("pt_paid", dollars(pt_paid)),
            ("quantity", json!(1.0)),
            ("service_date", json!(fmt_date(at.date()))),
            ("units", json!("UN")),
        ],
    );
    finish(Resource::LineItems, r, updated)
}
