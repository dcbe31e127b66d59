//! The mapping engine, pure and without I/O: JSONPath extraction, minijinja transforms,
//! coercion to the declared type, expansion of one record into several rows, and natural-key
//! extraction. Paths and templates are compiled once per run ([`CompiledPipeline::compile`]),
//! never per record.

mod coerce;
mod compile;
mod error;
mod path;
mod record;
mod sanitize;

pub use coerce::coerce;
pub use compile::{CompiledField, CompiledPipeline};
pub use error::{CoerceError, MappingError};
pub use path::CompiledPath;
pub use record::Row;
pub use sanitize::strip_nul;
