//! The store's error type. Database errors are reduced to their SQLSTATE and schema names:
//! PostgreSQL messages can quote the offending value (a date of birth, a name), and no patient
//! data may reach a log line or an error chain.

use std::fmt;

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL could not be parsed.
    #[error("invalid database URL")]
    InvalidUrl(#[source] sqlx::Error),
    /// Applying the migrations in `schema/db/` failed.
    #[error("database migration failed")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    /// A table or column name from the configuration is not a plain lower-case SQL identifier.
    #[error("invalid SQL identifier {0:?}: expected [a-z_][a-z0-9_]*, at most 63 characters")]
    InvalidIdentifier(String),
    /// An upsert target is inconsistent (unknown key column, reserved column, ...).
    #[error("invalid upsert target for table {table}: {reason}")]
    InvalidTarget {
        /// The target table.
        table: String,
        /// What is wrong, naming columns only.
        reason: String,
    },
    /// A row of a batch has no value (or null) for a natural key column.
    #[error("row {row} of the batch for {table} has no value for key column {column}")]
    MissingKey {
        /// The target table.
        table: String,
        /// Zero-based position of the row in the batch.
        row: usize,
        /// The key column without a value.
        column: String,
    },
    /// The transaction has no audit actor: call [`set_actor`](crate::store::set_actor) first.
    /// Raised by the audit trigger (SQLSTATE `AUD01`) or by `set_actor` given an empty actor.
    #[error("write refused: no audit actor is set for the transaction")]
    MissingActor,
    /// PostgreSQL rejected a statement. Only the SQLSTATE and schema names are kept.
    #[error("{op} failed: {details}")]
    Database {
        /// What was attempted, e.g. `upsert into patients`.
        op: String,
        /// The PHI-free parts of the server's error.
        details: DbErrorDetails,
    },
    /// The driver failed outside the server (I/O, TLS, pool timeout, protocol, decoding).
    #[error("{op} failed in the database driver")]
    Driver {
        /// What was attempted.
        op: String,
        /// The driver error (these carry no row values).
        #[source]
        source: sqlx::Error,
    },
}

/// The parts of a PostgreSQL error that never contain row values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbErrorDetails {
    /// The SQLSTATE code, e.g. `23505`.
    pub code: String,
    /// The table the error is about, when the server says.
    pub table: Option<String>,
    /// The column the error is about, when the server says.
    pub column: Option<String>,
    /// The violated constraint, when there is one.
    pub constraint: Option<String>,
}

impl fmt::Display for DbErrorDetails {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SQLSTATE {}", self.code)?;
        for (label, value) in [
            ("table", &self.table),
            ("column", &self.column),
            ("constraint", &self.constraint),
        ] {
            if let Some(value) = value {
                write!(f, ", {label} {value}")?;
            }
        }
        Ok(())
    }
}

impl StoreError {
    /// Classifies a driver error of operation `op`, dropping any server message.
    pub(crate) fn from_sqlx(op: impl Into<String>, err: sqlx::Error) -> Self {
        let Some(db) = err.as_database_error() else {
            return StoreError::Driver {
                op: op.into(),
                source: err,
            };
        };
        let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
        if code == "AUD01" {
            return StoreError::MissingActor;
        }
        let pg = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>();
        StoreError::Database {
            op: op.into(),
            details: DbErrorDetails {
                code,
                table: db.table().map(str::to_owned),
                column: pg.and_then(|e| e.column()).map(str::to_owned),
                constraint: db.constraint().map(str::to_owned),
            },
        }
    }

    /// The SQLSTATE of a database error, if this is one.
    pub fn sqlstate(&self) -> Option<&str> {
        match self {
            StoreError::Database { details, .. } => Some(&details.code),
            StoreError::MissingActor => Some("AUD01"),
            _ => None,
        }
    }

    /// Whether retrying the same work later may succeed: lost connections, pool exhaustion,
    /// serialization failures, deadlocks and server shutdowns. Bad data and bad config are not.
    pub fn is_transient(&self) -> bool {
        self.is_outage() || self.is_conflict()
    }

    /// The database is unreachable or unable to work (connection lost, pool exhausted or
    /// closed, shutting down, out of resources).
    pub fn is_outage(&self) -> bool {
        match self {
            StoreError::Driver { source, .. } => matches!(
                source,
                sqlx::Error::Io(_)
                    | sqlx::Error::PoolTimedOut
                    | sqlx::Error::PoolClosed
                    | sqlx::Error::WorkerCrashed
                    | sqlx::Error::Tls(_)
            ),
            StoreError::Database { details, .. } => {
                let code = details.code.as_str();
                code.starts_with("08")
                    || code.starts_with("53")
                    || matches!(code, "57P01" | "57P02" | "57P03")
            }
            _ => false,
        }
    }

    /// Two transactions got in each other's way (a deadlock, 40P01, or a serialization
    /// failure, 40001): the database is fine, and the same work succeeds when retried.
    pub fn is_conflict(&self) -> bool {
        matches!(self, StoreError::Database { details, .. } if matches!(details.code.as_str(), "40001" | "40P01"))
    }

    /// PostgreSQL refused a value of the data itself (class 22, data exception: a character
    /// it cannot hold, a number out of range; class 23, a constraint; 54000, a value too large
    /// to index), or a row lacks its key: retrying the same record fails again, other records
    /// are not affected.
    pub fn is_data_error(&self) -> bool {
        match self {
            StoreError::MissingKey { .. } => true,
            StoreError::Database { details, .. } => {
                let code = details.code.as_str();
                code.starts_with("22") || code.starts_with("23") || code == "54000"
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_details_show_names_but_no_values() {
        let details = DbErrorDetails {
            code: "23505".into(),
            table: Some("patients".into()),
            column: None,
            constraint: Some("patients_drchrono_id_key".into()),
        };
        let err = StoreError::Database {
            op: "upsert into patients".into(),
            details,
        };
        assert_eq!(
            err.to_string(),
            "upsert into patients failed: SQLSTATE 23505, table patients, \
             constraint patients_drchrono_id_key"
        );
        assert!(!err.is_transient());
    }

    #[test]
    fn a_database_out_of_reach_is_transient_a_missing_row_is_not() {
        for down in [
            sqlx::Error::PoolClosed,
            sqlx::Error::PoolTimedOut,
            sqlx::Error::Io(std::io::ErrorKind::ConnectionRefused.into()),
        ] {
            assert!(StoreError::from_sqlx("read", down).is_transient());
        }
        assert!(!StoreError::from_sqlx("read", sqlx::Error::RowNotFound).is_transient());
    }
}
