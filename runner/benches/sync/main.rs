//! `cargo bench -p runner --bench sync`: the speed and size figures of issue 3, each printed as
//! a ratio against a baseline measured in the same run (the machines are shared and noisy, so
//! absolute times mean little).
//!
//! - ingest: mapping + batched upsert versus a database-only `INSERT ... SELECT FROM
//!   jsonb_to_recordset(...)` of the same, already mapped rows (same table, same triggers);
//! - end to end: a backfill from the simulator versus the ingest-only rate;
//! - memory: peak RSS of `runner sync` for 200,000 versus 50,000 records;
//! - politeness: 429s with the simulator's limits equal to the declared budget, and the cost of
//!   an incremental cycle with no upstream change.
//!
//! `BENCH_QUICK=1` shrinks every size (a smoke run).

mod e2e;
mod ingest;
mod memory;
mod polite;
mod util;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let quick = std::env::var_os("BENCH_QUICK").is_some();
    let db = util::BenchDb::create().await?;
    let n = if quick { 2_000 } else { 20_000 };
    let ingest = ingest::run(&db, n).await?;
    e2e::run(&db, n, ingest).await?;
    polite::run(&db).await?;
    let (small, large) = if quick {
        (5_000, 20_000)
    } else {
        (50_000, 200_000)
    };
    memory::run(&db, small, large).await?;
    db.drop().await
}
