//! Metadata and media reads, deletes, and 404s.

use reqwest::StatusCode;

use crate::common::{BUCKET, NAME, assert_error, base64_be, bitwise_crc32c, noise, start};

#[tokio::test]
async fn metadata_and_media_read_back_what_was_uploaded() {
    let sim = start(|_| {}).await;
    let bytes = noise(10_000, 21);
    let (_, uploaded) = sim.upload(BUCKET, NAME, &bytes, &[]).await;
    let (status, meta) = sim.metadata(BUCKET, NAME).await;
    assert_eq!(status, StatusCode::OK, "{meta}");
    assert_eq!(meta, uploaded);

    let response = sim.media(BUCKET, NAME).await;
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    assert_eq!(header("content-type").as_deref(), Some("application/gzip"));
    assert_eq!(
        header("x-goog-generation"),
        meta["generation"].as_str().map(str::to_owned)
    );
    let hash = format!("crc32c={}", base64_be(bitwise_crc32c(&bytes)));
    assert_eq!(header("x-goog-hash"), Some(hash));
    assert_eq!(
        response.bytes().await.expect("body").as_ref(),
        bytes.as_slice()
    );

    let link = meta["mediaLink"].as_str().expect("mediaLink");
    let mut req = sim.http.get(link);
    if let Some(token) = &sim.token {
        req = req.bearer_auth(token);
    }
    let linked = req.send().await.expect("sent").bytes().await.expect("body");
    assert_eq!(linked.as_ref(), bytes.as_slice());
}

#[tokio::test]
async fn a_stale_generation_or_a_missing_object_is_404() {
    let sim = start(|_| {}).await;
    let (status, body) = sim.metadata(BUCKET, NAME).await;
    let message = assert_error(status, &body, StatusCode::NOT_FOUND, "notFound");
    assert_eq!(message, format!("No such object: {BUCKET}/{NAME}"));
    sim.upload(BUCKET, NAME, b"x", &[]).await;
    let url = sim.object_url(BUCKET, NAME, &[("generation", "1")]);
    let (status, body) = sim.json(sim.http.get(url)).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "notFound");
    let url = sim.object_url(BUCKET, NAME, &[("alt", "xml")]);
    let (status, body) = sim.json(sim.http.get(url)).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid");
}

#[tokio::test]
async fn an_unknown_bucket_is_404_for_every_call() {
    let sim = start(|_| {}).await;
    let (status, body) = sim.upload("no-such-bucket", NAME, b"x", &[]).await;
    let message = assert_error(status, &body, StatusCode::NOT_FOUND, "notFound");
    assert_eq!(message, "The specified bucket does not exist.");
    let (status, body) = sim.metadata("no-such-bucket", NAME).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "notFound");
    let (status, body) = sim.delete("no-such-bucket", NAME).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "notFound");
    assert!(sim.handle.state().objects("no-such-bucket").is_empty());
}

#[tokio::test]
async fn a_delete_removes_the_object_from_a_bucket_without_retention() {
    let sim = start(|_| {}).await;
    sim.upload(BUCKET, NAME, b"x", &[]).await;
    let (status, body) = sim.delete(BUCKET, NAME).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert!(sim.handle.state().object(BUCKET, NAME).is_none());
    let (status, body) = sim.delete(BUCKET, NAME).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "notFound");
}
