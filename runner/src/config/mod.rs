//! The config language: raw serde types (one file per document kind), loading with
//! `file:line:col` errors, env interpolation, semantic validation and the resolved plan.

pub mod coda_fixture;
pub mod coda_mapping;
pub mod diag;
pub mod env;
pub mod field_type;
pub mod fixture;
pub mod links;
pub mod load;
pub mod locate;
pub mod needs;
pub mod page_size;
pub mod pipeline;
pub mod plan;
pub mod reconcile;
pub mod relations;
pub mod retention;
pub mod schema;
pub mod schema_check;
pub mod secret;
pub mod systems;
pub mod validate;
pub mod writeback;

pub use diag::{Diagnostic, Diagnostics, Severity};
pub use env::Env;
pub use load::{Config, Doc, EnvMode, SourceFile, load_dir};
pub use needs::{Needs, required_vars};
pub use plan::{Plan, PlannedPipeline};

#[cfg(test)]
mod plan_tests;
#[cfg(test)]
mod tests;
