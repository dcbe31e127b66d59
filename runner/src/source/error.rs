//! Errors of calls to external systems. They carry the system, the path template (no ids, no
//! query values) and the status: never a response body, which may hold patient data.

/// Why a call to an external system failed.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The credentials were refused even after a refresh: a person must re-authorise.
    #[error(
        "{system}: {path} answered 401 after a token refresh; re-authorise the application (DRCHRONO_REFRESH_TOKEN)"
    )]
    Unauthorized {
        /// The system.
        system: String,
        /// The path template.
        path: String,
    },
    /// The token endpoint refused the refresh token or the client credentials.
    #[error(
        "{system}: the token endpoint refused the refresh ({status}, {reason}); re-authorise the application"
    )]
    RefreshRefused {
        /// The system.
        system: String,
        /// HTTP status.
        status: u16,
        /// The OAuth error code (`invalid_grant`, `invalid_client`).
        reason: String,
    },
    /// A status that is not retried (4xx other than 401/429).
    #[error("{system}: GET {path} answered {status}")]
    Status {
        /// The system.
        system: String,
        /// The path template.
        path: String,
        /// HTTP status.
        status: u16,
    },
    /// Retries ran out on 429, 5xx or transport errors.
    #[error("{system}: GET {path} still failing after {attempts} attempts (last: {last})")]
    Exhausted {
        /// The system.
        system: String,
        /// The path template.
        path: String,
        /// Attempts made.
        attempts: u32,
        /// The last status or transport error kind.
        last: String,
    },
    /// The response was not the JSON expected.
    #[error("{system}: GET {path} returned a body that is not JSON")]
    Decode {
        /// The system.
        system: String,
        /// The path template.
        path: String,
    },
    /// The credentials store failed.
    #[error("credentials store: {0}")]
    Store(#[from] crate::store::StoreError),
    /// A URL could not be built.
    #[error("invalid URL for {0}")]
    Url(String),
    /// A stored token could not be sealed or opened (no key, a wrong key).
    #[error("{system}: stored credentials: {reason}")]
    Sealed {
        /// The system.
        system: String,
        /// Why, without the token or the key.
        reason: String,
    },
    /// A URL (a pagination `next` link) points outside the configured base URL's origin: the
    /// bearer token is never sent there.
    #[error("{system}: refusing to follow a link to {origin}, outside the configured base URL")]
    ForeignLink {
        /// The system.
        system: String,
        /// The link's scheme, host and port (no path or query).
        origin: String,
    },
}

impl From<sqlx::Error> for SourceError {
    fn from(e: sqlx::Error) -> Self {
        SourceError::Store(crate::store::StoreError::from_sqlx("credentials", e))
    }
}
