//! Admin actions, each a POST with a single-use form token: replay failed inbox entries, retry
//! dead letters, run a pipeline again, link a review item by hand or dismiss it. Forged, foreign
//! and replayed tokens are 403; so is any action of a read-only role; unknown records 404; a
//! link to a row that does not exist 422.

use axum::http::StatusCode;
use runner::server::router;
use sim::webhooks::DrChronoWebhooks;
use sqlx::PgPool;
use uuid::Uuid;

use super::{ADMIN, VIEWER, app_as, get, post, seed, state_as, views};
use crate::common;
use crate::webhooks::support::{SECRET, call, clinic, drain, first_patient};

async fn token(app: &axum::Router, _page: &str) -> String {
    super::token(app).await
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn forged_foreign_expired_and_replayed_form_tokens_are_403(pool: PgPool) {
    seed(&pool).await;
    let admin = app_as(&pool, ADMIN);
    let path = "/admin/failures/outbox/retry-all";
    assert_eq!(
        post(&admin, path, &[]).await.status,
        StatusCode::FORBIDDEN,
        "none"
    );
    assert_eq!(
        post(&admin, path, &[("csrf", "0123456789abcdef")])
            .await
            .status,
        StatusCode::FORBIDDEN,
        "forged"
    );
    // Another admin's token.
    super::exec_as(
        &pool,
        "t",
        "insert into staff_roles (email, role) values ('other@clinic.example', 'admin')",
    )
    .await;
    let theirs = token(&app_as(&pool, "other@clinic.example"), "/admin/failures").await;
    assert_eq!(
        post(&admin, path, &[("csrf", &theirs)]).await.status,
        StatusCode::FORBIDDEN
    );
    // Expired.
    let old = token(&admin, "/admin/failures").await;
    sqlx::query("update admin_csrf_tokens set expires_at = now() - interval '1 second'")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(
        post(&admin, path, &[("csrf", &old)]).await.status,
        StatusCode::FORBIDDEN
    );
    // A good token works once; the replay is refused.
    let good = token(&admin, "/admin/failures").await;
    let first = post(&admin, path, &[("csrf", &good)]).await;
    assert_eq!(first.status, StatusCode::SEE_OTHER, "{}", first.body);
    let again = post(&admin, path, &[("csrf", &good)]).await;
    assert_eq!(again.status, StatusCode::FORBIDDEN);
    assert!(again.body.contains("expired or was already used"));
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn read_only_roles_cannot_act_even_with_a_token(pool: PgPool) {
    let w = seed(&pool).await;
    let admin_token = token(&app_as(&pool, ADMIN), "/admin/review").await;
    let viewer = app_as(&pool, VIEWER);
    let link = format!(
        "/admin/review/deepcura_note_to_clinical_note/{}/link",
        w.review
    );
    for path in [
        link.as_str(),
        "/admin/failures/inbox/replay-all",
        "/admin/failures/outbox/retry-all",
        "/admin/failures/sync/patients/run",
    ] {
        let r = post(
            &viewer,
            path,
            &[("csrf", &admin_token), ("target", &w.note.to_string())],
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}");
        assert!(r.body.contains("only admins"), "{}", r.body);
    }
    let linked: Option<Uuid> =
        sqlx::query_scalar("select clinical_note_id from deepcura_notes where id = $1")
            .bind(w.review)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(linked, None, "nothing changed");
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_manual_link_is_audited_with_the_staff_member_as_actor(pool: PgPool) {
    let w = seed(&pool).await;
    let app = app_as(&pool, ADMIN);
    let path = format!(
        "/admin/review/deepcura_note_to_clinical_note/{}/link",
        w.review
    );
    let r = post(
        &app,
        &path,
        &[
            ("csrf", &token(&app, "/admin/review").await),
            ("target", &w.note.to_string()),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), "/admin/review?done=linked");
    let (note, method, review): (Option<Uuid>, Option<String>, bool) = sqlx::query_as(
        "select clinical_note_id, link_method, needs_review from deepcura_notes where id = $1",
    )
    .bind(w.review)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        (note, method.as_deref(), review),
        (Some(w.note), Some("manual"), false)
    );
    let (actor, fields): (String, Vec<String>) = sqlx::query_as(
        "select actor, changed_fields from change_log where table_name = 'deepcura_notes' \
         and record_id = $1 order by id desc limit 1",
    )
    .bind(w.review)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(actor, format!("admin:{ADMIN}"));
    assert!(
        fields.contains(&"link_method".to_string())
            && fields.contains(&"clinical_note_id".to_string())
    );
    let outbox = common::count(
        &pool,
        "select count(*) from outbox where table_name = 'deepcura_notes' and actor like 'admin:%'",
    )
    .await;
    assert_eq!(outbox, 1, "the change goes to Coda like any other");
    assert!(
        views(&pool)
            .await
            .iter()
            .any(|v| v.1 == "POST" && v.4 == [w.review, w.note])
    );
    let page = get(&app, r.location()).await.body;
    assert!(page.contains("Linked by hand") && page.contains("Nothing waits for review"));
    // Linking it again: it is no longer open.
    let again = post(
        &app,
        &path,
        &[
            ("csrf", &token(&app, "/admin/review").await),
            ("target", &w.other_note.to_string()),
        ],
    )
    .await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_link_to_a_row_that_does_not_exist_is_422_and_an_unknown_item_404(pool: PgPool) {
    let w = seed(&pool).await;
    let app = app_as(&pool, ADMIN);
    let path = format!(
        "/admin/review/deepcura_note_to_clinical_note/{}/link",
        w.review
    );
    let cases = [
        (
            "target_id",
            Uuid::new_v4().to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "target_id",
            w.patient.to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "target",
            "not-an-id".to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        ("nothing", String::new(), StatusCode::UNPROCESSABLE_ENTITY),
    ];
    for (field, value, want) in &cases {
        let csrf = token(&app, "/admin/review").await;
        let r = post(&app, &path, &[("csrf", &csrf), (field, value)]).await;
        assert_eq!(r.status, *want, "{field}={value}: {}", r.body);
    }
    for bad in [
        format!(
            "/admin/review/deepcura_note_to_clinical_note/{}/link",
            Uuid::new_v4()
        ),
        "/admin/review/deepcura_note_to_clinical_note/xyz/link".to_string(),
        format!("/admin/review/no_such_rule/{}/link", w.review),
    ] {
        let csrf = token(&app, "/admin/review").await;
        let r = post(
            &app,
            &bad,
            &[("csrf", &csrf), ("target", &w.note.to_string())],
        )
        .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{bad}");
    }
    assert_eq!(
        common::count(
            &pool,
            "select count(*) from change_log where actor like 'admin:%'"
        )
        .await,
        0,
        "nothing was written"
    );
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_dismissed_item_leaves_the_queue_and_the_rules_leave_it_alone(pool: PgPool) {
    let w = seed(&pool).await;
    let app = app_as(&pool, ADMIN);
    let path = format!(
        "/admin/review/deepcura_note_to_clinical_note/{}/dismiss",
        w.review
    );
    let empty = post(
        &app,
        &path,
        &[
            ("csrf", &token(&app, "/admin/review").await),
            ("reason", " "),
        ],
    )
    .await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = post(
        &app,
        &path,
        &[
            ("csrf", &token(&app, "/admin/review").await),
            ("reason", "test recording"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    // A later linking pass neither flags nor links it again.
    let mut tx = pool.begin().await.unwrap();
    runner::store::set_actor(&mut tx, "link_rules")
        .await
        .unwrap();
    let counts = runner::link::run_all(&mut tx, &super::plan().link_rules)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!((counts.linked, counts.review), (0, 0));
    let (flag, reason): (bool, Option<String>) =
        sqlx::query_as("select needs_review, review_reason from deepcura_notes where id = $1")
            .bind(w.review)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(
        (flag, reason.as_deref()),
        (false, Some("dismissed: test recording"))
    );
    let actor: String = sqlx::query_scalar(
        "select actor from change_log where record_id = $1 order by id desc limit 1",
    )
    .bind(w.review)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(actor, format!("admin:{ADMIN}"));
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_failed_inbox_entry_is_replayed_from_the_dashboard(pool: PgPool) {
    seed(&pool).await;
    // A DrChrono webhook whose processing failed (a mapping bug, since fixed).
    let mut broken = super::plan();
    let patients = broken
        .pipelines
        .iter_mut()
        .find(|p| p.mapping.name == "patients")
        .unwrap();
    patients
        .mapping
        .fields
        .iter_mut()
        .find(|f| f.name == "date_of_birth")
        .unwrap()
        .ty = runner::config::field_type::FieldType::Int;
    let broken = state_as(&pool, broken, ADMIN);
    let mut hooks = DrChronoWebhooks::new(SECRET, 31);
    let delivery = hooks.deliver("PATIENT_MODIFY", first_patient(&clinic()));
    call(&router(broken.clone()), &delivery).await;
    assert_eq!(drain(&broken).await.failed, 1);
    let id: i64 = sqlx::query_scalar("select id from inbox where status = 'failed'")
        .fetch_one(&pool)
        .await
        .unwrap();

    let fixed = state_as(&pool, super::plan(), ADMIN);
    let app = router(fixed.clone());
    let page = get(&app, "/admin/failures").await;
    assert!(
        page.body.contains(&format!("id=\"inbox-{id}\"")),
        "{}",
        page.body
    );
    let r = post(
        &app,
        &format!("/admin/failures/inbox/{id}/replay"),
        &[("csrf", &page.csrf())],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), "/admin/failures?done=replayed");
    // The inbox worker of the syncing role takes it.
    assert_eq!(drain(&fixed).await.processed, 1);
    let after = get(&app, "/admin/failures?done=replayed").await.body;
    assert!(!after.contains(&format!("id=\"inbox-{id}\"")));
    assert!(after.contains("back in the inbox"));
    // Unknown and non-failed entries.
    let csrf = token(&app, "/admin/failures").await;
    let r = post(
        &app,
        "/admin/failures/inbox/999999/replay",
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let csrf = token(&app, "/admin/failures").await;
    let r = post(
        &app,
        &format!("/admin/failures/inbox/{id}/replay"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn dead_letters_are_retried_and_a_failed_pipeline_runs_again(pool: PgPool) {
    seed(&pool).await;
    sqlx::query("update outbox set status = 'dead', attempts = 5, last_error = 'coda answered 400' where id = (select min(id) from outbox)")
        .execute(&pool)
        .await
        .unwrap();
    let sim = common::drchrono(2).await;
    let state = state_as(&pool, common::plan(sim.url()), ADMIN);
    let app = router(state.clone());
    let page = get(&app, "/admin/failures").await;
    assert!(page.body.contains("coda answered 400"));
    let dead: i64 = sqlx::query_scalar("select id from outbox where status = 'dead'")
        .fetch_one(&pool)
        .await
        .unwrap();
    let r = post(
        &app,
        &format!("/admin/failures/outbox/{dead}/retry"),
        &[("csrf", &page.csrf())],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        common::count(&pool, "select count(*) from outbox where status = 'dead'").await,
        0
    );

    let r = post(
        &app,
        "/admin/failures/sync/patients/run",
        &[("csrf", &token(&app, "/admin/failures").await)],
    )
    .await;
    assert_eq!(r.location(), "/admin/failures?done=requested");
    let r = post(
        &app,
        "/admin/failures/sync/patients/run",
        &[("csrf", &token(&app, "/admin/failures").await)],
    )
    .await;
    assert_eq!(
        r.location(),
        "/admin/failures?done=already_requested",
        "one open request per pipeline"
    );
    let r = post(
        &app,
        "/admin/failures/sync/nope/run",
        &[("csrf", &token(&app, "/admin/failures").await)],
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(
        get(&app, "/admin/failures")
            .await
            .body
            .contains("Requested")
    );
    // The syncing role takes the request and runs the pipeline.
    assert_eq!(
        runner::admin::run_requests(&state, "test").await.unwrap(),
        1
    );
    let last: String = sqlx::query_scalar(
        "select status from sync_log where pipeline = 'patients' and trigger = 'admin' order by started_at desc limit 1",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(last, "succeeded");
    let home = get(&app, "/admin").await.body;
    assert!(
        home.contains("<tr class=\"row-ok\">\n<th scope=\"row\">patients</th>"),
        "{home}"
    );
    let actions: Vec<String> = views(&pool)
        .await
        .into_iter()
        .filter(|v| v.1 == "POST")
        .map(|v| v.3)
        .collect();
    assert!(actions.contains(&"/admin/failures/outbox/{id}/retry".to_string()));
    assert!(actions.contains(&"/admin/failures/sync/{pipeline}/run".to_string()));
}
