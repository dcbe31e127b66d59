//! Spawning a Cloud Storage simulator on an ephemeral port with two buckets, talking to it,
//! and an independent (bitwise) CRC32C.

use base64::Engine as _;
use reqwest::{StatusCode, Url};
use serde_json::Value;
use sim::gcs::{DEFAULT_TOKEN, GcsConfig, GcsHandle, GcsSim};

/// A bucket without a retention policy.
pub(crate) const BUCKET: &str = "audit-archive";
/// A bucket with a seven-year retention policy.
pub(crate) const LOCKED: &str = "audit-locked";
/// [`LOCKED`]'s retention period: 7 x 365 days in seconds.
pub(crate) const RETENTION_SECS: u64 = 220_752_000;
/// The object name most tests use (slashes included, as the archiver's are).
pub(crate) const NAME: &str = "audit/2024/01/audit_log_p2024_01.jsonl.gz";

/// A running simulator and an HTTP client.
pub(crate) struct Sim {
    pub handle: GcsHandle,
    pub http: reqwest::Client,
    pub token: Option<String>,
}

/// Starts a simulator with [`BUCKET`] and [`LOCKED`], after the tweaks.
pub(crate) async fn start(tweak: impl FnOnce(&mut GcsConfig)) -> Sim {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut config = GcsConfig {
        buckets: vec![
            (BUCKET.to_owned(), None),
            (LOCKED.to_owned(), Some(RETENTION_SECS)),
        ],
        ..GcsConfig::default()
    };
    tweak(&mut config);
    let handle = GcsSim::new(config)
        .spawn(([127, 0, 0, 1], 0).into())
        .await
        .expect("simulator starts");
    Sim {
        handle,
        http: reqwest::Client::new(),
        token: Some(DEFAULT_TOKEN.to_owned()),
    }
}

impl Sim {
    /// `{base}/{segments...}?{query}`, each segment percent-encoded (`/` as `%2F`).
    pub(crate) fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> Url {
        let mut url = Url::parse(self.handle.url()).expect("base URL");
        url.path_segments_mut().expect("base URL").extend(segments);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    /// The upload URL for `name` in `bucket`, with `uploadType=media` and `extra`.
    pub(crate) fn upload_url(&self, bucket: &str, name: &str, extra: &[(&str, &str)]) -> Url {
        let mut query = vec![("uploadType", "media"), ("name", name)];
        query.extend_from_slice(extra);
        self.url(&["upload", "storage", "v1", "b", bucket, "o"], &query)
    }

    /// The object's URL, with `query`.
    pub(crate) fn object_url(&self, bucket: &str, name: &str, query: &[(&str, &str)]) -> Url {
        self.url(&["storage", "v1", "b", bucket, "o", name], query)
    }

    /// Sends `req` with the bearer token (if any); returns the status and JSON body.
    pub(crate) async fn json(&self, mut req: reqwest::RequestBuilder) -> (StatusCode, Value) {
        if let Some(token) = &self.token {
            req = req.bearer_auth(token);
        }
        let response = req.send().await.expect("request is sent");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Uploads `bytes` as `name` in `bucket` (`application/gzip`), with `extra` parameters.
    pub(crate) async fn upload(
        &self,
        bucket: &str,
        name: &str,
        bytes: &[u8],
        extra: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let req = self
            .http
            .post(self.upload_url(bucket, name, extra))
            .header("content-type", "application/gzip")
            .body(bytes.to_vec());
        self.json(req).await
    }

    /// GETs the object's metadata.
    pub(crate) async fn metadata(&self, bucket: &str, name: &str) -> (StatusCode, Value) {
        self.json(self.http.get(self.object_url(bucket, name, &[])))
            .await
    }

    /// GETs the object's bytes (`alt=media`); asserts 200.
    pub(crate) async fn media(&self, bucket: &str, name: &str) -> reqwest::Response {
        let mut req = self
            .http
            .get(self.object_url(bucket, name, &[("alt", "media")]));
        if let Some(token) = &self.token {
            req = req.bearer_auth(token);
        }
        let response = req.send().await.expect("request is sent");
        assert_eq!(response.status(), StatusCode::OK);
        response
    }

    /// DELETEs the object.
    pub(crate) async fn delete(&self, bucket: &str, name: &str) -> (StatusCode, Value) {
        self.json(self.http.delete(self.object_url(bucket, name, &[])))
            .await
    }
}

/// Asserts Google's error shape, the status and the reason; returns the message.
pub(crate) fn assert_error(
    status: StatusCode,
    body: &Value,
    expected: StatusCode,
    reason: &str,
) -> String {
    assert_eq!(status, expected, "{body}");
    let error = &body["error"];
    assert_eq!(error["code"], expected.as_u16(), "{body}");
    let errors = error["errors"].as_array().expect("errors is a list");
    assert_eq!(errors.len(), 1, "{body}");
    assert_eq!(errors[0]["reason"], reason, "{body}");
    assert_eq!(errors[0]["domain"], "global", "{body}");
    assert_eq!(errors[0]["message"], error["message"], "{body}");
    error["message"].as_str().expect("message").to_owned()
}

/// CRC32C one bit at a time, independent of the simulator's table.
pub(crate) fn bitwise_crc32c(data: &[u8]) -> u32 {
    let mut crc = u32::MAX;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0x82F6_3B78 & mask);
        }
    }
    !crc
}

/// The API's form: base64 of the big-endian bytes.
pub(crate) fn base64_be(crc: u32) -> String {
    base64::engine::general_purpose::STANDARD.encode(crc.to_be_bytes())
}

/// Deterministic pseudo-random bytes (xorshift), to stand in for gzip output.
pub(crate) fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.max(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}
