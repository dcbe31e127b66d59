//! The shared state: what tests inspect and inject, and the checked operations the routes call.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use super::resource::ApiError;
use super::world::{Bucket, Fault, World, Write};
use super::{Corruption, GcsConfig, StoredObject};
use crate::handle::BaseUrl;

/// Shared state: buckets, objects, faults and counters. Cloning shares it.
#[derive(Debug, Clone)]
pub struct GcsState {
    inner: Arc<Mutex<World>>,
    base: Arc<BaseUrl>,
}

impl GcsState {
    /// State with `config`'s buckets and token, and no objects.
    pub fn new(config: &GcsConfig) -> Self {
        GcsState {
            inner: Arc::new(Mutex::new(World::new(config))),
            base: Arc::new(BaseUrl::default()),
        }
    }

    fn world(&self) -> MutexGuard<'_, World> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The base of `selfLink` and `mediaLink` (set when the server binds).
    pub fn base_url(&self) -> String {
        self.base.get().unwrap_or_default()
    }

    pub(super) fn set_base_url(&self, url: String) {
        self.base.set(url);
    }

    /// The object `name` in `bucket`, as stored.
    pub fn object(&self, bucket: &str, name: &str) -> Option<StoredObject> {
        self.world().buckets.get(bucket)?.objects.get(name).cloned()
    }

    /// The names of `bucket`'s objects, sorted (none for an unknown bucket).
    pub fn objects(&self, bucket: &str) -> Vec<String> {
        self.world()
            .buckets
            .get(bucket)
            .map(|b| b.objects.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Upload requests received, refused and failed ones included.
    pub fn upload_calls(&self) -> u64 {
        self.world().upload_calls
    }

    /// Adds (or empties and reconfigures) a bucket.
    pub fn create_bucket(&self, name: &str, retention_secs: Option<u64>) {
        let bucket = Bucket {
            retention_secs,
            objects: BTreeMap::new(),
        };
        self.world().buckets.insert(name.to_owned(), bucket);
    }

    /// Makes the next `n` upload requests answer `status` (e.g. 503) before any other check,
    /// storing nothing.
    pub fn fail_next_uploads(&self, n: usize, status: u16) {
        self.queue(n, Fault::Fail(status));
    }

    /// Makes the next `n` upload requests store their object as usual (when it is accepted)
    /// but answer `status`: the write happened, the client does not know it.
    pub fn lose_next_upload_responses(&self, n: usize, status: u16) {
        self.queue(n, Fault::StoreThenFail(status));
    }

    /// Makes the next `n` upload requests suffer `corruption`.
    pub fn corrupt_next_uploads(&self, n: usize, corruption: Corruption) {
        self.queue(n, Fault::Corrupt(corruption));
    }

    /// Drops every queued fault.
    pub fn clear_faults(&self) {
        self.world().faults.clear();
    }

    fn queue(&self, n: usize, fault: Fault) {
        self.world().faults.extend(std::iter::repeat_n(fault, n));
    }

    /// Moves the simulator's clock forward (to let retention periods pass).
    pub fn advance_clock(&self, by: Duration) {
        let by = TimeDelta::from_std(by).unwrap_or(TimeDelta::MAX);
        let mut w = self.world();
        w.clock_offset = w.clock_offset.checked_add(&by).unwrap_or(TimeDelta::MAX);
    }

    /// The simulator's clock: now, plus every [`GcsState::advance_clock`].
    pub fn now(&self) -> DateTime<Utc> {
        self.world().now()
    }

    /// Stores an object directly, with no checks or faults (to set up a test). `None` for an
    /// unknown bucket.
    pub fn insert_object(
        &self,
        bucket: &str,
        name: &str,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> Option<StoredObject> {
        let mut w = self.world();
        w.buckets.get(bucket)?;
        Some(w.store(bucket, name, bytes, content_type.to_owned()))
    }

    /// Counts an upload request and takes the first queued fault.
    pub(super) fn begin_upload(&self) -> Option<Fault> {
        let mut w = self.world();
        w.upload_calls += 1;
        w.faults.pop_front()
    }

    /// `Ok` when `authorization` is `Bearer <the configured token>`, or no token is configured.
    pub(super) fn authorize(&self, authorization: Option<&str>) -> Result<(), ApiError> {
        let Some(expected) = self.world().token.clone() else {
            return Ok(());
        };
        let Some(value) = authorization else {
            return Err(ApiError::login_required());
        };
        let presented = value.strip_prefix("Bearer ").unwrap_or_default();
        let differ = presented.len() != expected.len()
            || presented
                .bytes()
                .zip(expected.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                != 0;
        if differ {
            return Err(ApiError::invalid_credentials());
        }
        Ok(())
    }

    /// Applies the precondition and retention rules, then stores `write`.
    pub(super) fn upload(&self, write: Write) -> Result<StoredObject, ApiError> {
        let mut w = self.world();
        w.writable(&write.bucket, &write.name, write.if_generation_match)?;
        Ok(w.store(&write.bucket, &write.name, write.bytes, write.content_type))
    }

    /// The stored object, or 404.
    pub(super) fn get(&self, bucket: &str, name: &str) -> Result<StoredObject, ApiError> {
        let w = self.world();
        let b = w.buckets.get(bucket).ok_or_else(ApiError::no_bucket)?;
        b.objects
            .get(name)
            .cloned()
            .ok_or_else(|| ApiError::no_object(bucket, name))
    }

    /// Removes the object, unless missing (404), a precondition fails (412) or it is
    /// retained (403).
    pub(super) fn delete(
        &self,
        bucket: &str,
        name: &str,
        if_generation_match: Option<i64>,
    ) -> Result<(), ApiError> {
        let mut w = self.world();
        let b = w.buckets.get(bucket).ok_or_else(ApiError::no_bucket)?;
        if !b.objects.contains_key(name) {
            return Err(ApiError::no_object(bucket, name));
        }
        w.writable(bucket, name, if_generation_match)?;
        if let Some(b) = w.buckets.get_mut(bucket) {
            b.objects.remove(name);
        }
        Ok(())
    }
}
