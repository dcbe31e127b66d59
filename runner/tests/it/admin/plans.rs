//! Query plans with 1,000,000 `change_log` rows: every statement the dashboard runs (captured
//! from sqlx's own statement log while each page renders, so the check follows the code) is
//! prepared and explained as a generic plan (the plan a prepared statement falls back to,
//! which knows no parameter values). With sequential scans disabled, a statement that still
//! scans a table has no index it can use; and every statement that reads the audit trail or
//! the access log is bounded by a LIMIT or aggregates, but for the disclosure report, which
//! reads one patient's records by id.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use serde_json::Value;
use sqlx::PgPool;
use tracing_subscriber::layer::SubscriberExt as _;

use super::{ADMIN, app_as, get, seed};

/// The SQL of every `sqlx::query` event.
#[derive(Clone, Default)]
struct Statements(Arc<Mutex<Vec<String>>>);

struct Visit<'a>(&'a mut Option<String>, &'a mut Option<String>);

impl tracing::field::Visit for Visit<'_> {
    fn record_str(&mut self, f: &tracing::field::Field, v: &str) {
        match f.name() {
            "db.statement" if !v.trim().is_empty() => *self.0 = Some(v.trim().to_string()),
            "summary" => *self.1 = Some(v.to_string()),
            _ => {}
        }
    }
    fn record_debug(&mut self, _: &tracing::field::Field, _: &dyn std::fmt::Debug) {}
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Statements {
    fn on_event(&self, e: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if e.metadata().target() != "sqlx::query" {
            return;
        }
        let (mut full, mut summary) = (None, None);
        e.record(&mut Visit(&mut full, &mut summary));
        if let Some(sql) = full.or(summary) {
            self.0.lock().unwrap().push(sql);
        }
    }
}

/// The highest `$n` of a statement.
fn params(sql: &str) -> usize {
    sql.split('$')
        .skip(1)
        .filter_map(|s| {
            s.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
                .parse()
                .ok()
        })
        .max()
        .unwrap_or(0)
}

/// Every node of a JSON plan.
fn nodes(plan: &Value, out: &mut Vec<Value>) {
    out.push(plan.clone());
    for child in plan["Plans"].as_array().into_iter().flatten() {
        nodes(child, out);
    }
}

/// The generic plan of `sql`, on a connection of its own (sqlx's cached statements elsewhere
/// are left alone).
async fn explain(conn: &mut sqlx::PgConnection, sql: &str, seqscan: bool) -> Value {
    let setup = format!(
        "set plan_cache_mode = force_generic_plan; set enable_seqscan = {};",
        if seqscan { "on" } else { "off" }
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(setup))
        .execute(&mut *conn)
        .await
        .unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("prepare probe as {sql}")))
        .execute(&mut *conn)
        .await
        .unwrap_or_else(|e| panic!("{e}: {sql}"));
    let args = vec!["null"; params(sql)].join(", ");
    let call = if args.is_empty() {
        String::new()
    } else {
        format!("({args})")
    };
    let plan: Value = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "explain (format json) execute probe{call}"
    )))
    .fetch_one(&mut *conn)
    .await
    .unwrap_or_else(|e| panic!("{e}: {sql}"));
    sqlx::raw_sql("deallocate probe; reset all;")
        .execute(&mut *conn)
        .await
        .unwrap();
    plan[0]["Plan"].clone()
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn with_a_million_audit_rows_every_dashboard_query_uses_an_index_and_is_bounded(
    pool: PgPool,
) {
    let w = seed(&pool).await;
    sqlx::raw_sql(include_str!("../../../benches/admin/million.sql"))
        .execute(&pool)
        .await
        .unwrap();
    let big: i64 = sqlx::query_scalar("select count(*) from change_log")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(big > 1_000_000);

    let some_record: uuid::Uuid = sqlx::query_scalar(
        "select record_id from change_log where table_name = 'medications' order by at desc limit 1",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let captured = Statements::default();
    let subscriber = tracing_subscriber::registry()
        .with(
            tracing_subscriber::filter::Targets::new()
                .with_target("sqlx::query", tracing::Level::TRACE),
        )
        .with(captured.clone());
    let guard = tracing::subscriber::set_default(subscriber);
    let app = app_as(&pool, ADMIN);
    let cursor_page = get(&app, "/admin/audit").await;
    let next = cursor_page.next().expect("an older page");
    for path in [
        "/admin".to_string(),
        "/admin/failures".to_string(),
        "/admin/review".to_string(),
        "/admin/audit".to_string(),
        format!("/admin/audit?{next}"),
        "/admin/audit?table=medications".to_string(),
        format!("/admin/audit?table=medications&{next}"),
        "/admin/audit?actor=admin%3Aoncall%40clinic.example".to_string(),
        format!("/admin/audit?actor=admin%3Aoncall%40clinic.example&{next}"),
        format!("/admin/audit?record={some_record}"),
        "/admin/audit?from=2026-01-01&to=2026-02-01".to_string(),
        format!("/admin/audit/medications/{some_record}"),
        format!("/admin/audit/patients/{}/disclosures.csv", w.patient),
        "/admin/access".to_string(),
        "/admin/access?system=drchrono".to_string(),
        "/admin/access?actor=staff3%40clinic.example".to_string(),
    ] {
        let page = get(&app, &path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}: {}", page.body);
    }
    let token = super::token(&app).await;
    let link = format!(
        "/admin/review/deepcura_note_to_clinical_note/{}/link",
        w.review
    );
    super::post(
        &app,
        &link,
        &[("csrf", &token), ("target", &w.note.to_string())],
    )
    .await;
    drop(guard);

    let statements: BTreeSet<String> = captured.0.lock().unwrap().iter().cloned().collect();
    assert!(statements.len() >= 30, "{statements:#?}");
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(
        &crate::common::database_url(&pool).await,
    )
    .await
    .unwrap();
    let mut checked = 0;
    for sql in &statements {
        let lower = sql.to_lowercase();
        if lower.starts_with("select set_config")
            || lower.starts_with("begin")
            || lower.starts_with("commit")
        {
            continue;
        }
        let plan = explain(&mut conn, sql, false).await;
        let mut all = Vec::new();
        nodes(&plan, &mut all);
        for n in &all {
            assert_ne!(
                n["Node Type"], "Seq Scan",
                "no index for {} in:\n{sql}\n{plan}",
                n["Relation Name"]
            );
        }
        let reads_audit = all.iter().any(|n| {
            n["Relation Name"]
                .as_str()
                .is_some_and(|r| r.starts_with("change_log") || r.starts_with("access_log"))
                && n["Node Type"] != "ModifyTable"
        });
        let bounded = all.iter().any(|n| {
            matches!(
                n["Node Type"].as_str(),
                Some("Limit" | "Aggregate" | "ModifyTable")
            )
        }) || lower.contains("record_id = any($1)");
        assert!(
            !reads_audit || bounded,
            "unbounded read of the audit trail:\n{sql}\n{plan}"
        );
        // With the real statistics too, no populated partition of the audit trail is scanned
        // whole (an empty partition of a coming month costs nothing to scan, and neither does
        // the thin end of the oldest month: under 16 pages, a scan is cheaper than an index).
        if reads_audit {
            let real = explain(&mut conn, sql, true).await;
            let mut all = Vec::new();
            nodes(&real, &mut all);
            for n in all.iter().filter(|n| n["Node Type"] == "Seq Scan") {
                let rel = n["Relation Name"].as_str().unwrap_or("");
                let pages: i32 =
                    sqlx::query_scalar("select relpages from pg_class where relname = $1")
                        .bind(rel)
                        .fetch_one(&mut conn)
                        .await
                        .unwrap();
                assert!(
                    !(rel.starts_with("change_log") && pages >= 16),
                    "a scan of {rel} ({pages} pages):\n{sql}\n{real}"
                );
            }
        }
        checked += 1;
    }
    assert!(checked >= 30);
}
