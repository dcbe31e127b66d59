//! The clinical-operations sync runner: a generic runtime that executes the YAML pipelines in
//! `pipelines/` and `mappings/`. DrChrono and Deep Cura flow into PostgreSQL (audited), and
//! PostgreSQL flows into Coda.

pub mod config;
pub mod mapping;
pub mod store;
