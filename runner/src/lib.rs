//! The clinical-operations sync runner: a generic runtime that executes the YAML pipelines in
//! `pipelines/` and `mappings/`. DrChrono and Deep Cura flow into PostgreSQL (audited), and
//! PostgreSQL flows into Coda.

pub mod admin;
pub mod app;
pub mod cli;
pub mod coda_check;
pub mod config;
#[cfg(feature = "demo")]
pub mod demo;
pub mod docs;
pub mod fixtures;
pub mod gcp;
pub mod ingest;
pub mod link;
pub mod mapping;
pub mod pubsub;
pub mod push;
pub mod reconcile;
pub mod retention;
pub mod schedule;
pub mod server;
pub mod source;
pub mod store;
pub mod sync;
pub mod telemetry;
pub mod writeback;
