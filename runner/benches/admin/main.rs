//! `cargo bench -p runner --bench admin`: the dashboard's render time against its own queries.
//!
//! With 1,000,000 `change_log` rows (`million.sql`), it renders the health page (`GET /admin`)
//! and the audit trail's first page (`GET /admin/audit`) through the real router, signed in
//! (the staff lookup runs on every request, as in production), and, interleaved in the same
//! run, runs the same statements bare: the staff lookup, then `runner::admin::load_health` or
//! `audit_page_data` (the functions the pages call: the audit page's changes, its view record
//! in `access_log` and the table list), without routing, the extractor or the template. The
//! figure is the ratio of the p95s (target <= 1.5). `BENCH_QUICK=1` takes 50 samples instead of
//! 400.

#[allow(dead_code)]
#[path = "../sync/util.rs"]
mod util;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use runner::admin::{
    AdminAuth, AuditFilter, Staff, StaffRole, audit_page_data, load_health, staff_role,
};
use runner::server::{AppState, router};
use tower::ServiceExt;

const STAFF: &str = "oncall@clinic.example";

fn p95(mut v: Vec<Duration>) -> Duration {
    v.sort_unstable();
    v[(v.len() * 95 / 100).min(v.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let samples = if std::env::var_os("BENCH_QUICK").is_some() {
        50
    } else {
        400
    };
    let db = util::BenchDb::create().await?;
    println!("generating 1,000,000 change_log rows ...");
    let started = Instant::now();
    sqlx::raw_sql(include_str!("million.sql"))
        .execute(&db.pool)
        .await?;
    let mut tx = db.pool.begin().await?;
    runner::store::set_actor(&mut tx, "bench").await?;
    sqlx::query("insert into staff_roles (email, role) values ($1, 'admin')")
        .bind(STAFF)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    println!("generated in {:.1} s", started.elapsed().as_secs_f64());

    let plan = Arc::new(util::plan("http://127.0.0.1:9")?);
    let mut state = AppState::new(db.pool.clone(), plan.clone());
    state.admin = AdminAuth::dev_user(STAFF);
    let app = router(state);
    let page = |path: &'static str| {
        let app = app.clone();
        async move {
            let t = Instant::now();
            let res = app.oneshot(Request::get(path).body(Body::empty())?).await?;
            anyhow::ensure!(res.status() == StatusCode::OK, "{path}: {}", res.status());
            axum::body::to_bytes(res.into_body(), 16 << 20).await?;
            Ok::<_, anyhow::Error>(t.elapsed())
        }
    };
    let staff = Staff {
        email: STAFF.into(),
        role: StaffRole::Admin,
    };
    let bare_health = || async {
        let t = Instant::now();
        staff_role(&db.pool, STAFF).await?;
        load_health(&db.pool, &plan).await?;
        Ok::<_, anyhow::Error>(t.elapsed())
    };
    let bare_audit = || async {
        let t = Instant::now();
        staff_role(&db.pool, STAFF).await?;
        audit_page_data(&db.pool, &staff, &AuditFilter::default(), t)
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        Ok::<_, anyhow::Error>(t.elapsed())
    };
    // Warm both paths (connections, statement caches, buffers).
    for _ in 0..20 {
        page("/admin").await?;
        page("/admin/audit").await?;
        bare_health().await?;
        bare_audit().await?;
    }
    let (mut health_page, mut health_bare, mut audit_page, mut audit_bare) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..samples {
        health_page.push(page("/admin").await?);
        health_bare.push(bare_health().await?);
        audit_page.push(page("/admin/audit").await?);
        audit_bare.push(bare_audit().await?);
    }
    let report = |name: &str, page: Vec<Duration>, bare: Vec<Duration>| {
        let (p, b) = (p95(page), p95(bare));
        let ratio = p.as_secs_f64() / b.as_secs_f64();
        println!(
            "{name}: p95 render {:.2} ms vs the same queries bare {:.2} ms: ratio {ratio:.2} (target <= 1.50) {}",
            ms(p),
            ms(b),
            if ratio <= 1.5 { "ok" } else { "OVER" }
        );
        ratio
    };
    let h = report("health page", health_page, health_bare);
    let a = report("audit page ", audit_page, audit_bare);
    db.drop().await?;
    if h > 1.5 || a > 1.5 {
        std::process::exit(1);
    }
    Ok(())
}
