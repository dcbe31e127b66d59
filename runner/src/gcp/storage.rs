//! The Cloud Storage JSON API, as much as the audit archive needs: a media upload that never
//! overwrites (`ifGenerationMatch=0`) and an object's metadata. Every call is logged in
//! `access_log` (system `gcs`, ids replaced by placeholders).
//!
//! With `STORAGE_EMULATOR_HOST` set (the variable Google's client libraries read), calls go to
//! that host without a token; otherwise to `https://storage.googleapis.com` with the metadata
//! server's token. The service account needs `roles/storage.objectCreator` and
//! `roles/storage.objectViewer` on the bucket.

use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::Value;
use sqlx::PgPool;

use super::token::{Auth, TokenSource};
use crate::source::{AccessLog, http_client, transport_kind};

/// The production endpoint.
pub const STORAGE_URL: &str = "https://storage.googleapis.com";
/// Per-call timeout: an archive object may be tens of megabytes.
const TIMEOUT: Duration = Duration::from_secs(300);

/// An object as Cloud Storage describes it (the fields the archive checks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    /// The bucket.
    pub bucket: String,
    /// The object name.
    pub name: String,
    /// The object's generation.
    pub generation: String,
    /// Size in bytes.
    pub size: u64,
    /// Base64 of the big-endian CRC32C of the content.
    pub crc32c: String,
}

/// Why a call failed. Names, statuses and kinds only.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The object exists already (a precondition `ifGenerationMatch=0` failed).
    #[error("object already exists")]
    Exists,
    /// Cloud Storage answered another non-success status.
    #[error("Cloud Storage answered {status} to {op}")]
    Status {
        /// What was attempted.
        op: &'static str,
        /// The HTTP status.
        status: u16,
    },
    /// No response.
    #[error("Cloud Storage {op} failed: {kind}")]
    Transport {
        /// What was attempted.
        op: &'static str,
        /// The kind of transport error.
        kind: &'static str,
    },
    /// The answer was not an object resource.
    #[error("Cloud Storage answered an unexpected body to {0}")]
    Decode(&'static str),
    /// No token.
    #[error(transparent)]
    Token(#[from] super::token::TokenError),
}

/// A Cloud Storage client.
#[derive(Debug)]
pub struct Storage {
    http: reqwest::Client,
    base: String,
    tokens: TokenSource,
    log: AccessLog,
}

impl Storage {
    /// A client for the API at `base` (no trailing slash).
    pub fn new(base: &str, auth: Auth, pool: Option<PgPool>) -> Self {
        let http = http_client(TIMEOUT);
        Storage {
            tokens: TokenSource::new(auth, http.clone()),
            http,
            base: base.trim_end_matches('/').to_string(),
            log: AccessLog::new(pool, "gcs"),
        }
    }

    /// The client the environment asks for: the emulator at `STORAGE_EMULATOR_HOST`, else
    /// Cloud Storage with the metadata server's token.
    pub fn from_env(pool: Option<PgPool>) -> Self {
        match std::env::var("STORAGE_EMULATOR_HOST")
            .ok()
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
        {
            Some(h) if h.contains("://") => Storage::new(&h, Auth::None, pool),
            Some(h) => Storage::new(&format!("http://{h}"), Auth::None, pool),
            None => Storage::new(STORAGE_URL, Auth::metadata_from_env(), pool),
        }
    }

    /// Uploads `bytes` as a new object; [`StorageError::Exists`] when the name is taken
    /// (nothing is ever overwritten). Returns the object as stored.
    pub async fn upload_new(
        &self,
        bucket: &str,
        name: &str,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> Result<ObjectMeta, StorageError> {
        let mut url = reqwest::Url::parse(&format!("{}/upload/storage/v1/b/", self.base))
            .map_err(|_| StorageError::Decode("upload URL"))?;
        url.path_segments_mut()
            .map_err(|()| StorageError::Decode("upload URL"))?
            .pop_if_empty()
            .push(bucket)
            .push("o");
        url.query_pairs_mut()
            .append_pair("uploadType", "media")
            .append_pair("name", name)
            .append_pair("ifGenerationMatch", "0");
        let req = self
            .http
            .post(url.clone())
            .header("content-type", content_type)
            .body(bytes);
        let body = self.send("upload", req, url.as_str()).await?;
        match body {
            Some(v) => meta(&v).ok_or(StorageError::Decode("upload")),
            None => Err(StorageError::Status {
                op: "upload",
                status: 404,
            }),
        }
    }

    /// The object's metadata, or `None` when it does not exist.
    pub async fn metadata(
        &self,
        bucket: &str,
        name: &str,
    ) -> Result<Option<ObjectMeta>, StorageError> {
        let mut url = reqwest::Url::parse(&format!("{}/storage/v1/b/", self.base))
            .map_err(|_| StorageError::Decode("metadata URL"))?;
        url.path_segments_mut()
            .map_err(|()| StorageError::Decode("metadata URL"))?
            .pop_if_empty()
            .push(bucket)
            .push("o")
            .push(name);
        let req = self.http.get(url.clone());
        match self.send("metadata", req, url.as_str()).await? {
            Some(v) => meta(&v).map(Some).ok_or(StorageError::Decode("metadata")),
            None => Ok(None),
        }
    }

    /// Sends one call; `Ok(None)` on 404.
    async fn send(
        &self,
        op: &'static str,
        mut req: reqwest::RequestBuilder,
        url: &str,
    ) -> Result<Option<Value>, StorageError> {
        if let Some(token) = self.tokens.token().await? {
            req = req.bearer_auth(token);
        }
        let started = Instant::now();
        let resp = req.send().await;
        let status = resp.as_ref().ok().map(|r| r.status().as_u16());
        crate::telemetry::metrics::metrics().api_request("gcs", status);
        self.log
            .record(
                if op == "upload" { "POST" } else { "GET" },
                url,
                status,
                started.elapsed(),
                Some("retention"),
            )
            .await;
        let resp = resp.map_err(|e| StorageError::Transport {
            op,
            kind: transport_kind(&e),
        })?;
        match resp.status().as_u16() {
            200 | 201 => resp
                .json::<Value>()
                .await
                .map(Some)
                .map_err(|_| StorageError::Decode(op)),
            404 => Ok(None),
            412 => Err(StorageError::Exists),
            status => {
                if status == 401 {
                    self.tokens.invalidate().await;
                }
                Err(StorageError::Status { op, status })
            }
        }
    }
}

/// The fields of an object resource; sizes and generations are decimal strings in the API.
fn meta(v: &Value) -> Option<ObjectMeta> {
    let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    Some(ObjectMeta {
        bucket: s("bucket")?,
        name: s("name")?,
        generation: s("generation").unwrap_or_default(),
        size: s("size")?.parse().ok()?,
        crc32c: s("crc32c")?,
    })
}

/// Cloud Storage's form of a CRC32C: base64 of its four big-endian bytes.
pub fn crc32c_base64(crc: u32) -> String {
    base64::engine::general_purpose::STANDARD.encode(crc.to_be_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_is_written_as_cloud_storage_writes_it() {
        // The check value of CRC32C (Castagnoli) for "123456789" is 0xE3069283.
        let crc = crc32c::crc32c(b"123456789");
        assert_eq!(crc, 0xE306_9283);
        assert_eq!(crc32c_base64(crc), "4waSgw==");
    }

    #[test]
    fn an_object_resource_parses_with_decimal_string_sizes() {
        let v = serde_json::json!({"bucket": "b", "name": "a/b.gz", "generation": "17",
                                   "size": "1234", "crc32c": "4waSgw=="});
        let m = meta(&v).unwrap();
        assert_eq!((m.size, m.generation.as_str()), (1234, "17"));
        assert!(meta(&serde_json::json!({"bucket": "b"})).is_none());
    }
}
