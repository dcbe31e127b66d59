//! The deterministic clinic data generator.
//!
//! [`Clinic::generate`] builds doctors, offices, patients and, per patient, appointments,
//! clinical notes, medications, problems, allergies and billing line items, with the exact
//! field names of the DrChrono v4 spec schemas (see `templates/`, generated from the spec).
//! Names are obviously fake (`Zzpatient0042`, `Zzdoctor01`) so they are easy to grep for.
//!
//! Every record also carries `updated_at` (even where the spec schema omits it) and the
//! extra field [`EXTRA_FIELD`], which clients must ignore.

mod chart;
mod clinic;
mod names;
mod patients;
mod people;
mod record;
mod resource;
mod rng;
pub mod time;
mod visits;

pub use clinic::Clinic;
pub use record::{EXTRA_FIELD, extra_field_value, first_id};
pub use resource::{Resource, SortKey, record_id};
pub use rng::SplitMix64;

#[cfg(test)]
mod tests;
