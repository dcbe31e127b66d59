//! The accounting of disclosures of one patient: every change to any of their records and
//! every dashboard view of one, in a CSV; and no patient data in logs, URLs or metrics.

use axum::http::StatusCode;
use sqlx::PgPool;

use super::{ADMIN, PHI, VIEWER, app_as, get, post, seed};
use crate::common::LogCapture;

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn the_disclosure_csv_lists_every_change_and_every_view_of_the_patient(pool: PgPool) {
    let w = seed(&pool).await;
    super::exec_as(
        &pool,
        "coda:frontdesk@clinic.example",
        &format!(
            "insert into intake_checklists (appointment_id, forms_received) values ('{}', true)",
            w.appointment
        ),
    )
    .await;
    let admin = app_as(&pool, ADMIN);
    let viewer = app_as(&pool, VIEWER);
    // Views: a record history by the viewer, the review queue and a manual link by the admin.
    get(&viewer, &format!("/admin/audit/clinical_notes/{}", w.note)).await;
    let review = get(&admin, "/admin/review").await;
    let path = format!(
        "/admin/review/deepcura_note_to_clinical_note/{}/link",
        w.review
    );
    post(
        &admin,
        &path,
        &[("csrf", &review.csrf()), ("target", &w.note.to_string())],
    )
    .await;

    let csv = get(
        &viewer,
        &format!("/admin/audit/patients/{}/disclosures.csv", w.patient),
    )
    .await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(
        csv.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert!(
        csv.headers["content-disposition"]
            .to_str()
            .unwrap()
            .contains("attachment")
    );
    let lines: Vec<&str> = csv.raw.lines().collect();
    assert_eq!(
        lines[0],
        "time_utc,kind,who,what,record_ids,operation,detail"
    );
    let has = |kind: &str, who: &str, what: &str| {
        lines.iter().any(|l| {
            let c: Vec<&str> = l.split(',').collect();
            c.len() == 7 && c[1] == kind && c[2] == who && c[3] == what
        })
    };
    // Every change of every record of the patient.
    let changes: i64 = sqlx::query_scalar(
        "select count(*) from change_log where record_id in ($1, $2, $3, $4, $5) \
            or table_name = 'intake_checklists'",
    )
    .bind(w.patient)
    .bind(w.appointment)
    .bind(w.note)
    .bind(w.other_note)
    .bind(w.review)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        lines.iter().filter(|l| l.contains(",change,")).count() as i64,
        changes
    );
    assert!(has("change", "test-setup", "patients"));
    assert!(has("change", "test-setup", "appointments"));
    assert!(has("change", "link_rules", "deepcura_notes"));
    assert!(has("change", &format!("admin:{ADMIN}"), "deepcura_notes"));
    assert!(
        has(
            "change",
            "coda:frontdesk@clinic.example",
            "intake_checklists"
        ),
        "through the appointment"
    );
    // Every view, and the action, including this export.
    assert!(has("view", VIEWER, "/admin/audit/{table}/{id}"));
    assert!(has("view", ADMIN, "/admin/review"));
    assert!(has("action", ADMIN, "/admin/review/{rule}/{id}/link"));
    assert!(has(
        "view",
        VIEWER,
        "/admin/audit/patients/{id}/disclosures.csv"
    ));
    // Who and what, never the record's values.
    for phi in PHI {
        assert!(!csv.raw.contains(phi), "{phi} in the report");
    }
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn patient_data_stays_in_page_bodies_never_in_logs_urls_or_metrics(pool: PgPool) {
    let w = seed(&pool).await;
    let logs = LogCapture::start();
    let admin = app_as(&pool, ADMIN);
    let mut bodies = String::new();
    let mut links = Vec::new();
    for path in [
        "/admin".to_string(),
        "/admin/failures".to_string(),
        "/admin/review".to_string(),
        "/admin/audit".to_string(),
        format!("/admin/audit/patients/{}", w.patient),
        format!("/admin/audit/deepcura_notes/{}", w.review),
        "/admin/access".to_string(),
        format!("/admin/audit/patients/{}/disclosures.csv", w.patient),
    ] {
        let page = get(&admin, &path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        bodies.push_str(&page.body);
        links.extend(
            page.body
                .split("href=\"")
                .skip(1)
                .map(|h| h[..h.find('"').unwrap()].to_string()),
        );
        links.extend(
            page.body
                .split("action=\"")
                .skip(1)
                .map(|h| h[..h.find('"').unwrap()].to_string()),
        );
    }
    let review = get(&admin, "/admin/review").await;
    let link = format!(
        "/admin/review/deepcura_note_to_clinical_note/{}/link",
        w.review
    );
    post(
        &admin,
        &link,
        &[("csrf", &review.csrf()), ("target", "not-an-id")],
    )
    .await;
    assert!(bodies.contains(PHI[0]), "the pages do show the patient");
    let phi: Vec<String> = PHI.iter().map(|s| s.to_string()).collect();
    logs.assert_free_of(&phi);
    for l in &links {
        for p in PHI {
            assert!(!l.contains(p), "a link carries patient data: {l}");
        }
    }
    let metrics = runner::telemetry::metrics::metrics().encode();
    for p in PHI {
        assert!(!metrics.contains(p));
    }
    let logged = logs.text();
    assert!(!logged.contains("feeling better"), "note text logged");
}
