//! Each page for each role, what it shows, and each bad input: read-only roles see, only the
//! pages their role includes; patient data appears in page bodies only, and every view of it
//! leaves an `access_log` row.

use axum::http::StatusCode;
use sqlx::PgPool;

use super::{ADMIN, BILLING, CLINICIAN, FRONT_DESK, VIEWER, app_as, get, seed, state_as, views};

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn each_role_sees_exactly_the_pages_its_role_includes(pool: PgPool) {
    let w = seed(&pool).await;
    let record = format!("/admin/audit/patients/{}", w.patient);
    let csv = format!("/admin/audit/patients/{}/disclosures.csv", w.patient);
    let pages = [
        "/admin",
        "/admin/failures",
        "/admin/review",
        "/admin/audit",
        record.as_str(),
        csv.as_str(),
        "/admin/access",
    ];
    // (role, which of the pages above it sees)
    let matrix = [
        (ADMIN, [true, true, true, true, true, true, true]),
        (VIEWER, [true, true, true, true, true, true, true]),
        (CLINICIAN, [true, true, true, false, false, false, false]),
        (FRONT_DESK, [true, true, false, false, false, false, false]),
        (BILLING, [true, true, false, false, false, false, false]),
    ];
    for (email, sees) in matrix {
        let app = app_as(&pool, email);
        for (path, expected) in pages.iter().zip(sees) {
            let page = get(&app, path).await;
            let want = if expected {
                StatusCode::OK
            } else {
                StatusCode::FORBIDDEN
            };
            assert_eq!(page.status, want, "{email} {path}: {}", page.body);
            if !expected {
                assert!(page.body.contains("does not include this page"));
            }
        }
        // The nav offers only what the role sees.
        let home = get(&app, "/admin").await.body;
        assert_eq!(home.contains("href=\"/admin/audit\""), sees[3], "{email}");
        assert_eq!(home.contains("href=\"/admin/review\""), sees[2], "{email}");
    }
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn the_health_page_shows_a_failed_sync_with_its_reason_in_red(pool: PgPool) {
    seed(&pool).await;
    let page = get(&app_as(&pool, VIEWER), "/admin").await;
    assert_eq!(page.status, StatusCode::OK);
    let b = &page.body;
    assert!(b.contains("Needs attention"), "{b}");
    assert!(
        b.contains("<tr class=\"row-failing\">\n<th scope=\"row\">patients</th>"),
        "{b}"
    );
    assert!(b.contains("DrChrono answered 500 on /api/patients"));
    assert!(b.contains("<tr class=\"row-ok\">\n<th scope=\"row\">providers</th>"));
    assert!(
        b.contains("<span class=\"badge webhook\">Webhooks</span>"),
        "deepcura_notes"
    );
    assert!(
        b.contains("<svg class=\"chart\""),
        "the chart is inline SVG"
    );
    assert!(b.contains("1 succeeded, 1 failed"));
    assert!(b.contains("calls left in the last"), "the DrChrono budget");
    assert!(b.contains("0 dead letters"));
    // Read-only: no forms anywhere.
    assert!(!b.contains("<form method=\"post\""));
    assert_eq!(page.headers["cache-control"], "no-store");
    assert_eq!(page.headers["referrer-policy"], "no-referrer");
    assert!(
        page.headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );
    // Health shows no patient data: no view row.
    assert!(views(&pool).await.is_empty());
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn forms_are_for_admins_only(pool: PgPool) {
    seed(&pool).await;
    for (email, forms) in [(ADMIN, true), (VIEWER, false), (CLINICIAN, false)] {
        let app = app_as(&pool, email);
        for path in ["/admin/failures", "/admin/review"] {
            let body = get(&app, path).await.body;
            assert_eq!(body.contains("name=\"csrf\""), forms, "{email} {path}");
        }
    }
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn the_review_queue_shows_the_waiting_note_with_its_candidates_and_records_the_view(
    pool: PgPool,
) {
    let w = seed(&pool).await;
    let page = get(&app_as(&pool, CLINICIAN), "/admin/review").await;
    assert_eq!(page.status, StatusCode::OK);
    let b = &page.body;
    assert!(
        b.contains("deepcura_note_to_clinical_note: 1 waiting"),
        "{b}"
    );
    assert!(b.contains(&w.review.to_string()) && b.contains("no match"));
    let (first, second) = (
        b.find(&w.note.to_string()).expect("the better candidate"),
        b.find(&w.other_note.to_string())
            .expect("the other candidate"),
    );
    assert!(
        first < second,
        "candidates are ranked by the keys they share"
    );
    assert!(
        b.contains("patient_date"),
        "the rule that matches in full is named"
    );
    let v = views(&pool).await;
    assert_eq!(v.len(), 1);
    assert_eq!(
        (v[0].0.as_str(), v[0].1.as_str(), v[0].2.as_str()),
        (CLINICIAN, "GET", "review")
    );
    for id in [w.review, w.note, w.other_note] {
        assert!(v[0].4.contains(&id), "the view lists {id}");
    }
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn the_audit_trail_filters_and_pages_by_keyset_and_a_record_shows_its_history(pool: PgPool) {
    let w = seed(&pool).await;
    let app = app_as(&pool, VIEWER);
    // 120 more changes of the patient, so the trail has three pages.
    for i in 0..120 {
        super::exec_as(
            &pool,
            "sync:patients",
            &format!(
                "update patients set chart_id = 'C{i}' where id = '{}'",
                w.patient
            ),
        )
        .await;
    }
    let rows = |b: &str| b.matches("<td>sync:patients</td>").count();
    let first = get(&app, "/admin/audit?actor=sync%3Apatients").await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(rows(&first.body), 50);
    let next = first.next().expect("an older page");
    assert!(
        next.contains("before=") && next.contains("actor=sync%3Apatients"),
        "{next}"
    );
    let second = get(&app, &format!("/admin/audit?{next}")).await;
    assert_eq!(rows(&second.body), 50);
    let third = get(&app, &format!("/admin/audit?{}", second.next().unwrap())).await;
    assert_eq!(rows(&third.body), 20);
    assert!(third.next().is_none(), "the last page");

    let by_table = get(&app, "/admin/audit?table=deepcura_notes").await.body;
    assert!(by_table.contains(&w.review.to_string()) && !by_table.contains("<td>patients</td>"));
    let by_record = get(&app, &format!("/admin/audit?record={}", w.note))
        .await
        .body;
    assert_eq!(by_record.matches("<td>clinical_notes</td>").count(), 1);
    let by_day = get(&app, "/admin/audit?from=2000-01-01&to=2000-01-02")
        .await
        .body;
    assert!(by_day.contains("No change matches."));

    let history = get(&app, &format!("/admin/audit/patients/{}", w.patient)).await;
    assert_eq!(history.status, StatusCode::OK);
    assert!(history.body.contains("\"C119\""), "the newest value");
    assert!(
        history.body.contains(super::PHI[1]),
        "values are shown in the body"
    );
    assert!(history.body.contains("disclosures.csv"));
    let v = views(&pool).await;
    assert!(
        v.iter()
            .any(|r| r.3 == "/admin/audit/{table}/{id}" && r.4 == [w.patient])
    );
    assert!(
        v.iter()
            .filter(|r| r.3 == "/admin/audit")
            .all(|r| !r.4.is_empty())
    );
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn bad_filters_are_422_and_unknown_records_404(pool: PgPool) {
    seed(&pool).await;
    let app = app_as(&pool, ADMIN);
    for q in [
        "table=Patients%3Bdrop",
        "record=not-a-uuid",
        "from=yesterday",
        "to=2026-13-01",
        "before=abc",
    ] {
        let page = get(&app, &format!("/admin/audit?{q}")).await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY, "{q}");
        assert!(page.body.contains("Cannot do that"));
    }
    assert_eq!(
        get(&app, "/admin/access?system=ftp").await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let unknown = uuid::Uuid::new_v4();
    for path in [
        format!("/admin/audit/patients/{unknown}"),
        "/admin/audit/patients/not-an-id".to_string(),
        "/admin/audit/Bad-Table/x".to_string(),
        format!("/admin/audit/patients/{unknown}/disclosures.csv"),
        "/admin/nowhere".to_string(),
    ] {
        assert_eq!(
            get(&app, &path).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn the_access_log_shows_dashboard_views_and_api_calls_by_system(pool: PgPool) {
    let w = seed(&pool).await;
    sqlx::query(
        "insert into access_log (system, method, path_template, status_code, latency_ms, pipeline) \
         values ('drchrono', 'GET', '/api/patients', 429, 12, 'patients')",
    )
    .execute(&pool)
    .await
    .unwrap();
    let app = app_as(&pool, ADMIN);
    get(&app, &format!("/admin/audit/patients/{}", w.patient)).await;
    let page = get(&app, "/admin/access").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains(ADMIN) && page.body.contains("/admin/audit/{table}/{id}"));
    let calls = get(&app, "/admin/access?system=drchrono").await.body;
    assert!(
        calls.contains("/api/patients") && calls.contains("429"),
        "{calls}"
    );
    let mine = get(
        &app,
        &format!("/admin/access?actor={}", "nobody%40clinic.example"),
    )
    .await;
    assert!(mine.body.contains("Nothing recorded."));
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn the_stylesheet_is_embedded_and_served_to_staff(pool: PgPool) {
    seed(&pool).await;
    let css = get(&app_as(&pool, BILLING), "/admin/static/admin.css").await;
    assert_eq!(css.status, StatusCode::OK);
    assert!(
        css.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    assert!(css.body.contains("--ok"));
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn with_the_database_down_every_page_is_a_clear_503(pool: PgPool) {
    seed(&pool).await;
    let dead = sqlx::postgres::PgPoolOptions::new()
        .acquire_timeout(std::time::Duration::from_secs(1))
        .connect_lazy("postgres://postgres@127.0.0.1:9/none")
        .unwrap();
    let app = runner::server::router(state_as(&dead, super::plan(), ADMIN));
    for path in ["/admin", "/admin/review", "/admin/audit"] {
        let page = get(&app, path).await;
        assert_eq!(page.status, StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert!(page.body.contains("Database unavailable"), "{}", page.body);
        assert_eq!(page.headers["retry-after"], "30");
        assert!(
            page.headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
    }
}
