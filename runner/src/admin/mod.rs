//! The admin dashboard for on-call staff: server-rendered pages under `/admin`, served by
//! `runner serve` (the `api` role in GCP, behind IAP), readable without JavaScript.
//!
//! | route | page | who |
//! |---|---|---|
//! | `GET /admin` | sync health (`health`) | every role |
//! | `GET /admin/failures`, `POST .../inbox/{id}/replay`, `.../inbox/replay-all`, `.../outbox/{id}/retry`, `.../outbox/retry-all`, `.../sync/{pipeline}/run` | failures (`failures`) | every role sees; admins act |
//! | `GET /admin/review`, `POST /admin/review/{rule}/{id}/link`, `.../dismiss` | review queue (`review`) | admin, clinician, viewer see; admins act |
//! | `GET /admin/audit`, `/admin/audit/{table}/{id}`, `/admin/audit/patients/{id}/disclosures.csv` | audit trail (`audit`, `disclosures`) | admin, viewer |
//! | `GET /admin/access` | access log (`access`) | admin, viewer |
//!
//! Every request is authenticated (`auth`: IAP's signed header, ES256, or a loopback-only dev
//! user) and authorised from `staff_roles` before anything else is read. Every POST carries a
//! single-use form token (`csrf`). Every view of patient data writes an `access_log` row
//! (`trail`). Patient data appears in page bodies only: never in a URL's query string, a log
//! line or a metric. Templates and the stylesheet are embedded in the binary (`view`).

mod access;
mod audit;
mod auth;
mod chart;
mod csrf;
mod disclosures;
mod failures;
mod health;
mod iap;
mod requests;
mod review;
mod review_sql;
mod trail;
mod view;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};

use crate::app::AppState;

pub use audit::{
    Filter as AuditFilter, ListPage as AuditPage, load as load_audit, page_data as audit_page_data,
};
pub use auth::{AdminArgs, AdminArgsError, AdminAuth, Page, Staff, StaffRole, staff_role};
pub use disclosures::{records as patient_records, report as disclosure_report};
pub use health::{Health, Status, load as load_health};
pub use iap::{IAP_HEADER, IAP_ISSUER, IAP_JWKS_URL, IapClaims, IapConfig, IapError, IapVerifier};
pub use requests::{REQUEST_POLL, run_requests, spawn_request_worker};
pub use trail::SYSTEM as DASHBOARD_SYSTEM;

/// The `/admin` routes, with the dashboard's response headers.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin", get(health::page))
        .route("/admin/", get(health::page))
        .route("/admin/static/admin.css", get(stylesheet))
        .route("/admin/failures", get(failures::page))
        .route("/admin/failures/inbox/{id}/replay", post(failures::one))
        .route("/admin/failures/inbox/replay-all", post(failures::all))
        .route("/admin/failures/outbox/{id}/retry", post(failures::one))
        .route("/admin/failures/outbox/retry-all", post(failures::all))
        .route(
            "/admin/failures/sync/{pipeline}/run",
            post(failures::run_again),
        )
        .route("/admin/review", get(review::page))
        .route("/admin/review/{rule}/{id}/link", post(review::link))
        .route("/admin/review/{rule}/{id}/dismiss", post(review::dismiss))
        .route("/admin/audit", get(audit::page))
        .route(
            "/admin/audit/patients/{id}/disclosures.csv",
            get(disclosures::export),
        )
        .route("/admin/audit/{table}/{id}", get(audit::record))
        .route("/admin/access", get(access::page))
        .layer(axum::middleware::map_response(view::page_headers))
}

/// The stylesheet: a constant, but still only for signed-in staff (like every `/admin` path).
async fn stylesheet(_staff: Staff) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "private, max-age=3600"),
        ],
        view::STYLESHEET,
    )
}
