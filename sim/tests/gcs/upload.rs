//! Media uploads: the object resource answered, and what is stored.

use chrono::{DateTime, Utc};
use reqwest::StatusCode;

use crate::common::{BUCKET, NAME, base64_be, bitwise_crc32c, noise, start};

#[tokio::test]
async fn an_upload_answers_the_object_resource() {
    let sim = start(|_| {}).await;
    let bytes = noise(4096, 7);
    let (status, body) = sim
        .upload(BUCKET, NAME, &bytes, &[("ifGenerationMatch", "0")])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let generation = body["generation"].as_str().expect("generation is a string");
    let generation: i64 = generation.parse().expect("decimal");
    assert!(
        generation > 1_600_000_000_000_000,
        "microseconds: {generation}"
    );
    assert_eq!(body["kind"], "storage#object");
    assert_eq!(body["id"], format!("{BUCKET}/{NAME}/{generation}"));
    assert_eq!(body["name"], NAME);
    assert_eq!(body["bucket"], BUCKET);
    assert_eq!(body["metageneration"], "1");
    assert_eq!(body["contentType"], "application/gzip");
    assert_eq!(body["storageClass"], "STANDARD");
    assert_eq!(body["size"], "4096");
    assert_eq!(body["crc32c"], base64_be(bitwise_crc32c(&bytes)));
    assert!(body.get("retentionExpirationTime").is_none(), "{body}");
    let encoded = "audit%2F2024%2F01%2Faudit_log_p2024_01.jsonl.gz";
    let base = sim.handle.url();
    assert_eq!(
        body["selfLink"],
        format!("{base}/storage/v1/b/{BUCKET}/o/{encoded}")
    );
    assert_eq!(
        body["mediaLink"],
        format!(
            "{base}/download/storage/v1/b/{BUCKET}/o/{encoded}?generation={generation}&alt=media"
        )
    );
    let created: DateTime<Utc> = body["timeCreated"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .expect("RFC 3339");
    assert!((Utc::now() - created).num_seconds().abs() < 60);
    assert_eq!(body["updated"], body["timeCreated"]);
    assert!(body["etag"].as_str().is_some_and(|e| !e.is_empty()));

    let stored = sim.handle.state().object(BUCKET, NAME).expect("stored");
    assert_eq!(stored.bytes, bytes);
    assert_eq!(stored.generation, generation);
    assert_eq!(stored.crc32c, bitwise_crc32c(&bytes));
    assert_eq!(stored.content_type, "application/gzip");
    assert_eq!(sim.handle.state().objects(BUCKET), vec![NAME.to_owned()]);
    assert_eq!(sim.handle.state().upload_calls(), 1);
}

#[tokio::test]
async fn crc32c_and_size_match_an_independent_computation() {
    let sim = start(|_| {}).await;
    let bodies = [
        Vec::new(),
        b"123456789".to_vec(),
        vec![0u8; 32],
        noise(1, 3),
        noise(100_003, 11),
        noise(3 * 1024 * 1024, 5),
    ];
    for (i, bytes) in bodies.iter().enumerate() {
        let name = format!("part-{i}.jsonl.gz");
        let (status, body) = sim.upload(BUCKET, &name, bytes, &[]).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["size"], bytes.len().to_string());
        let crc = bitwise_crc32c(bytes);
        assert_eq!(body["crc32c"], base64_be(crc), "body {i}");
        assert_eq!(sim::gcs::crc32c::crc32c(bytes), crc);
        let (_, meta) = sim.metadata(BUCKET, &name).await;
        assert_eq!(meta["crc32c"], body["crc32c"]);
    }
    assert_eq!(bitwise_crc32c(b"123456789"), 0xE306_9283);
    assert_eq!(sim.handle.state().objects(BUCKET).len(), bodies.len());
}

#[tokio::test]
async fn without_a_content_type_the_object_is_octet_stream() {
    let sim = start(|_| {}).await;
    let req = sim
        .http
        .post(sim.upload_url(BUCKET, "plain", &[]))
        .body(b"x".to_vec());
    let (status, body) = sim.json(req).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["contentType"], "application/octet-stream");
}

#[tokio::test]
async fn without_retention_an_upload_replaces_the_object_with_a_new_generation() {
    let sim = start(|_| {}).await;
    let (_, first) = sim.upload(BUCKET, NAME, b"one", &[]).await;
    let (status, second) = sim.upload(BUCKET, NAME, b"two", &[]).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    let generation = |v: &serde_json::Value| -> i64 {
        v["generation"]
            .as_str()
            .and_then(|g| g.parse().ok())
            .expect("generation")
    };
    assert!(generation(&second) > generation(&first));
    assert_ne!(second["etag"], first["etag"]);
    let stored = sim.handle.state().object(BUCKET, NAME).expect("stored");
    assert_eq!(stored.bytes, b"two");
    assert_eq!(stored.generation, generation(&second));
}

#[tokio::test]
async fn objects_can_be_seeded_through_the_state() {
    let sim = start(|_| {}).await;
    let seeded = sim
        .handle
        .state()
        .insert_object(BUCKET, NAME, b"seed".to_vec(), "application/gzip")
        .expect("bucket exists");
    assert!(
        sim.handle
            .state()
            .insert_object("nope", NAME, Vec::new(), "x")
            .is_none()
    );
    let (status, meta) = sim.metadata(BUCKET, NAME).await;
    assert_eq!(status, StatusCode::OK, "{meta}");
    assert_eq!(meta["generation"], seeded.generation.to_string());
    assert_eq!(meta["crc32c"], seeded.crc32c_base64());
    assert_eq!(sim.handle.state().upload_calls(), 0);
}
