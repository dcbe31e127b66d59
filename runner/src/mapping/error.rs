//! Mapping errors. Their `Display` never shows the offending value, because at run time that
//! value is patient data; `runner test` (fake fixture data) shows it through
//! [`MappingError::with_value`].

use std::fmt;

use crate::config::field_type::FieldType;

/// A value that cannot be coerced to its declared type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoerceError {
    /// The declared type.
    pub expected: FieldType,
    /// The offending value, rendered as JSON.
    pub value: String,
}

/// Why a record could not be mapped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    /// A value has the wrong shape for its declared type.
    #[error("{file}: field {field}: value is not a{} {}", article(.error.expected), .error.expected.name())]
    Coerce {
        /// The pipeline file.
        file: String,
        /// The column.
        field: String,
        /// Details, including the value.
        error: CoerceError,
    },
    /// A required field or key column has no value.
    #[error("{file}: field {field}: is required but the record has no value")]
    Missing {
        /// The pipeline file.
        file: String,
        /// The column.
        field: String,
    },
    /// A transform failed to render.
    #[error("{file}: field {field}: transform failed: {reason}")]
    Transform {
        /// The pipeline file.
        file: String,
        /// The column.
        field: String,
        /// The template engine's reason (it names template constructs, not data).
        reason: String,
    },
}

fn article(t: FieldType) -> &'static str {
    match t {
        FieldType::Int => "n",
        _ => "",
    }
}

impl MappingError {
    /// The message with the offending value, for fixture tests on fake data only.
    pub fn with_value(&self) -> String {
        match self {
            MappingError::Coerce { file, field, error } => format!(
                "{file}: field {field}: {} is not a{} {}",
                error.value,
                article(error.expected),
                error.expected.name()
            ),
            other => other.to_string(),
        }
    }
}

impl fmt::Display for CoerceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} is not a{} {}",
            self.value,
            article(self.expected),
            self.expected.name()
        )
    }
}
