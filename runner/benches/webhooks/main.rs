//! `cargo bench -p runner --bench webhooks`: webhook acknowledgement latency under load.
//!
//! For 30 s at 200 requests/s (an open-loop generator in this process), signed DrChrono
//! webhooks go to `/webhooks/drchrono`; for another 30 s, the same bodies go to a baseline
//! route of the same server that only inserts the raw body into a table. The figure is the
//! ratio of their p99 latencies (target <= 2), and the time the inbox backlog takes to drain
//! after the load stops (target <= 5 s). `BENCH_QUICK=1` runs 5 s each.

// Shared with the sync benchmark; this one uses only part of it.
#[allow(dead_code)]
#[path = "../sync/util.rs"]
mod util;

mod load;

use std::sync::Arc;
use std::time::{Duration, Instant};

use load::load;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use runner::server::{AppState, router};
use sim::data::Resource;
use sim::drchrono::{DrChronoConfig, DrChronoSim};
use sim::webhooks::{DrChronoWebhooks, WebhookRequest};
use sqlx::PgPool;
use tokio::net::TcpListener;

const RATE: u64 = 200;

async fn baseline(State(pool): State<PgPool>, body: Bytes) -> StatusCode {
    match sqlx::query("insert into bench_raw (body) values ($1)")
        .bind(body.to_vec())
        .execute(&pool)
        .await
    {
        Ok(_) => StatusCode::OK,
        Err(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let secs = load::seconds();
    let db = util::BenchDb::create().await?;
    sqlx::query("create table if not exists bench_raw (id bigint generated always as identity primary key, body bytea not null, received_at timestamptz not null default now())")
        .execute(&db.pool)
        .await?;
    let sim = DrChronoSim::start(DrChronoConfig {
        patients: 300,
        rate_limit: None,
        ..DrChronoConfig::default()
    })
    .await?;
    let plan = util::plan(sim.url())?;
    let state = AppState::new(db.pool.clone(), Arc::new(plan));
    // The real server (router, inbox worker) on one port; the same router plus the baseline
    // route, without a worker, on another, so the baseline competes for nothing extra.
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(runner::server::serve_with(
        state.clone(),
        listener,
        async move {
            let _ = stop_rx.await;
        },
        |_, _| Vec::new(),
    ));
    let app = router(state).merge(
        Router::new()
            .route("/bench/baseline", post(baseline))
            .with_state(db.pool.clone()),
    );
    let base_listener = TcpListener::bind("127.0.0.1:0").await?;
    let base_url = format!("http://{}", base_listener.local_addr()?);
    tokio::spawn(async move { axum::serve(base_listener, app).await });

    let mut hooks = DrChronoWebhooks::new("bench", 1);
    let patients = sim.state().records(Resource::Patients);
    let requests: Vec<WebhookRequest> = (0..RATE * secs)
        .map(|i| {
            let p = &patients[(i as usize) % patients.len()];
            hooks.deliver("PATIENT_MODIFY", p.clone())
        })
        .collect();
    let http = runner::source::http_client(Duration::from_secs(10));
    let baseline_reqs: Vec<WebhookRequest> = requests
        .iter()
        .map(|r| WebhookRequest {
            path: "/bench/baseline".into(),
            ..r.clone()
        })
        .collect();
    let base = load(&http, &base_url, &baseline_reqs, RATE).await?;
    let hook = load(&http, &url, &requests, RATE).await?;
    let stopped = Instant::now();
    loop {
        let pending: i64 =
            sqlx::query_scalar("select count(*) from inbox where status = 'received'")
                .fetch_one(&db.pool)
                .await?;
        if pending == 0 || stopped.elapsed() > Duration::from_secs(60) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let drain = stopped.elapsed();
    let stored: i64 = sqlx::query_scalar("select count(*) from inbox")
        .fetch_one(&db.pool)
        .await?;
    println!("webhooks   {secs} s at {RATE} requests/s per route, open loop");
    println!(
        "  baseline (insert raw body) p50 {:>6.2} ms  p99 {:>6.2} ms  errors {}",
        base.p(50.0),
        base.p(99.0),
        base.errors
    );
    println!(
        "  /webhooks/drchrono         p50 {:>6.2} ms  p99 {:>6.2} ms  errors {}",
        hook.p(50.0),
        hook.p(99.0),
        hook.errors
    );
    println!(
        "  p99 ratio {:.2} (target <= 2.00); {stored} deliveries stored",
        hook.p(99.0) / base.p(99.0)
    );
    println!(
        "  inbox drained {:.2} s after the load stopped (target <= 5 s)",
        drain.as_secs_f64()
    );
    let _ = stop_tx.send(());
    let _ = server.await;
    db.drop().await
}
