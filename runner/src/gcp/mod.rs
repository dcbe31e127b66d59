//! Google Cloud APIs over REST: the instance service account's access token
//! ([`token`]) and the Cloud Storage JSON API ([`storage`]) that the audit archive writes to.
//! Pub/Sub publishing (`crate::pubsub::publish`) uses the same token source.

pub mod storage;
pub mod token;

pub use storage::{ObjectMeta, Storage, StorageError};
pub use token::{Auth, METADATA_HOST, TokenError, TokenSource};
