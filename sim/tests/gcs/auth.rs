//! Bearer authentication and request validation.

use reqwest::StatusCode;

use crate::common::{BUCKET, NAME, assert_error, start};

#[tokio::test]
async fn calls_without_the_configured_token_get_401() {
    let sim = start(|_| {}).await;
    sim.handle
        .state()
        .insert_object(BUCKET, NAME, b"x".to_vec(), "application/gzip");
    let cases = [
        (None, "required"),
        (Some("Bearer wrong"), "authError"),
        (Some("Basic c2ltLWdjcy10b2tlbg=="), "authError"),
        (Some("sim-gcs-token"), "authError"),
    ];
    for (header, reason) in cases {
        let requests = [
            sim.http.post(sim.upload_url(BUCKET, "new", &[])).body("x"),
            sim.http.get(sim.object_url(BUCKET, NAME, &[])),
            sim.http
                .get(sim.object_url(BUCKET, NAME, &[("alt", "media")])),
            sim.http.delete(sim.object_url(BUCKET, NAME, &[])),
        ];
        for mut req in requests {
            if let Some(h) = header {
                req = req.header("authorization", h);
            }
            let response = req.send().await.expect("sent");
            let status = response.status();
            let body = response.json().await.unwrap_or_default();
            assert_error(status, &body, StatusCode::UNAUTHORIZED, reason);
            assert_eq!(body["error"]["errors"][0]["location"], "Authorization");
        }
    }
    assert_eq!(sim.handle.state().objects(BUCKET), vec![NAME.to_owned()]);
    assert_eq!(sim.handle.state().upload_calls(), 4);
}

#[tokio::test]
async fn without_a_configured_token_requests_are_anonymous() {
    let mut sim = start(|c| c.token = None).await;
    sim.token = None;
    let (status, body) = sim.upload(BUCKET, NAME, b"x", &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    sim.token = Some("anything".into());
    let (status, body) = sim.metadata(BUCKET, NAME).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn a_custom_token_replaces_the_default() {
    let mut sim = start(|c| c.token = Some("ya29.test".into())).await;
    let (status, body) = sim.metadata(BUCKET, NAME).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "authError");
    sim.token = Some("ya29.test".into());
    let (status, body) = sim.upload(BUCKET, NAME, b"x", &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn uploads_need_a_name_and_the_media_upload_type() {
    let sim = start(|_| {}).await;
    let cases: [(&[(&str, &str)], &str); 5] = [
        (&[("uploadType", "media")], "required"),
        (&[("uploadType", "media"), ("name", "")], "required"),
        (&[("name", NAME)], "required"),
        (&[("uploadType", "resumable"), ("name", NAME)], "invalid"),
        (&[("uploadType", "media"), ("name", "..")], "invalid"),
    ];
    for (query, reason) in cases {
        let url = sim.url(&["upload", "storage", "v1", "b", BUCKET, "o"], query);
        let (status, body) = sim.json(sim.http.post(url).body("x")).await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, reason);
    }
    assert!(sim.handle.state().objects(BUCKET).is_empty());
    assert_eq!(sim.handle.state().upload_calls(), 5);
}
