//! The declared types of mapped columns, shared by the mapping engine (coercion) and the store
//! (SQL types of the batched upsert).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The type a mapped field is coerced to before it is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum FieldType {
    /// UTF-8 text (`TEXT`).
    #[serde(rename = "text")]
    Text,
    /// 64-bit signed integer (`BIGINT`).
    #[serde(rename = "int")]
    Int,
    /// Exact decimal (`NUMERIC`), carried as a JSON string so no precision is lost.
    #[serde(rename = "numeric")]
    Numeric,
    /// `true` / `false` (`BOOLEAN`).
    #[serde(rename = "bool")]
    Bool,
    /// Calendar date, `YYYY-MM-DD` (`DATE`).
    #[serde(rename = "date")]
    Date,
    /// Point in time (`TIMESTAMPTZ`); naive source times are read as UTC.
    #[serde(rename = "timestamp")]
    Timestamp,
    /// Any JSON value, kept as is (`JSONB`).
    #[serde(rename = "jsonb")]
    Jsonb,
    /// A list of texts (`TEXT[]`).
    #[serde(rename = "text[]")]
    TextArray,
    /// A UUID (`UUID`), for local ids such as a Deep Cura note id.
    #[serde(rename = "uuid")]
    Uuid,
}

impl FieldType {
    /// The PostgreSQL type this field is stored as.
    pub fn sql_type(self) -> &'static str {
        match self {
            FieldType::Text => "text",
            FieldType::Int => "bigint",
            FieldType::Numeric => "numeric",
            FieldType::Bool => "boolean",
            FieldType::Date => "date",
            FieldType::Timestamp => "timestamptz",
            FieldType::Jsonb => "jsonb",
            FieldType::TextArray => "text[]",
            FieldType::Uuid => "uuid",
        }
    }

    /// The name used in config files and error messages.
    pub fn name(self) -> &'static str {
        match self {
            FieldType::Text => "text",
            FieldType::Int => "int",
            FieldType::Numeric => "numeric",
            FieldType::Bool => "bool",
            FieldType::Date => "date",
            FieldType::Timestamp => "timestamp",
            FieldType::Jsonb => "jsonb",
            FieldType::TextArray => "text[]",
            FieldType::Uuid => "uuid",
        }
    }
}
