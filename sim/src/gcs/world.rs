//! The world behind [`GcsState`](super::GcsState): buckets, objects, the fault queue, and
//! the write rules (precondition, then retention).

use std::collections::{BTreeMap, VecDeque};

use chrono::{DateTime, TimeDelta, Utc};

use super::resource::ApiError;
use super::{Corruption, GcsConfig, StoredObject, crc32c};

/// Everything behind the state's lock.
#[derive(Debug)]
pub(super) struct World {
    pub token: Option<String>,
    pub buckets: BTreeMap<String, Bucket>,
    pub faults: VecDeque<Fault>,
    pub upload_calls: u64,
    last_generation: i64,
    pub clock_offset: TimeDelta,
}

/// A bucket: its retention period and its objects by name.
#[derive(Debug, Default)]
pub(super) struct Bucket {
    pub retention_secs: Option<u64>,
    pub objects: BTreeMap<String, StoredObject>,
}

/// What the next upload request suffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fault {
    /// Answer this status before any other check; store nothing.
    Fail(u16),
    /// Store the object as usual, then answer this status (the client cannot tell).
    StoreThenFail(u16),
    /// Store and answer with this corruption.
    Corrupt(Corruption),
}

/// A validated upload.
#[derive(Debug)]
pub(super) struct Write {
    pub bucket: String,
    pub name: String,
    pub bytes: Vec<u8>,
    pub content_type: String,
    pub if_generation_match: Option<i64>,
}

impl World {
    /// `config`'s buckets and token; no objects, faults or clock offset.
    pub(super) fn new(config: &GcsConfig) -> Self {
        let buckets = config
            .buckets
            .iter()
            .map(|(name, retention_secs)| {
                let bucket = Bucket {
                    retention_secs: *retention_secs,
                    objects: BTreeMap::new(),
                };
                (name.clone(), bucket)
            })
            .collect();
        World {
            token: config.token.clone(),
            buckets,
            faults: VecDeque::new(),
            upload_calls: 0,
            last_generation: 0,
            clock_offset: TimeDelta::zero(),
        }
    }

    /// The simulator's clock.
    pub(super) fn now(&self) -> DateTime<Utc> {
        Utc::now()
            .checked_add_signed(self.clock_offset)
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    /// Whether `name` in `bucket` may be written or removed now.
    pub(super) fn writable(
        &self,
        bucket: &str,
        name: &str,
        if_generation_match: Option<i64>,
    ) -> Result<(), ApiError> {
        let b = self.buckets.get(bucket).ok_or_else(ApiError::no_bucket)?;
        let current = b.objects.get(name);
        if let Some(expected) = if_generation_match
            && current.map_or(0, |o| o.generation) != expected
        {
            return Err(ApiError::condition_not_met());
        }
        if let Some(until) = current.and_then(|o| o.retention_expires)
            && self.now() < until
        {
            return Err(ApiError::retention(bucket, name, until));
        }
        Ok(())
    }

    /// Stores a new generation of `name` (the bucket exists).
    pub(super) fn store(
        &mut self,
        bucket: &str,
        name: &str,
        bytes: Vec<u8>,
        content_type: String,
    ) -> StoredObject {
        let now = self.now();
        let generation = now.timestamp_micros().max(self.last_generation + 1);
        self.last_generation = generation;
        let b = self.buckets.entry(bucket.to_owned()).or_default();
        let retention_expires = b.retention_secs.map(|secs| {
            let secs = i64::try_from(secs).unwrap_or(i64::MAX);
            now.checked_add_signed(TimeDelta::try_seconds(secs).unwrap_or(TimeDelta::MAX))
                .unwrap_or(DateTime::<Utc>::MAX_UTC)
        });
        let object = StoredObject {
            bucket: bucket.to_owned(),
            name: name.to_owned(),
            crc32c: crc32c::crc32c(&bytes),
            bytes,
            generation,
            metageneration: 1,
            content_type,
            created: now,
            retention_expires,
        };
        b.objects.insert(name.to_owned(), object.clone());
        object
    }
}
