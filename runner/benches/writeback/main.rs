//! `cargo bench -p runner --bench writeback`: write-back latency under load.
//!
//! For 30 s at 100 requests/s (open loop), Coda-automation PATCHes go to
//! `/api/intake/{appointment_id}` over 300 appointments, each one changing its row (so each is
//! authenticated, authorised against `staff_roles`, validated, written under the audit
//! trigger with its change event, and answered with the row as stored); for another 30 s the
//! same bodies go to a baseline route of the same server that inserts the same row into a table
//! of the same columns, with no validation, authentication, audit or change event. The figure is the ratio of their p99 latencies (target <= 2). `BENCH_QUICK=1` runs
//! 5 s each.

// Shared with the sync benchmark; this one uses only part of it.
#[allow(dead_code)]
#[path = "../sync/util.rs"]
mod util;

#[path = "../webhooks/load.rs"]
mod load;

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::routing::patch;
use runner::server::{AppState, router};
use sim::webhooks::WebhookRequest;
use sqlx::PgPool;
use tokio::net::TcpListener;
use uuid::Uuid;

const RATE: u64 = 100;
const APPOINTMENTS: usize = 300;
const STAFF: &str = "bench@clinic.example";

async fn baseline(
    State(pool): State<PgPool>,
    Path(id): Path<Uuid>,
    Json(body): Json<serde_json::Value>,
) -> StatusCode {
    match sqlx::query(
        "insert into bench_intake (appointment_id, status, forms_received, notes) \
         select $1, r.status, r.forms_received, r.notes \
         from jsonb_populate_record(null::bench_intake, $2) r",
    )
    .bind(id)
    .bind(body)
    .execute(&pool)
    .await
    {
        Ok(_) => StatusCode::OK,
        Err(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// A staff member and the appointments the intakes hang on.
async fn seed(pool: &PgPool) -> anyhow::Result<Vec<Uuid>> {
    let mut tx = pool.begin().await?;
    runner::store::set_actor(&mut tx, "bench").await?;
    sqlx::query("insert into staff_roles (email, role, active) values ($1, 'front_desk', true)")
        .bind(STAFF)
        .execute(&mut *tx)
        .await?;
    let ids: Vec<Uuid> = sqlx::query_scalar(
        "insert into appointments (drchrono_id, drchrono_raw) \
         select 'B' || g, '{}' from generate_series(1, $1) g returning id",
    )
    .bind(APPOINTMENTS as i32)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(ids)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let secs = load::seconds();
    let db = util::BenchDb::create().await?;
    // The same row, typed as the table types it, with no authentication, validation, lock,
    // audit or change event.
    sqlx::query("create table bench_intake (like intake_checklists including defaults)")
        .execute(&db.pool)
        .await?;
    let appointments = seed(&db.pool).await?;
    let plan = util::plan("http://127.0.0.1:9")?;
    let state = AppState::new(db.pool.clone(), Arc::new(plan));
    let app = router(state).merge(
        Router::new()
            .route("/bench/baseline/{id}", patch(baseline))
            .with_state(db.pool.clone()),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });

    let statuses = ["pending", "in_progress", "complete", "blocked"];
    let requests: Vec<WebhookRequest> = (0..(RATE * secs) as usize)
        .map(|i| {
            let appt = appointments[i % APPOINTMENTS];
            let round = i / APPOINTMENTS;
            let body = serde_json::json!({
                "status": statuses[round % statuses.len()],
                "forms_received": round % 2 == 1,
                "notes": format!("Round {round}."),
            });
            WebhookRequest::new(Method::PATCH, format!("/api/intake/{appt}"))
                .with_header("content-type", "application/json")
                .with_header("x-coda-webhook-secret", "bench")
                .with_header("x-coda-user-email", STAFF)
                .with_body(body.to_string().into_bytes())
        })
        .collect();
    let baseline_reqs: Vec<WebhookRequest> = requests
        .iter()
        .map(|r| WebhookRequest {
            path: r.path.replace("/api/intake/", "/bench/baseline/"),
            ..r.clone()
        })
        .collect();
    let http = runner::source::http_client(Duration::from_secs(10));
    let base = load::load(&http, &url, &baseline_reqs, RATE).await?;
    let wb = load::load(&http, &url, &requests, RATE).await?;
    let audited: i64 = sqlx::query_scalar(
        "select count(*) from change_log where table_name = 'intake_checklists' and actor = $1",
    )
    .bind(format!("coda:{STAFF}"))
    .fetch_one(&db.pool)
    .await?;
    let events: i64 =
        sqlx::query_scalar("select count(*) from outbox where table_name = 'intake_checklists'")
            .fetch_one(&db.pool)
            .await?;
    println!("write-back   {secs} s at {RATE} requests/s per route, open loop");
    println!(
        "  baseline (insert the row) p50 {:>6.2} ms  p99 {:>6.2} ms  errors {}",
        base.p(50.0),
        base.p(99.0),
        base.errors
    );
    println!(
        "  PATCH /api/intake/{{id}}    p50 {:>6.2} ms  p99 {:>6.2} ms  errors {}",
        wb.p(50.0),
        wb.p(99.0),
        wb.errors
    );
    println!(
        "  p99 ratio {:.2} (target <= 2.00); {audited} audited changes, {events} change events",
        wb.p(99.0) / base.p(99.0)
    );
    db.drop().await
}
