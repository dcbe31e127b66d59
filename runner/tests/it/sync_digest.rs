//! Full listings pass over every record whose row the sync wrote from the same source bytes
//! with the same pipeline (source digests, migration 0018), and map again whatever else wrote.

use runner::config::Plan;
use runner::source::RestClient;
use runner::store::{Ident, set_actor};
use runner::sync::{NoProgress, SyncOptions, SyncReport, run_pipeline};
use sim::data::Resource;
use sqlx::{AssertSqlSafe, PgPool};

use crate::common;
use crate::sync::{assert_exact, assert_succeeded, audit_rows, opts, outbox_rows, sync_all};

fn full() -> SyncOptions {
    SyncOptions {
        full: true,
        trigger: "test".into(),
        ..SyncOptions::default()
    }
}

async fn run(pool: &PgPool, plan: &Plan, name: &str) -> SyncReport {
    let client = RestClient::drchrono(&plan.systems.drchrono, pool.clone());
    let p = plan.pipeline(name).unwrap();
    let r = run_pipeline(pool, &client, plan, p, &full(), &NoProgress).await;
    assert!(r.error.is_none(), "{name}: {:?}", r.error);
    r
}

async fn scalar<T>(pool: &PgPool, sql: String) -> T
where
    T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send + Unpin,
{
    sqlx::query_scalar(AssertSqlSafe(sql))
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Runs `sql` in a transaction as a hand-made edit.
async fn edit(pool: &PgPool, sql: &str) {
    let mut tx = pool.begin().await.unwrap();
    set_actor(&mut tx, "test_edit").await.unwrap();
    sqlx::query(AssertSqlSafe(sql.to_string()))
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_full_rerun_recognizes_every_unchanged_record_and_writes_nothing(pool: PgPool) {
    let sim = common::drchrono(30).await;
    let plan = common::plan(sim.url());
    // The backfill follows the cursors where there are: those listings store digests too.
    let first = sync_all(&pool, &plan, &opts()).await;
    assert_succeeded(&first);
    assert!(first.iter().all(|r| r.recognized == 0));
    let listed = plan
        .pipelines
        .iter()
        .filter(|p| p.file.source.endpoint.is_some());
    for p in listed.clone() {
        let table = Ident::new(&p.mapping.table).unwrap();
        let (rows, without): (i64, i64) = sqlx::query_as(AssertSqlSafe(format!(
            "select count(*), count(*) filter (where source_digest is null) from {table}"
        )))
        .fetch_one(&pool)
        .await
        .unwrap();
        // The rows of an expanded record are written one by one: no digest vouches for them.
        let expected = if p.mapping.expand.is_empty() { 0 } else { rows };
        assert_eq!(
            without, expected,
            "{}: rows without a digest",
            p.mapping.name
        );
    }

    let (audit, outbox) = (audit_rows(&pool).await, outbox_rows(&pool).await);
    let second = sync_all(&pool, &plan, &full()).await;
    assert_succeeded(&second);
    for (p, r) in listed.zip(&second) {
        assert!(r.records > 0, "{}", r.pipeline);
        let recognized = if p.mapping.expand.is_empty() {
            r.records
        } else {
            0
        };
        assert_eq!(r.recognized, recognized, "{}", r.pipeline);
        assert_eq!(
            (r.counts.inserted, r.counts.updated, r.soft_deleted),
            (0, 0, 0),
            "{}",
            r.pipeline
        );
    }
    assert_eq!(audit_rows(&pool).await, audit);
    assert_eq!(outbox_rows(&pool).await, outbox);
    assert_exact(&pool, &sim, &plan).await;
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_row_another_writer_changed_is_mapped_again_and_gets_its_source_values_back(
    pool: PgPool,
) {
    let sim = common::drchrono(10).await;
    let plan = common::plan(sim.url());
    assert_succeeded(&sync_all(&pool, &plan, &full()).await);
    let patients = sim.state().records(Resource::Patients);
    let (a, b) = (
        patients[0]["id"].as_i64().unwrap(),
        patients[1]["id"].as_i64().unwrap(),
    );
    let name = |id: i64| format!("select first_name from patients where drchrono_id = {id}");

    edit(
        &pool,
        &format!("update patients set first_name = 'Edited' where drchrono_id = {a}"),
    )
    .await;
    let digest = format!("select source_digest is null from patients where drchrono_id = {a}");
    assert!(
        scalar::<bool>(&pool, digest.clone()).await,
        "the edit cleared the digest"
    );
    let r = run(&pool, &plan, "patients").await;
    assert_eq!((r.recognized, r.counts.updated), (r.records - 1, 1));
    assert_eq!(
        Some(scalar::<String>(&pool, name(a)).await.as_str()),
        patients[0]["first_name"].as_str()
    );
    assert!(
        !scalar::<bool>(&pool, digest).await,
        "the sync wrote the digest back"
    );

    // The trigger is what makes this right: without it, the edited row would still carry the
    // digest of its source record, and the listing would pass over it.
    edit(
        &pool,
        "alter table patients disable trigger source_digest_clear",
    )
    .await;
    edit(
        &pool,
        &format!("update patients set first_name = 'Edited' where drchrono_id = {b}"),
    )
    .await;
    let r = run(&pool, &plan, "patients").await;
    assert_eq!(r.recognized, r.records);
    assert_eq!(scalar::<String>(&pool, name(b)).await, "Edited");
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_changed_pipeline_maps_every_record_again_and_rewrites_only_the_digests(pool: PgPool) {
    let sim = common::drchrono(10).await;
    let plan = common::plan(sim.url());
    assert_succeeded(&sync_all(&pool, &plan, &full()).await);
    let state = "select string_agg(encode(source_digest, 'hex') || updated_at::text, ',' \
                 order by drchrono_id) from medications";
    let before: String = scalar(&pool, state.to_string()).await;
    let audit = audit_rows(&pool).await;

    let mut changed = plan.clone();
    let p = changed
        .pipelines
        .iter_mut()
        .find(|p| p.mapping.name == "medications")
        .unwrap();
    p.file.description = Some("edited by an engineer".into());
    let r = run(&pool, &changed, "medications").await;
    assert_eq!(r.recognized, 0, "another pipeline: every record is mapped");
    assert_eq!((r.counts.updated, r.counts.unchanged), (0, r.records));
    assert_eq!(audit_rows(&pool).await, audit, "digests are never audited");
    let after: String = scalar(&pool, state.to_string()).await;
    assert_ne!(after, before);
    let kept = |s: &str| -> Vec<String> {
        s.split(',')
            .map(|x| x.get(32..).unwrap_or_default().to_string())
            .collect()
    };
    assert_eq!(kept(&after), kept(&before), "updated_at is kept");
    assert_eq!(
        run(&pool, &changed, "medications").await.recognized,
        r.records
    );
}
