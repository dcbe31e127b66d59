//! `ifGenerationMatch` and the bucket retention policy.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use reqwest::StatusCode;

use crate::common::{BUCKET, LOCKED, NAME, RETENTION_SECS, assert_error, start};

#[tokio::test]
async fn if_generation_match_zero_refuses_a_second_upload() {
    let sim = start(|_| {}).await;
    let never_overwrite = [("ifGenerationMatch", "0")];
    let (status, first) = sim.upload(BUCKET, NAME, b"first", &never_overwrite).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let (status, body) = sim.upload(BUCKET, NAME, b"second", &never_overwrite).await;
    let message = assert_error(
        status,
        &body,
        StatusCode::PRECONDITION_FAILED,
        "conditionNotMet",
    );
    assert_eq!(
        message,
        "At least one of the pre-conditions you specified did not hold."
    );
    let stored = sim.handle.state().object(BUCKET, NAME).expect("stored");
    assert_eq!(stored.bytes, b"first");
    assert_eq!(
        stored.generation.to_string(),
        first["generation"].as_str().unwrap_or_default()
    );
    assert_eq!(sim.handle.state().upload_calls(), 2);
}

#[tokio::test]
async fn if_generation_match_names_the_generation_to_replace() {
    let sim = start(|_| {}).await;
    let (_, first) = sim.upload(BUCKET, NAME, b"first", &[]).await;
    let generation = first["generation"].as_str().expect("generation").to_owned();
    let (status, body) = sim
        .upload(BUCKET, NAME, b"x", &[("ifGenerationMatch", "12345")])
        .await;
    assert_error(
        status,
        &body,
        StatusCode::PRECONDITION_FAILED,
        "conditionNotMet",
    );
    let (status, body) = sim
        .upload(
            BUCKET,
            NAME,
            b"second",
            &[("ifGenerationMatch", &generation)],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = sim
        .upload(BUCKET, "new", b"x", &[("ifGenerationMatch", &generation)])
        .await;
    assert_error(
        status,
        &body,
        StatusCode::PRECONDITION_FAILED,
        "conditionNotMet",
    );
    let (status, body) = sim
        .upload(BUCKET, NAME, b"x", &[("ifGenerationMatch", "latest")])
        .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid");
}

#[tokio::test]
async fn retention_refuses_overwrite_and_delete_until_it_expires() {
    let sim = start(|_| {}).await;
    let (status, uploaded) = sim.upload(LOCKED, NAME, b"kept", &[]).await;
    assert_eq!(status, StatusCode::OK, "{uploaded}");
    let time = |key: &str| -> DateTime<Utc> {
        uploaded[key]
            .as_str()
            .and_then(|t| t.parse().ok())
            .expect("RFC 3339")
    };
    let secs = i64::try_from(RETENTION_SECS).expect("fits");
    assert_eq!(
        time("retentionExpirationTime") - time("timeCreated"),
        TimeDelta::seconds(secs)
    );

    let (status, body) = sim.upload(LOCKED, NAME, b"replaced", &[]).await;
    let message = assert_error(
        status,
        &body,
        StatusCode::FORBIDDEN,
        "retentionPolicyNotMet",
    );
    assert!(message.contains(&format!("'{LOCKED}/{NAME}'")), "{message}");
    let (status, body) = sim.delete(LOCKED, NAME).await;
    assert_error(
        status,
        &body,
        StatusCode::FORBIDDEN,
        "retentionPolicyNotMet",
    );
    let stored = sim
        .handle
        .state()
        .object(LOCKED, NAME)
        .expect("still there");
    assert_eq!(stored.bytes, b"kept");

    // ifGenerationMatch=0 is checked first: the runner sees "exists", not "retained".
    let (status, body) = sim
        .upload(LOCKED, NAME, b"x", &[("ifGenerationMatch", "0")])
        .await;
    assert_error(
        status,
        &body,
        StatusCode::PRECONDITION_FAILED,
        "conditionNotMet",
    );
    // A new name in the retained bucket is fine.
    let (status, body) = sim.upload(LOCKED, "other", b"x", &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    sim.handle
        .state()
        .advance_clock(Duration::from_secs(RETENTION_SECS + 1));
    let (status, body) = sim.delete(LOCKED, NAME).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, body) = sim.upload(LOCKED, NAME, b"again", &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(sim.handle.state().now() > time("retentionExpirationTime"));
}

#[tokio::test]
async fn a_bucket_created_at_runtime_gets_its_retention_policy() {
    let sim = start(|_| {}).await;
    sim.handle.state().create_bucket("late", Some(60));
    sim.upload("late", NAME, b"x", &[]).await;
    let (status, body) = sim.delete("late", NAME).await;
    assert_error(
        status,
        &body,
        StatusCode::FORBIDDEN,
        "retentionPolicyNotMet",
    );
    sim.handle.state().advance_clock(Duration::from_secs(61));
    let (status, _) = sim.delete("late", NAME).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}
