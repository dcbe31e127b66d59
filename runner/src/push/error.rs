//! Errors of the Coda push. Like every error of the runner they carry ids, path templates,
//! column ids, counts and status codes: never a cell value or a response body, which may hold
//! patient data.

use crate::store::StoreError;

/// Why one call to Coda failed.
#[derive(Debug, thiserror::Error)]
pub enum CodaError {
    /// Coda refused the request itself (400 or 413): a row of the batch is bad or the batch
    /// is too large. The push splits the batch to find the row.
    #[error("coda: {method} {path} answered {status}")]
    Rejected {
        /// HTTP method.
        method: &'static str,
        /// The path template.
        path: String,
        /// HTTP status.
        status: u16,
    },
    /// Another status that is not retried (401, 403, 404, other 4xx).
    #[error("coda: {method} {path} answered {status}")]
    Status {
        /// HTTP method.
        method: &'static str,
        /// The path template.
        path: String,
        /// HTTP status.
        status: u16,
    },
    /// Retries ran out on 429, 5xx or transport errors.
    #[error("coda: {method} {path} still failing after {attempts} attempts (last: {last})")]
    Exhausted {
        /// HTTP method.
        method: &'static str,
        /// The path template.
        path: String,
        /// Attempts made.
        attempts: u32,
        /// The last status or transport error kind.
        last: String,
    },
    /// The response was not the JSON expected.
    #[error("coda: {method} {path} returned an unexpected body")]
    Decode {
        /// HTTP method.
        method: &'static str,
        /// The path template.
        path: String,
    },
}

impl CodaError {
    /// True for a 400 or 413: the content was refused, not the connection.
    pub fn is_rejection(&self) -> bool {
        matches!(self, CodaError::Rejected { .. })
    }

    /// The HTTP status, when one arrived.
    pub fn status(&self) -> Option<u16> {
        match self {
            CodaError::Rejected { status, .. } | CodaError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// Why a push failed as a whole (retryable: nothing unconfirmed was recorded).
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// A call to Coda failed.
    #[error(transparent)]
    Coda(#[from] CodaError),
    /// Coda accepted a mutation but did not report it completed in time.
    #[error("coda: mutation for table {table} not completed after {waited_secs} s")]
    Unconfirmed {
        /// The Coda table id.
        table: String,
        /// Seconds waited.
        waited_secs: u64,
    },
    /// The database failed (reduced to SQLSTATE and names: no row data).
    #[error("database: {0}")]
    Store(#[from] StoreError),
    /// A mapping cannot be used (no column for a key, a template that does not compile).
    #[error("mappings/{mapping}.yaml: {reason}")]
    Mapping {
        /// The mapping name.
        mapping: String,
        /// What is wrong.
        reason: String,
    },
    /// `runner push` named a table that no mapping knows.
    #[error("no Coda mapping named or fed by `{0}`")]
    UnknownTable(String),
}

impl PushError {
    /// Wraps a database error with the stage it happened in.
    pub fn store(stage: &'static str) -> impl FnOnce(sqlx::Error) -> PushError {
        move |source| PushError::Store(StoreError::from_sqlx(stage, source))
    }
}
