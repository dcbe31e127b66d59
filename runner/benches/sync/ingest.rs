//! Ingest: mapping + batched upsert (audit triggers on), in the sync writer's batches of 1,000
//! records, versus the database's own limit: the same, already mapped rows inserted set-based,
//! all of them in one `INSERT ... SELECT FROM jsonb_to_recordset(...)` into the same table with
//! the same triggers.

use std::time::Duration;

use runner::mapping::{CompiledPipeline, Row};
use runner::store::{Ident, PreparedUpsert, set_actor};
use runner::sync::upsert_target;
use serde_json::Value;
use sim::data::{Clinic, Resource};

use super::util::{BenchDb, rate, timed};

/// Batch size: the sync writer's (`WRITE_BATCH_RECORDS`), four DrChrono pages of 250.
pub(crate) const BATCH: usize = 1_000;
const ROUNDS: usize = 3;

/// The patients as the simulator serves them (non-verbose).
pub(crate) fn patients(n: usize) -> Vec<Value> {
    let clinic = Clinic::generate_only(
        7,
        n,
        chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap_or_default(),
        &[Resource::Patients, Resource::Doctors],
    );
    let state = sim::drchrono::DrChronoState::with_clinic(
        &sim::drchrono::DrChronoConfig::default(),
        clinic,
    );
    state.records_as_served(Resource::Patients, false)
}

/// Returns our ingest rate (rows/s).
pub(crate) async fn run(db: &BenchDb, n: usize) -> anyhow::Result<f64> {
    let plan = super::util::plan("http://127.0.0.1:9")?;
    let m = plan
        .pipeline("patients")
        .ok_or_else(|| anyhow::anyhow!("no patients pipeline"))?
        .mapping
        .clone();
    let records = patients(n);
    let rows: Vec<Row> = records
        .iter()
        .flat_map(|r| m.map_record(r).unwrap_or_default())
        .collect();
    let baseline_sql = baseline_sql(&m);
    let (mut best_base, mut best_ours) = (Duration::MAX, Duration::MAX);
    for _ in 0..ROUNDS {
        db.reset().await?;
        let (_, d) = timed(baseline(db, &baseline_sql, &rows)).await?;
        best_base = best_base.min(d);
        db.reset().await?;
        let (_, d) = timed(ours(db, &m, &records)).await?;
        best_ours = best_ours.min(d);
    }
    let (base, mine) = (rate(rows.len(), best_base), rate(rows.len(), best_ours));
    println!("ingest     {n} patients, audit triggers on, best of {ROUNDS}");
    println!("  baseline: one set-based INSERT ... SELECT of the mapped rows: {base:>9.0} rows/s");
    println!("  mapping + upsert in batches of {BATCH}:                   {mine:>9.0} rows/s");
    println!("  ratio {:.2} (target >= 0.50)", mine / base);
    Ok(mine)
}

fn baseline_sql(m: &CompiledPipeline) -> String {
    // Lookup columns are left out: the baseline's rows are "already mapped", and resolving
    // foreign keys is work only our side does.
    let mut cols: Vec<(String, &str)> = m
        .fields
        .iter()
        .filter(|f| f.lookup.is_none())
        .map(|f| (f.name.clone(), f.ty.sql_type()))
        .collect();
    if let Some(raw) = &m.raw {
        cols.push((raw.clone(), "jsonb"));
    }
    let ident = |c: &str| Ident::new(c).expect("the shipped mapping names plain columns");
    let names = cols
        .iter()
        .map(|(c, _)| ident(c).to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let defs = cols
        .iter()
        .map(|(c, t)| format!("{} {t}", ident(c)))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "insert into {} ({names}) select {names} from jsonb_to_recordset($1) as r({defs})",
        ident(&m.table)
    )
}

async fn baseline(db: &BenchDb, sql: &str, rows: &[Row]) -> anyhow::Result<()> {
    let mut tx = db.pool.begin().await?;
    set_actor(&mut tx, "bench").await?;
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .bind(sqlx::types::Json(rows))
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

async fn ours(db: &BenchDb, m: &CompiledPipeline, records: &[Value]) -> anyhow::Result<()> {
    let upsert = PreparedUpsert::new(&upsert_target(m))?;
    for chunk in records.chunks(BATCH) {
        let rows: Vec<Row> = chunk
            .iter()
            .flat_map(|r| m.map_record(r).unwrap_or_default())
            .collect();
        let mut tx = db.pool.begin().await?;
        set_actor(&mut tx, "bench").await?;
        // As the sync writer does (a crash of the database server loses at most the last
        // batches, which the listing fetches again).
        sqlx::query("set local synchronous_commit = off")
            .execute(&mut *tx)
            .await?;
        upsert.execute(&mut tx, &rows).await?;
        tx.commit().await?;
    }
    Ok(())
}
