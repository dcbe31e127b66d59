//! A double of the Google Cloud Storage JSON API v1, enough for an audit archiver: media
//! uploads, object metadata and media reads, deletes, a bucket retention policy, the
//! `ifGenerationMatch` precondition, and injected faults.
//!
//! - `POST /upload/storage/v1/b/{bucket}/o?uploadType=media&name={object}`: the body is the
//!   object's bytes, stored as they come (no transcoding); the `Content-Type` header becomes
//!   `contentType` (default `application/octet-stream`). Answers 200 with the object resource
//!   (`kind`, `id` = `{bucket}/{name}/{generation}`, `selfLink`, `mediaLink`, `name`,
//!   `bucket`, `generation`, `metageneration`, `contentType`, `storageClass`, `size`,
//!   `crc32c`, `etag`, `retentionExpirationTime` in a bucket with a retention policy,
//!   `timeCreated`, `updated`, `timeStorageClassUpdated`, `timeFinalized`). Int64 fields are
//!   decimal strings, `crc32c` is base64 of the big-endian CRC32C ([`crc32c`]), timestamps are
//!   RFC 3339 UTC with milliseconds. `md5Hash` is not served (it would need a new crate).
//!   Generations are microsecond timestamps, increasing across the simulator.
//! - `GET /storage/v1/b/{bucket}/o/{object}` (the name percent-encoded, `/` as `%2F`): the
//!   resource; with `alt=media` the bytes (also at the resource's `mediaLink`, under
//!   `/download/storage/v1/...`), with `x-goog-generation` and `x-goog-hash: crc32c=...`.
//! - `DELETE /storage/v1/b/{bucket}/o/{object}`: 204.
//! - Refusals, in Google's error shape (`{"error": {"code", "message", "errors": [{"message",
//!   "domain": "global", "reason", ...}]}}`), checked in this order: 401 `required` without a
//!   bearer token, 401 `authError` for another token (no check when [`GcsConfig::token`] is
//!   `None`); 400 `required` without `uploadType` or
//!   `name`, 400 `invalid` for an `uploadType` other than `media` (the only one simulated) or
//!   a non-numeric `ifGenerationMatch`; 404 `notFound` for an unknown bucket or object; 412
//!   `conditionNotMet` when `ifGenerationMatch` does not hold (`0`: the object must not
//!   exist); 403 `retentionPolicyNotMet` when an upload would overwrite, or a delete remove,
//!   an object whose bucket's retention period has not yet passed since it was created.
//! - Faults ([`GcsState::fail_next_uploads`], [`GcsState::lose_next_upload_responses`],
//!   [`GcsState::corrupt_next_uploads`]) queue up; each upload request takes the first.
//!   [`GcsState::advance_clock`] moves the simulator's clock to expire retention.
//!
//! Point a client at [`GcsHandle::url`](crate::handle::SimHandle::url) instead of
//! `https://storage.googleapis.com`.

pub mod crc32c;
mod resource;
mod server;
mod state;
mod world;

use chrono::{DateTime, Utc};

pub use server::{GcsHandle, GcsSim, router};
pub use state::GcsState;

/// The bearer token [`GcsConfig::default`] accepts.
pub const DEFAULT_TOKEN: &str = "sim-gcs-token";

/// What the simulator starts with.
#[derive(Debug, Clone)]
pub struct GcsConfig {
    /// The only access token accepted as `Authorization: Bearer <token>`; `None` serves
    /// anonymous requests as the local emulators behind `STORAGE_EMULATOR_HOST` do (any
    /// `Authorization` is then ignored). Default `Some(`[`DEFAULT_TOKEN`]`)`.
    pub token: Option<String>,
    /// The buckets: name and retention period in seconds (`None`: no retention policy).
    /// Default none.
    pub buckets: Vec<(String, Option<u64>)>,
}

impl Default for GcsConfig {
    fn default() -> Self {
        GcsConfig {
            token: Some(DEFAULT_TOKEN.to_owned()),
            buckets: Vec::new(),
        }
    }
}

/// An object as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    /// The bucket's name.
    pub bucket: String,
    /// The object's name.
    pub name: String,
    /// The content, exactly as stored.
    pub bytes: Vec<u8>,
    /// The content generation (a microsecond timestamp, unique across the simulator).
    pub generation: i64,
    /// The metadata generation (always 1: metadata is never patched here).
    pub metageneration: i64,
    /// The stored `Content-Type`.
    pub content_type: String,
    /// The CRC32C of [`StoredObject::bytes`].
    pub crc32c: u32,
    /// When it was written (the simulator's clock).
    pub created: DateTime<Utc>,
    /// Until when the bucket's retention policy protects it (`None`: no policy).
    pub retention_expires: Option<DateTime<Utc>>,
}

impl StoredObject {
    /// The content length.
    pub fn size(&self) -> u64 {
        self.bytes.len() as u64
    }

    /// [`StoredObject::crc32c`] as the API writes it (base64, big-endian).
    pub fn crc32c_base64(&self) -> String {
        crc32c::to_base64(self.crc32c)
    }
}

/// A silent corruption an upload can suffer ([`GcsState::corrupt_next_uploads`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Corruption {
    /// The bytes are stored intact, but the upload's answer reports a wrong `crc32c`
    /// (later reads report the right one).
    Crc32c,
    /// The bytes are stored intact, but the upload's answer reports `size` one too large.
    Size,
    /// The stored bytes differ from those sent (the last byte's low bit flipped; an empty
    /// body becomes one zero byte) and every answer honestly describes what was stored, so
    /// `crc32c` and the bytes read back disagree with the client's.
    Bytes,
}
