//! PostgreSQL: pool, migrations, audit actor and the batched upsert.
//!
//! Every write to an audited table runs inside a transaction whose actor was set with
//! [`set_actor`]; the audit trigger refuses writes without one. The schema itself (tables,
//! audit trigger, roles) lives in `schema/db/` and is embedded in [`MIGRATOR`].

mod actor;
mod backlog;
mod error;
mod ident;
mod migrate;
mod pool;
mod sql;
mod upsert;

pub use actor::set_actor;
pub use backlog::{Backlog, backlog};
pub use error::{DbErrorDetails, StoreError};
pub use ident::Ident;
pub use migrate::{MIGRATOR, create_database_if_missing, pending_migrations, run_migrations};
pub use pool::{PoolSettings, connect, connect_with};
pub use sql::validate_identifier;
pub use upsert::{
    Lookup, PreparedUpsert, SOURCE_DIGEST, UpsertColumn, UpsertCounts, UpsertTarget, upsert_batch,
};
