//! The compiled, statement-level audit (migration 0014): generated from each table's current
//! columns, writing exactly what the generic row trigger `audit_row()` (0002) writes.

use serde_json::Value;
use sqlx::{AssertSqlSafe, PgConnection, PgPool};

/// Statements touching every case of the audit rules: inserts with nulls and JSON nulls, a
/// multi-row upsert that changes a field, only the raw object, or nothing; bookkeeping-only
/// updates (the digest too); a soft delete and its undo; a composite natural key; a table without outbox; hard
/// deletes, one cascading into a referencing table.
const SCRIPT: &str = "
INSERT INTO patients (id, drchrono_id, first_name, last_name, email, drchrono_raw, source_updated_at,
                      created_at, updated_at, synced_at)
VALUES ('00000000-0000-0000-0000-000000000001', 1, 'Ann', NULL, 'Ann@Example.org', '{\"a\": 1}',
        '2026-01-01T00:00:00Z', '2026-01-01Z', '2026-01-01Z', '2026-01-01Z'),
       ('00000000-0000-0000-0000-000000000002', 2, 'Bob', 'Brown', NULL, '{\"b\": null}', NULL,
        '2026-01-01Z', '2026-01-01Z', '2026-01-01Z');
INSERT INTO patients AS t (id, drchrono_id, first_name, last_name, drchrono_raw, created_at, updated_at, synced_at)
VALUES ('00000000-0000-0000-0000-000000000011', 1, 'Anne', NULL, '{\"a\": 1}', '2026-01-02Z', '2026-01-02Z', '2026-01-02Z'),
       ('00000000-0000-0000-0000-000000000012', 2, 'Bob', 'Brown', '{\"b\": 2}', '2026-01-02Z', '2026-01-02Z', '2026-01-02Z'),
       ('00000000-0000-0000-0000-000000000003', 3, 'Cy', NULL, 'null', '2026-01-02Z', '2026-01-02Z', '2026-01-02Z')
ON CONFLICT (drchrono_id) DO UPDATE
   SET first_name = EXCLUDED.first_name, drchrono_raw = EXCLUDED.drchrono_raw,
       updated_at = EXCLUDED.updated_at;
UPDATE patients SET updated_at = '2026-02-01Z', synced_at = '2026-02-01Z';
UPDATE patients SET source_digest = '\\x01';
UPDATE patients SET first_name = first_name;
UPDATE patients SET deleted_at = '2026-03-01Z' WHERE drchrono_id = 2;
UPDATE patients SET last_name = NULL, deleted_at = NULL, date_of_birth = '1990-05-06' WHERE drchrono_id = 2;
INSERT INTO insurance_records (id, drchrono_patient_id, insurance_type, patient_id, insurance_company,
                               is_subscriber_the_patient, drchrono_raw, created_at, updated_at, synced_at)
VALUES ('00000000-0000-0000-0000-000000000021', 1, 'primary', '00000000-0000-0000-0000-000000000001',
        'Blue', true, '{}', '2026-01-01Z', '2026-01-01Z', '2026-01-01Z');
UPDATE insurance_records SET insurance_company = 'Green', is_subscriber_the_patient = NULL;
INSERT INTO staff_roles (id, email, role, created_at, updated_at)
VALUES ('00000000-0000-0000-0000-000000000031', 'a@example.org', 'viewer', '2026-01-01Z', '2026-01-01Z');
UPDATE staff_roles SET role = 'admin', display_name = 'A';
DELETE FROM staff_roles;
DELETE FROM patients WHERE drchrono_id IN (1, 3);
";

/// Every audit row of the transaction, in order, with the outbox event of each (if any).
async fn audit_trail(conn: &mut PgConnection) -> Vec<Value> {
    sqlx::query_scalar(
        "select to_jsonb(x) from (
             select c.table_name, c.record_id, c.natural_key, c.operation, c.changed_fields,
                    c.old_values, c.new_values, c.actor, o.operation as outbox_operation,
                    o.natural_key as outbox_key
               from change_log c left join outbox o on o.change_log_id = c.id
              order by c.id) x",
    )
    .fetch_all(conn)
    .await
    .unwrap()
}

/// Runs the script in a transaction that is rolled back, with the generic row trigger in
/// place of the compiled ones when `generic`, and returns the audit trail it wrote.
async fn run(pool: &PgPool, generic: bool) -> Vec<Value> {
    let mut tx = pool.begin().await.unwrap();
    if generic {
        let tables: Vec<(String, bool, Vec<String>)> =
            sqlx::query_as("select table_name, outbox, key_columns from audited_tables")
                .fetch_all(&mut *tx)
                .await
                .unwrap();
        for (table, outbox, keys) in tables {
            let mode = if outbox { "outbox" } else { "no_outbox" };
            let args: Vec<String> = keys.iter().map(|k| format!("'{k}'")).collect();
            let sql = format!(
                "drop trigger audit_insert on {table}; drop trigger audit_update on {table}; \
                 drop trigger audit_delete on {table}; \
                 create trigger audit after insert or update or delete on {table} \
                 for each row execute function audit_row('{mode}', {})",
                args.join(", ")
            );
            sqlx::raw_sql(AssertSqlSafe(sql))
                .execute(&mut *tx)
                .await
                .unwrap();
        }
    }
    sqlx::raw_sql("set local app.actor = 'test_sync'; set local timezone = 'Europe/Paris'")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::raw_sql(SCRIPT).execute(&mut *tx).await.unwrap();
    let trail = audit_trail(&mut tx).await;
    tx.rollback().await.unwrap();
    trail
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn the_compiled_audit_writes_exactly_what_the_generic_row_trigger_writes(pool: PgPool) {
    let compiled = run(&pool, false).await;
    let generic = run(&pool, true).await;
    // 2 inserts; an upsert: Ann renamed, Bob's raw only, Cy new; the soft delete and its undo;
    // insurance insert and update; staff insert, update and delete; two patient deletes
    // and the cascade that unlinks the insurance record.
    let ops: Vec<&str> = compiled
        .iter()
        .map(|r| r["operation"].as_str().unwrap())
        .collect();
    assert_eq!(ops.len(), 15, "{compiled:#?}");
    assert_eq!(compiled, generic);
    let soft: Vec<&Value> = compiled
        .iter()
        .filter(|r| r["outbox_operation"] == "SOFT_DELETE")
        .collect();
    assert_eq!(soft.len(), 1);
    assert!(
        compiled
            .iter()
            .filter(|r| r["table_name"] == "staff_roles")
            .all(|r| r["outbox_operation"].is_null())
    );
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn every_audited_table_runs_a_function_compiled_from_its_current_columns(pool: PgPool) {
    let tables: Vec<String> =
        sqlx::query_scalar("select table_name from audited_tables order by 1")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(tables.len(), 15);
    let source = "select prosrc from pg_proc where proname = 'audit_' || $1";
    for table in &tables {
        let before: String = sqlx::query_scalar(source)
            .bind(table)
            .fetch_one(&pool)
            .await
            .unwrap();
        // A migration that changes a table's columns must recompile its audit.
        sqlx::query("select audit_compile($1)")
            .bind(table)
            .execute(&pool)
            .await
            .unwrap();
        let after: String = sqlx::query_scalar(source)
            .bind(table)
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(before, after, "the audit of {table} is out of date");
        let triggers: Vec<String> = sqlx::query_scalar(
            "select tgname::text from pg_trigger where tgrelid = $1::regclass \
             and not tgisinternal order by 1",
        )
        .bind(table)
        .fetch_all(&pool)
        .await
        .unwrap();
        let digests: bool = sqlx::query_scalar(
            "select exists (select from information_schema.columns \
             where table_name = $1 and column_name = 'source_digest')",
        )
        .bind(table)
        .fetch_one(&pool)
        .await
        .unwrap();
        let mut expected = vec![
            "audit_delete",
            "audit_id_fixed",
            "audit_insert",
            "audit_update",
        ];
        // A table that keeps source digests (0018) clears them on any other write.
        if digests {
            expected.push("source_digest_clear");
        }
        assert_eq!(triggers, expected, "{table}");
    }
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn an_audited_row_keeps_its_id_and_a_write_without_actor_is_refused(pool: PgPool) {
    let mut tx = pool.begin().await.unwrap();
    let err =
        sqlx::query("insert into staff_roles (email, role) values ('a@example.org', 'viewer')")
            .execute(&mut *tx)
            .await
            .expect_err("no actor");
    assert_eq!(
        err.as_database_error().and_then(|e| e.code()).unwrap(),
        "AUD01"
    );
    tx.rollback().await.unwrap();

    let mut tx = pool.begin().await.unwrap();
    // A statement that touches no row needs no actor.
    sqlx::query("update staff_roles set role = 'admin' where false")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("set local app.actor = 'test'")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("insert into staff_roles (email, role) values ('a@example.org', 'viewer')")
        .execute(&mut *tx)
        .await
        .unwrap();
    let err = sqlx::query("update staff_roles set id = gen_random_uuid()")
        .execute(&mut *tx)
        .await
        .expect_err("an id change is refused");
    assert_eq!(
        err.as_database_error().and_then(|e| e.code()).unwrap(),
        "AUD02"
    );
}
