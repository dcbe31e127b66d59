//! Shared by the admin tests and the browser tests (`tests/browser.rs` includes this file): a
//! seeded clinic, staff of every role, and in-process GET and POST with the dev user standing in
//! for IAP.

#![allow(dead_code)]

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use runner::admin::AdminAuth;
use runner::config::Plan;
use runner::server::{AppState, router};
use sqlx::PgPool;
use tower::ServiceExt;
use uuid::Uuid;

use crate::common;

pub(crate) const ADMIN: &str = "oncall@clinic.example";
pub(crate) const VIEWER: &str = "auditor@clinic.example";
pub(crate) const CLINICIAN: &str = "doctor@clinic.example";
pub(crate) const FRONT_DESK: &str = "desk@clinic.example";
pub(crate) const BILLING: &str = "billing@clinic.example";
pub(crate) const INACTIVE: &str = "former@clinic.example";
pub(crate) const STRANGER: &str = "visitor@clinic.example";

/// The patient's name and birth date: what may appear in page bodies only.
pub(crate) const PHI: [&str; 3] = ["Zebulon", "Quartzfield", "1970-01-02"];

/// What [`seed`] made.
#[derive(Debug, Clone, Copy)]
pub(crate) struct World {
    pub patient: Uuid,
    pub appointment: Uuid,
    /// The clinical note of the appointment.
    pub note: Uuid,
    /// Another clinical note of the same patient.
    pub other_note: Uuid,
    /// The Deep Cura note waiting for review (it names an appointment nobody has).
    pub review: Uuid,
}

/// The shipped plan (DrChrono and Coda are never called).
pub(crate) fn plan() -> Plan {
    common::plan("http://127.0.0.1:9")
}

/// The app state for `pool`, signed in as `email`.
pub(crate) fn state_as(pool: &PgPool, plan: Plan, email: &str) -> AppState {
    let mut s = AppState::new(pool.clone(), Arc::new(plan));
    s.admin = AdminAuth::dev_user(email);
    s
}

/// The router signed in as `email`.
pub(crate) fn app_as(pool: &PgPool, email: &str) -> Router {
    router(state_as(pool, plan(), email))
}

/// Runs `sql` (several statements allowed) under audit actor `actor`.
pub(crate) async fn exec_as(pool: &PgPool, actor: &str, sql: &str) {
    let mut tx = pool.begin().await.unwrap();
    runner::store::set_actor(&mut tx, actor).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(&mut *tx)
        .await
        .unwrap_or_else(|e| panic!("{e}: {sql}"));
    tx.commit().await.unwrap();
}

/// Staff of every role, one inactive admin, a patient with an appointment and two clinical
/// notes, a Deep Cura note the link rules send to review, a failed and a successful run.
pub(crate) async fn seed(pool: &PgPool) -> World {
    let id = |s: &str| Uuid::parse_str(s).unwrap();
    let w = World {
        patient: id("10000000-0000-4000-8000-000000000001"),
        appointment: id("20000000-0000-4000-8000-000000000001"),
        note: id("30000000-0000-4000-8000-000000000001"),
        other_note: id("30000000-0000-4000-8000-000000000002"),
        review: id("40000000-0000-4000-8000-000000000001"),
    };
    exec_as(
        pool,
        "test-setup",
        &format!(
            "insert into staff_roles (email, role, active) values
               ('{ADMIN}', 'admin', true), ('{VIEWER}', 'viewer', true),
               ('{CLINICIAN}', 'clinician', true), ('{FRONT_DESK}', 'front_desk', true),
               ('{BILLING}', 'billing', true), ('{INACTIVE}', 'admin', false);
             insert into patients (id, drchrono_id, first_name, last_name, date_of_birth, drchrono_raw)
               values ('{p}', 501, '{n0}', '{n1}', '{n2}', '{{}}');
             insert into appointments (id, drchrono_id, drchrono_patient_id, patient_id, scheduled_date, drchrono_raw)
               values ('{a}', '9001', 501, '{p}', '2026-03-01', '{{}}');
             insert into clinical_notes (id, drchrono_id, drchrono_appt_id, appointment_id, drchrono_patient_id, patient_id, drchrono_raw)
               values ('{c1}', '9001', '9001', '{a}', 501, '{p}', '{{}}'),
                      ('{c2}', '9002', '9002', null, 501, '{p}', '{{}}');
             insert into deepcura_notes (id, drchrono_appt_id, drchrono_patient_id, patient_id, session_date, subjective, deepcura_raw)
               values ('{d}', '7777', 501, '{p}', '2026-03-01', '{n0} reports feeling better', '{{}}');",
            p = w.patient,
            a = w.appointment,
            c1 = w.note,
            c2 = w.other_note,
            d = w.review,
            n0 = PHI[0],
            n1 = PHI[1],
            n2 = PHI[2],
        ),
    )
    .await;
    let mut tx = pool.begin().await.unwrap();
    runner::store::set_actor(&mut tx, "link_rules")
        .await
        .unwrap();
    runner::link::run_all(&mut tx, &plan().link_rules)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    sqlx::raw_sql(
        "insert into sync_log (pipeline, trigger, started_at, finished_at, status, error)
           values ('patients', 'schedule', now() - interval '10 minutes', now() - interval '9 minutes',
                   'failed', 'DrChrono answered 500 on /api/patients');
         insert into sync_log (pipeline, trigger, started_at, finished_at, status, inserted)
           values ('providers', 'schedule', now() - interval '5 minutes', now() - interval '4 minutes',
                   'succeeded', 3);",
    )
    .execute(pool)
    .await
    .unwrap();
    w
}

/// An answer: status, headers and body text (HTML entities decoded, so assertions read as
/// the page does; `raw` keeps the bytes as sent).
#[derive(Debug)]
pub(crate) struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
    pub raw: String,
}

impl Answer {
    /// The page's form token.
    pub(crate) fn csrf(&self) -> String {
        let at = self
            .body
            .find("name=\"csrf\" value=\"")
            .unwrap_or_else(|| panic!("no form token on the page:\n{}", self.body));
        let rest = &self.body[at + "name=\"csrf\" value=\"".len()..];
        rest[..rest.find('"').unwrap()].to_string()
    }

    /// The query string of the page's "older" link, if any.
    pub(crate) fn next(&self) -> Option<String> {
        let before = self.body.split(" rel=\"next\"").next()?;
        if before.len() == self.body.len() {
            return None;
        }
        let href = before.rsplit("href=\"").next()?;
        let href = href.trim_end_matches('"');
        Some(href.split_once('?')?.1.to_string())
    }

    /// Where a redirect goes.
    pub(crate) fn location(&self) -> &str {
        self.headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

async fn send(app: &Router, req: Request<Body>) -> Answer {
    let res = app.clone().oneshot(req).await.expect("infallible");
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = axum::body::to_bytes(res.into_body(), 16 << 20)
        .await
        .expect("body");
    let raw = String::from_utf8_lossy(&bytes).into_owned();
    Answer {
        status,
        headers,
        body: unescape(&raw),
        raw,
    }
}

/// Decodes the entities minijinja's HTML escaping writes.
pub(crate) fn unescape(s: &str) -> String {
    s.replace("&#x2f;", "/")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// `GET path` with extra headers.
pub(crate) async fn get_with(app: &Router, path: &str, headers: &[(&str, &str)]) -> Answer {
    let mut req = Request::get(path);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    send(app, req.body(Body::empty()).unwrap()).await
}

/// `GET path`.
pub(crate) async fn get(app: &Router, path: &str) -> Answer {
    get_with(app, path, &[]).await
}

/// `POST path` with a URL-encoded form.
pub(crate) async fn post(app: &Router, path: &str, form: &[(&str, &str)]) -> Answer {
    let body = serde_urlencoded::to_string(form).unwrap();
    let req = Request::post(path)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap();
    send(app, req).await
}

/// A form token of the signed-in admin, from whichever page has a form (tokens are bound to
/// the staff member, not to a page).
pub(crate) async fn token(app: &Router) -> String {
    for page in ["/admin/review", "/admin/failures"] {
        let a = get(app, page).await;
        if a.body.contains("name=\"csrf\"") {
            return a.csrf();
        }
    }
    panic!("no page with a form")
}

/// Rows of `access_log` written by the dashboard: `(actor, method, page, path, record ids)`.
pub(crate) async fn views(pool: &PgPool) -> Vec<(String, String, String, String, Vec<Uuid>)> {
    sqlx::query_as(
        "select actor, method, page, path_template, record_ids from access_log \
         where system = 'dashboard' order by id",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

/// A DrChrono webhook stored in the inbox whose processing failed (as after a mapping bug,
/// since fixed): the shipped plan processes it when it is replayed. Returns its id.
pub(crate) async fn failed_inbox_entry(pool: &PgPool) -> i64 {
    let clinic = sim::drchrono::DrChronoState::new(&sim::drchrono::DrChronoConfig {
        patients: 1,
        seed: 11,
        ..sim::drchrono::DrChronoConfig::default()
    });
    let patient = clinic
        .records(sim::data::Resource::Patients)
        .into_iter()
        .next()
        .expect("a patient");
    let payload = serde_json::json!({ "receiver": "clinic", "object": patient });
    sqlx::query_scalar(
        "insert into inbox (source, delivery_id, event, headers, body, payload, status, attempts, error) \
         values ('drchrono', 'delivery-1', 'PATIENT_MODIFY', '{}', $1, $2, 'failed', 1, \
                 'pipeline patients: field date_of_birth: not an integer') returning id",
    )
    .bind(serde_json::to_vec(&payload).unwrap())
    .bind(sqlx::types::Json(&payload))
    .fetch_one(pool)
    .await
    .unwrap()
}
