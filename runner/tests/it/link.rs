//! Linking Deep Cura notes to DrChrono clinical notes (`pipelines/links.yaml`): by appointment,
//! by patient and session date, review for no match or several, linking when the other side
//! arrives later, idempotent re-runs, and the review queue. Rows are inserted with plain SQL.

use std::process::Command;

use runner::config::links::LinksFile;
use runner::link::{CompiledLinks, LinkCounts, ReviewItem, after_upsert, review_queue, run_all};
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::common;

const RULE: &str = "deepcura_note_to_clinical_note";

fn links() -> CompiledLinks {
    let text = std::fs::read_to_string(common::repo().join("pipelines/links.yaml")).unwrap();
    let file: LinksFile = serde_saphyr::from_str(&text).expect("links.yaml parses");
    CompiledLinks::compile(&file).expect("links.yaml compiles")
}

/// A transaction with an audit actor, as sync and the webhooks open them.
async fn begin(pool: &PgPool, actor: &str) -> Transaction<'static, Postgres> {
    let mut tx = pool.begin().await.unwrap();
    runner::store::set_actor(&mut tx, actor).await.unwrap();
    tx
}

const DAY: &str = "2026-03-02";

/// Runs an insert taking (DrChrono appointment id, DrChrono patient id, date); returns the id.
async fn insert(c: &mut PgConnection, sql: &'static str, a: Option<&str>, p: i64, d: &str) -> Uuid {
    let q = sqlx::query_scalar(sql).bind(a).bind(p).bind(d);
    q.fetch_one(c).await.unwrap()
}

async fn appointment(conn: &mut PgConnection, appt: &str, patient: i64, date: &str) -> Uuid {
    let sql = "insert into appointments (drchrono_id, drchrono_patient_id, scheduled_date, \
               drchrono_raw) values ($1, $2, $3::date, '{}') returning id";
    insert(conn, sql, Some(appt), patient, date).await
}

/// A clinical note of appointment `appt` (which need not exist yet).
async fn clinical_note(conn: &mut PgConnection, appt: &str, patient: i64) -> Uuid {
    let sql = "insert into clinical_notes (drchrono_id, drchrono_appt_id, drchrono_patient_id, \
               drchrono_raw) values ($1, $1, $2, '{}') returning id";
    insert(conn, sql, Some(appt), patient, "").await
}

/// An appointment on `date` and its clinical note.
async fn session(conn: &mut PgConnection, appt: &str, patient: i64, date: &str) -> Uuid {
    appointment(&mut *conn, appt, patient, date).await;
    clinical_note(conn, appt, patient).await
}

/// A Deep Cura note (with note text that must never leave the database).
async fn note(conn: &mut PgConnection, appt: Option<&str>, patient: i64, date: &str) -> Uuid {
    let sql = "insert into deepcura_notes (id, drchrono_appt_id, drchrono_patient_id, \
               session_date, subjective, deepcura_raw) values (gen_random_uuid(), $1, $2, \
               $3::date, 'Patient reports low mood', '{}') returning id";
    insert(conn, sql, appt, patient, date).await
}

async fn link(conn: &mut PgConnection, table: &str) -> LinkCounts {
    after_upsert(conn, &links(), table).await.unwrap()
}

/// (clinical_note_id, link_method, needs_review, review_reason, linked_at is set)
type LinkState = (Option<Uuid>, Option<String>, bool, Option<String>, bool);

async fn state(pool: &PgPool, note: Uuid) -> LinkState {
    let sql = "select clinical_note_id, link_method, needs_review, review_reason, \
               linked_at is not null from deepcura_notes where id = $1";
    let query = sqlx::query_as(sql).bind(note);
    query.fetch_one(pool).await.unwrap()
}

fn linked(to: Uuid, method: &str) -> LinkState {
    (Some(to), Some(method.into()), false, None, true)
}

fn review(reason: &str) -> LinkState {
    (None, None, true, Some(reason.into()), false)
}

fn did(linked: u64, review: u64) -> LinkCounts {
    LinkCounts { linked, review }
}

/// The whole row, to prove it untouched (`updated_at` included).
async fn row(pool: &PgPool, note: Uuid) -> String {
    let sql = "select to_jsonb(d)::text from deepcura_notes d where id = $1";
    let query = sqlx::query_scalar(sql).bind(note);
    query.fetch_one(pool).await.unwrap()
}

/// The actors of the audited updates of Deep Cura notes.
async fn link_actors(pool: &PgPool) -> Vec<String> {
    let sql = "select distinct actor from change_log where table_name = 'deepcura_notes' \
               and operation = 'UPDATE'";
    sqlx::query_scalar(sql).fetch_all(pool).await.unwrap()
}

async fn audit_rows(pool: &PgPool) -> i64 {
    common::count(pool, "select count(*) from change_log").await
}

async fn link_all(pool: &PgPool) -> LinkCounts {
    let mut tx = begin(pool, "link_rules").await;
    let counts = run_all(&mut tx, &links()).await.unwrap();
    tx.commit().await.unwrap();
    counts
}

/// Runs `runner <verb>` with the shipped config on `pool`'s database; returns its stdout.
async fn runner(pool: &PgPool, verb: &str) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_runner"));
    cmd.arg(verb)
        .current_dir(common::repo())
        .env("DATABASE_URL", common::database_url(pool).await);
    if let runner::config::Env::Map(vars) = common::env("http://127.0.0.1:9", "http://127.0.0.1:9")
    {
        cmd.envs(vars);
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "runner {verb}: {stdout}{stderr}");
    stdout
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_note_links_to_the_clinical_note_of_its_appointment(pool: PgPool) {
    let mut tx = begin(&pool, "test").await;
    let cn = session(&mut tx, "A1", 7, DAY).await;
    // A second note the same day must not make the appointment match ambiguous.
    session(&mut tx, "A2", 7, DAY).await;
    let dc = note(&mut tx, Some("A1"), 7, DAY).await;
    // Tables that no rule involves do not run the rules.
    assert_eq!(link(&mut tx, "medications").await, LinkCounts::default());
    let counts = link(&mut tx, "deepcura_notes").await;
    tx.commit().await.unwrap();
    assert_eq!(counts, did(1, 0));
    assert_eq!(state(&pool, dc).await, linked(cn, "appointment"));
    // The link is audited under the caller's actor.
    assert_eq!(link_actors(&pool).await, ["test"]);
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_note_without_an_appointment_id_links_by_patient_and_session_date(pool: PgPool) {
    let mut tx = begin(&pool, "test").await;
    let cn = session(&mut tx, "A1", 7, DAY).await;
    session(&mut tx, "A2", 7, "2026-03-09").await;
    session(&mut tx, "B1", 8, DAY).await;
    let dc = note(&mut tx, None, 7, DAY).await;
    tx.commit().await.unwrap();
    assert_eq!(link_all(&pool).await, did(1, 0));
    assert_eq!(state(&pool, dc).await, linked(cn, "patient_date"));
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_note_that_matches_nothing_waits_for_review_as_no_match(pool: PgPool) {
    let mut tx = begin(&pool, "test").await;
    session(&mut tx, "A1", 7, DAY).await;
    let other_day = note(&mut tx, None, 7, "2026-03-03").await;
    let unknown_appt = note(&mut tx, Some("Z9"), 9, DAY).await;
    let counts = link(&mut tx, "deepcura_notes").await;
    tx.commit().await.unwrap();
    assert_eq!(counts, did(0, 2));
    assert_eq!(state(&pool, other_day).await, review("no match"));
    assert_eq!(state(&pool, unknown_appt).await, review("no match"));
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn two_clinical_notes_for_the_same_patient_and_date_send_the_note_to_review_unlinked(
    pool: PgPool,
) {
    let mut tx = begin(&pool, "test").await;
    session(&mut tx, "A1", 7, DAY).await;
    session(&mut tx, "A2", 7, DAY).await;
    let dc = note(&mut tx, None, 7, DAY).await;
    tx.commit().await.unwrap();
    assert_eq!(link_all(&pool).await, did(0, 1));
    let reason = "ambiguous: patient_date matched 2 clinical_notes";
    assert_eq!(state(&pool, dc).await, review(reason));
    // Staying ambiguous is not a change: the next pass writes nothing.
    let before = audit_rows(&pool).await;
    assert_eq!(link_all(&pool).await, LinkCounts::default());
    assert_eq!(audit_rows(&pool).await, before);
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_note_that_arrives_first_is_linked_when_its_clinical_note_syncs(pool: PgPool) {
    let mut tx = begin(&pool, "deepcura_webhook").await;
    let by_appt = note(&mut tx, Some("A1"), 7, DAY).await;
    let by_date = note(&mut tx, None, 8, DAY).await;
    link(&mut tx, "deepcura_notes").await;
    tx.commit().await.unwrap();
    assert_eq!(state(&pool, by_appt).await, review("no match"));

    let mut tx = begin(&pool, "drchrono_sync").await;
    appointment(&mut tx, "A1", 7, DAY).await;
    appointment(&mut tx, "B1", 8, DAY).await;
    let cn_a = clinical_note(&mut tx, "A1", 7).await;
    let cn_b = clinical_note(&mut tx, "B1", 8).await;
    let counts = link(&mut tx, "clinical_notes").await;
    tx.commit().await.unwrap();
    assert_eq!(counts, did(2, 0));
    assert_eq!(state(&pool, by_appt).await, linked(cn_a, "appointment"));
    assert_eq!(state(&pool, by_date).await, linked(cn_b, "patient_date"));
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_note_and_its_clinical_note_in_concurrent_transactions_still_link(pool: PgPool) {
    let mut webhook = begin(&pool, "deepcura_webhook").await;
    let dc = note(&mut webhook, Some("A1"), 7, DAY).await;
    assert_eq!(link(&mut webhook, "deepcura_notes").await, did(0, 1));
    // A sync page inserts the clinical note while the webhook's transaction is still open:
    // its linking pass waits for the webhook's, then sees the committed note.
    let sync = tokio::spawn({
        let pool = pool.clone();
        async move {
            let mut tx = begin(&pool, "drchrono_sync").await;
            let cn = session(&mut tx, "A1", 7, DAY).await;
            let counts = link(&mut tx, "clinical_notes").await;
            tx.commit().await.unwrap();
            (cn, counts)
        }
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    webhook.commit().await.unwrap();
    let (cn, counts) = sync.await.unwrap();
    assert_eq!(counts, did(1, 0));
    assert_eq!(state(&pool, dc).await, linked(cn, "appointment"));
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_note_is_linked_by_date_when_only_the_appointment_arrives_later(pool: PgPool) {
    let mut tx = begin(&pool, "test").await;
    let cn = clinical_note(&mut tx, "A1", 7).await;
    let dc = note(&mut tx, None, 7, DAY).await;
    link(&mut tx, "deepcura_notes").await;
    tx.commit().await.unwrap();
    assert_eq!(state(&pool, dc).await, review("no match"));

    let mut tx = begin(&pool, "drchrono_sync").await;
    appointment(&mut tx, "A1", 7, DAY).await;
    let counts = link(&mut tx, "appointments").await;
    tx.commit().await.unwrap();
    assert_eq!(counts, did(1, 0));
    assert_eq!(state(&pool, dc).await, linked(cn, "patient_date"));
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_note_naming_another_appointment_is_not_linked_by_date(pool: PgPool) {
    let mut tx = begin(&pool, "test").await;
    session(&mut tx, "A1", 7, DAY).await;
    // Appointment A2 is the same day, but its clinical note has not synced yet.
    let dc = note(&mut tx, Some("A2"), 7, DAY).await;
    tx.commit().await.unwrap();
    assert_eq!(link_all(&pool).await, did(0, 1));
    assert_eq!(state(&pool, dc).await, review("no match"));

    let mut tx = begin(&pool, "test").await;
    let cn = session(&mut tx, "A2", 7, DAY).await;
    tx.commit().await.unwrap();
    assert_eq!(link_all(&pool).await, did(1, 0));
    assert_eq!(state(&pool, dc).await, linked(cn, "appointment"));
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn soft_deleted_rows_neither_link_nor_count_as_matches(pool: PgPool) {
    let mut tx = begin(&pool, "test").await;
    let gone = session(&mut tx, "A1", 7, DAY).await;
    let cn = session(&mut tx, "A2", 7, DAY).await;
    let dc = note(&mut tx, None, 7, DAY).await;
    let deleted_note = note(&mut tx, None, 7, DAY).await;
    let delete = "with c as (update clinical_notes set deleted_at = now() where id = $1) \
                  update deepcura_notes set deleted_at = now() where id = $2";
    let query = sqlx::query(delete).bind(gone).bind(deleted_note);
    query.execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(link_all(&pool).await, did(1, 0));
    assert_eq!(state(&pool, dc).await, linked(cn, "patient_date"));
    assert_eq!(state(&pool, deleted_note).await.0, None);
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_second_run_changes_nothing(pool: PgPool) {
    let mut tx = begin(&pool, "test").await;
    session(&mut tx, "A1", 7, DAY).await;
    note(&mut tx, Some("A1"), 7, DAY).await;
    note(&mut tx, None, 9, DAY).await;
    tx.commit().await.unwrap();
    assert_eq!(link_all(&pool).await, did(1, 1));
    let outbox = "select count(*) from outbox";
    let (audits, events) = (audit_rows(&pool).await, common::count(&pool, outbox).await);
    assert_eq!(link_all(&pool).await, LinkCounts::default());
    let mut tx = begin(&pool, "drchrono_sync").await;
    for table in ["deepcura_notes", "clinical_notes", "appointments"] {
        assert_eq!(link(&mut tx, table).await, LinkCounts::default(), "{table}");
    }
    tx.commit().await.unwrap();
    assert_eq!(audit_rows(&pool).await, audits);
    assert_eq!(common::count(&pool, outbox).await, events);
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn already_linked_rows_are_never_relinked_or_changed(pool: PgPool) {
    let mut tx = begin(&pool, "test").await;
    let cn_a = session(&mut tx, "A1", 7, DAY).await;
    // Staff linked this note by hand to A1, though Deep Cura says A2 and it is still flagged.
    let manual = note(&mut tx, Some("A2"), 7, DAY).await;
    sqlx::query(
        "update deepcura_notes set clinical_note_id = $2, link_method = 'manual', \
         linked_at = '2026-03-03T10:00:00Z', needs_review = true, review_reason = 'checked' \
         where id = $1",
    )
    .bind(manual)
    .bind(cn_a)
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let before = row(&pool, manual).await;

    let mut tx = begin(&pool, "test").await;
    session(&mut tx, "A2", 7, DAY).await;
    tx.commit().await.unwrap();
    let audits = audit_rows(&pool).await;
    assert_eq!(link_all(&pool).await, LinkCounts::default());
    assert_eq!(audit_rows(&pool).await, audits);
    assert_eq!(row(&pool, manual).await, before);
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn the_review_queue_lists_ids_and_reasons_only(pool: PgPool) {
    let mut tx = begin(&pool, "test").await;
    sqlx::query(
        "insert into patients (drchrono_id, first_name, drchrono_raw) values (7, 'Ada', '{}')",
    )
    .execute(&mut *tx)
    .await
    .unwrap();
    session(&mut tx, "A1", 7, DAY).await;
    session(&mut tx, "A2", 7, DAY).await;
    let ambiguous = note(&mut tx, None, 7, DAY).await;
    let unmatched = note(&mut tx, None, 9, "2026-04-01").await;
    note(&mut tx, Some("A1"), 7, DAY).await;
    tx.commit().await.unwrap();
    link_all(&pool).await;

    let mut conn = pool.acquire().await.unwrap();
    let mut items = review_queue(&mut conn, &links()).await.unwrap();
    items.sort_by_key(|i| i.id);
    let item = |id, reason: &str| ReviewItem {
        id,
        rule: RULE.into(),
        reason: Some(reason.into()),
    };
    let ambiguity = "ambiguous: patient_date matched 2 clinical_notes";
    let mut expected = vec![item(ambiguous, ambiguity), item(unmatched, "no match")];
    expected.sort_by_key(|i| i.id);
    assert_eq!(items, expected);

    // The same through the binary: ids and reasons, no patient data.
    let stdout = runner(&pool, "review").await;
    assert!(stdout.contains(&ambiguous.to_string()), "{stdout}");
    assert!(stdout.contains(&unmatched.to_string()), "{stdout}");
    assert!(stdout.contains("no match"), "{stdout}");
    for phi in ["Ada", "low mood", "2026-03-02", "2026-04-01", "A1"] {
        assert!(!stdout.contains(phi), "`{phi}` leaked into: {stdout}");
    }
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn runner_link_reruns_every_rule_as_link_rules_and_prints_counts(pool: PgPool) {
    let mut tx = begin(&pool, "test").await;
    let cn = session(&mut tx, "A1", 7, DAY).await;
    let dc = note(&mut tx, Some("A1"), 7, DAY).await;
    note(&mut tx, None, 9, DAY).await;
    tx.commit().await.unwrap();

    let stdout = runner(&pool, "link").await;
    assert!(
        stdout.contains("Linked 1 row(s); flagged 1 for review; 1 wait for review."),
        "{stdout}"
    );
    assert_eq!(state(&pool, dc).await, linked(cn, "appointment"));
    assert_eq!(link_actors(&pool).await, ["link_rules"]);
    let again = runner(&pool, "link").await;
    assert!(
        again.contains("Linked 0 row(s); flagged 0 for review; 1 wait"),
        "{again}"
    );
}
