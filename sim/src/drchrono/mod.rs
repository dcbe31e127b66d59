//! A faithful local double of the DrChrono REST API v4 ("Hunt Valley").
//!
//! What it serves, and the choices made where the spec is silent (see also `apis.md` §1):
//!
//! - `POST /o/token/`: refresh and authorization-code grants. Refresh tokens rotate: each use
//!   returns a new one and revokes the old one and its access token (django-oauth-toolkit).
//!   Errors: 401 `{"error":"invalid_client"}`, 400 `{"error":"invalid_grant"}` and friends.
//! - `GET /api/{doctors,offices,patients,appointments,clinical_notes,medications,problems,
//!   allergies,line_items}` and `/{id}`, bearer-authenticated, as
//!   `{"previous","next","results"}` with opaque cursors and absolute links (see `page`).
//!   Page size: default 100; capped (silently, as DRF does) at 25 with `verbose=true`
//!   (patients, appointments) and at 250 everywhere else (the OpenAPI maximum of appointments,
//!   and DrChrono's stated limit of its plain listings); unusable values fall back to the
//!   default.
//! - Filters exactly where the spec declares them (`params`); undeclared parameters are
//!   ignored, so `since` does nothing on medications, problems and allergies.
//! - Appointments need `since`, `occurred_since`, `date` or `date_range` (≤ 190 days).
//!   Soft-deleted ones (`deleted_flag`) are listed only with `show_archived=true`.
//! - Throttles (hourly budget + burst), seeded 500s and delays, counters, and `/_sim/*`
//!   control endpoints (`control`).
//! - JSON types follow the spec, including its string-typed read-only references
//!   (`ClinicalNote.patient`/`appointment`, `BillingLineItem.patient`/`doctor`,
//!   `Office.doctor`) and string appointment ids.
//! - Not simulated: writes through `/api/*` (405), `/api/patients_list` (a batch request
//!   flow), `/api/line_item_deletions`, webhooks.

mod api;
mod auth;
mod clock;
mod config;
mod control;
mod error;
mod faults;
mod gate;
mod mutate;
mod page;
mod params;
mod query;
mod rate;
mod server;
mod state;
mod stats;
mod store;
mod token;

pub use auth::TokenResponse;
pub use config::{DrChronoConfig, FaultConfig, RateLimitConfig};
pub use error::{ApiError, SimError};
pub use gate::ListGate;
pub use params::MAX_DATE_RANGE_DAYS;
pub use query::{APPOINTMENTS_MAX_PAGE, DEFAULT_MAX_PAGE, VERBOSE_MAX_PAGE};
pub use server::{DrChronoHandle, DrChronoSim, router};
pub use state::DrChronoState;
pub use stats::SimStats;
