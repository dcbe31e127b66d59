//! Injected failures, lost answers and silent corruption.

use reqwest::StatusCode;
use sim::gcs::Corruption;

use crate::common::{BUCKET, NAME, assert_error, base64_be, bitwise_crc32c, noise, start};

const NEVER_OVERWRITE: [(&str, &str); 1] = [("ifGenerationMatch", "0")];

#[tokio::test]
async fn failed_uploads_store_nothing_and_a_retry_succeeds() {
    let sim = start(|_| {}).await;
    sim.handle.state().fail_next_uploads(2, 503);
    let bytes = noise(512, 2);
    for _ in 0..2 {
        let (status, body) = sim.upload(BUCKET, NAME, &bytes, &NEVER_OVERWRITE).await;
        assert_error(
            status,
            &body,
            StatusCode::SERVICE_UNAVAILABLE,
            "backendError",
        );
        assert!(sim.handle.state().object(BUCKET, NAME).is_none());
    }
    let (status, body) = sim.upload(BUCKET, NAME, &bytes, &NEVER_OVERWRITE).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["crc32c"], base64_be(bitwise_crc32c(&bytes)));
    assert_eq!(sim.handle.state().upload_calls(), 3);
}

#[tokio::test]
async fn an_injected_failure_comes_before_authentication() {
    let mut sim = start(|_| {}).await;
    sim.handle.state().fail_next_uploads(1, 429);
    sim.token = None;
    let (status, body) = sim.upload(BUCKET, NAME, b"x", &[]).await;
    assert_error(
        status,
        &body,
        StatusCode::TOO_MANY_REQUESTS,
        "rateLimitExceeded",
    );
    let (status, body) = sim.upload(BUCKET, NAME, b"x", &[]).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "required");
}

#[tokio::test]
async fn a_lost_answer_leaves_the_object_stored_and_the_retry_sees_it() {
    let sim = start(|_| {}).await;
    sim.handle.state().lose_next_upload_responses(1, 503);
    let bytes = noise(2048, 9);
    let (status, body) = sim.upload(BUCKET, NAME, &bytes, &NEVER_OVERWRITE).await;
    assert_error(
        status,
        &body,
        StatusCode::SERVICE_UNAVAILABLE,
        "backendError",
    );
    let (status, body) = sim.upload(BUCKET, NAME, &bytes, &NEVER_OVERWRITE).await;
    assert_error(
        status,
        &body,
        StatusCode::PRECONDITION_FAILED,
        "conditionNotMet",
    );
    let (status, meta) = sim.metadata(BUCKET, NAME).await;
    assert_eq!(status, StatusCode::OK, "{meta}");
    assert_eq!(meta["crc32c"], base64_be(bitwise_crc32c(&bytes)));
    assert_eq!(meta["size"], bytes.len().to_string());
}

#[tokio::test]
async fn a_corrupt_checksum_is_reported_once_while_the_bytes_are_intact() {
    let sim = start(|_| {}).await;
    sim.handle
        .state()
        .corrupt_next_uploads(1, Corruption::Crc32c);
    let bytes = noise(1000, 4);
    let expected = base64_be(bitwise_crc32c(&bytes));
    let (status, body) = sim.upload(BUCKET, NAME, &bytes, &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_ne!(body["crc32c"], expected);
    assert!(
        body["crc32c"]
            .as_str()
            .and_then(sim::gcs::crc32c::from_base64)
            .is_some(),
        "still a well-formed checksum: {body}"
    );
    assert_eq!(body["size"], "1000");
    let (_, meta) = sim.metadata(BUCKET, NAME).await;
    assert_eq!(meta["crc32c"], expected);
    assert_eq!(
        sim.handle.state().object(BUCKET, NAME).map(|o| o.bytes),
        Some(bytes)
    );
}

#[tokio::test]
async fn a_corrupt_size_is_reported_once() {
    let sim = start(|_| {}).await;
    sim.handle.state().corrupt_next_uploads(1, Corruption::Size);
    let (_, body) = sim.upload(BUCKET, NAME, b"twelve bytes", &[]).await;
    assert_eq!(body["size"], "13");
    assert_eq!(body["crc32c"], base64_be(bitwise_crc32c(b"twelve bytes")));
    let (_, meta) = sim.metadata(BUCKET, NAME).await;
    assert_eq!(meta["size"], "12");
}

#[tokio::test]
async fn corrupt_bytes_are_described_honestly_and_differ_from_those_sent() {
    let sim = start(|_| {}).await;
    sim.handle
        .state()
        .corrupt_next_uploads(2, Corruption::Bytes);
    let bytes = noise(300, 8);
    let (_, body) = sim.upload(BUCKET, NAME, &bytes, &[]).await;
    assert_ne!(body["crc32c"], base64_be(bitwise_crc32c(&bytes)));
    assert_eq!(body["size"], "300");
    let stored = sim.media(BUCKET, NAME).await.bytes().await.expect("body");
    assert_ne!(stored.as_ref(), bytes.as_slice());
    assert_eq!(body["crc32c"], base64_be(bitwise_crc32c(&stored)));
    let (_, empty) = sim.upload(BUCKET, "empty", b"", &[]).await;
    assert_eq!(empty["size"], "1");
}

#[tokio::test]
async fn faults_are_taken_in_order_and_can_be_cleared() {
    let sim = start(|_| {}).await;
    let state = sim.handle.state();
    state.fail_next_uploads(1, 500);
    state.corrupt_next_uploads(1, Corruption::Size);
    state.fail_next_uploads(5, 503);
    let (status, _) = sim.upload(BUCKET, "a", b"x", &[]).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    let (status, body) = sim.upload(BUCKET, "b", b"x", &[]).await;
    assert_eq!((status, body["size"].as_str()), (StatusCode::OK, Some("2")));
    let (status, _) = sim.upload(BUCKET, "c", b"x", &[]).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    state.clear_faults();
    let (status, body) = sim.upload(BUCKET, "c", b"x", &[]).await;
    assert_eq!((status, body["size"].as_str()), (StatusCode::OK, Some("1")));
    assert_eq!(state.upload_calls(), 4);
    assert_eq!(state.objects(BUCKET), vec!["b".to_owned(), "c".to_owned()]);
}
