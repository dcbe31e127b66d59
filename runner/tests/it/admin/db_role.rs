//! The dashboard under the `api` role's database role (`clinical_writeback`, as in GCP): every
//! page reads what it shows and every admin action does what it must, with no more privilege
//! than 0010_admin.sql grants; the audit trail stays append-only.

use axum::http::StatusCode;
use runner::server::router;
use sqlx::PgPool;

use super::{ADMIN, get, post, seed, state_as};
use crate::common;

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn every_page_and_action_works_as_the_api_roles_database_role(pool: PgPool) {
    let w = seed(&pool).await;
    sqlx::raw_sql(
        "update outbox set status = 'dead', last_error = 'coda answered 400' where id = (select min(id) from outbox);
         insert into inbox (source, delivery_id, event, body, status, attempts, error)
           values ('drchrono', 'd-1', 'PATIENT_MODIFY', '\\x7b7d', 'failed', 1, 'field date_of_birth: not an integer');",
    )
    .execute(&pool)
    .await
    .unwrap();
    let db = common::database_name(&pool).await;
    let login = common::login_name(&db, "api");
    let _ = sqlx::query(sqlx::AssertSqlSafe(format!("drop role if exists {login}")))
        .execute(&pool)
        .await;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "create role {login} login in role clinical_writeback"
    )))
    .execute(&pool)
    .await
    .unwrap();
    let api = PgPool::connect(&format!(
        "postgres://{}@127.0.0.1:5432/{db}",
        login.as_str()
    ))
    .await
    .unwrap();
    let app = router(state_as(&api, super::plan(), ADMIN));
    for path in [
        "/admin".to_string(),
        "/admin/failures".to_string(),
        "/admin/review".to_string(),
        "/admin/audit?actor=link_rules".to_string(),
        format!("/admin/audit/deepcura_notes/{}", w.review),
        format!("/admin/audit/patients/{}/disclosures.csv", w.patient),
        "/admin/access".to_string(),
        "/admin/access?system=drchrono".to_string(),
    ] {
        let page = get(&app, &path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}: {}", page.body);
    }
    let act = |path: String| {
        let app = app.clone();
        async move {
            let csrf = super::token(&app).await;
            let r = post(
                &app,
                &path,
                &[("csrf", &csrf), ("target", &w.note.to_string())],
            )
            .await;
            assert_eq!(r.status, StatusCode::SEE_OTHER, "{path}: {}", r.body);
        }
    };
    act("/admin/failures/inbox/replay-all".into()).await;
    act("/admin/failures/outbox/retry-all".into()).await;
    act("/admin/failures/sync/patients/run".into()).await;
    act(format!(
        "/admin/review/deepcura_note_to_clinical_note/{}/link",
        w.review
    ))
    .await;
    assert_eq!(
        common::count(
            &pool,
            "select count(*) from inbox where status = 'received'"
        )
        .await,
        1
    );
    assert_eq!(
        common::count(&pool, "select count(*) from sync_requests").await,
        1
    );
    assert_eq!(
        common::count(
            &pool,
            "select count(*) from deepcura_notes where link_method = 'manual'"
        )
        .await,
        1
    );
    // Still least privilege: no raw webhook bodies, no clinical writes, no audit rewrites.
    for sql in [
        "select body from inbox",
        "update patients set first_name = 'x'",
        "delete from change_log",
        "update deepcura_notes set subjective = 'x'",
    ] {
        let e = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
            .execute(&api)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("permission denied"), "{sql}: {e}");
    }
    api.close().await;
    sqlx::query(sqlx::AssertSqlSafe(format!("drop role {login}")))
        .execute(&pool)
        .await
        .unwrap();
}
