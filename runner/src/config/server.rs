//! The `server` block (under `gcp` in `pipelines/systems.yaml`): how the HTTP server
//! authenticates Google callers. Cloud Scheduler calls `/sync/*` and Pub/Sub pushes change
//! events, both with a Google-signed OIDC ID token (RS256).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How the HTTP server authenticates callers from Google Cloud.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServerFile {
    /// Verification of Google-signed OIDC ID tokens (Cloud Scheduler on `/sync/*`, Pub/Sub
    /// push). Without it, or with an empty `audience` or `allowed_emails`, the `/sync/*` routes
    /// refuse every call with 401: they never run unauthenticated.
    #[serde(default)]
    pub oidc: Option<Oidc>,
}

/// Verification of Google-signed OIDC ID tokens (`Authorization: Bearer <JWT>`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Oidc {
    /// URL of the JSON Web Key Set that holds the signing keys. Default:
    /// `https://www.googleapis.com/oauth2/v3/certs` (Google's). Tests and the local demo point
    /// it at a local JWKS.
    #[serde(default = "default_jwks_url")]
    pub jwks_url: String,
    /// Accepted values of the `iss` claim. Default: `https://accounts.google.com` and
    /// `accounts.google.com` (Google issues both).
    #[serde(default = "default_issuers")]
    pub issuers: Vec<String>,
    /// The required value of the `aud` claim, compared exactly. Set the same value as the
    /// `audience` of the Cloud Scheduler job's and the Pub/Sub subscription's OIDC token (for
    /// example the service URL): when they leave it unset Google uses the full target URL,
    /// which differs per path.
    pub audience: String,
    /// Service-account emails allowed to call (the token's `email` claim, which must also be
    /// verified). Case-insensitive. One entry may list several emails separated by commas, so
    /// a single `${OIDC_ALLOWED_EMAILS}` can hold them all.
    pub allowed_emails: Vec<String>,
    /// How long fetched signing keys are used before the key set is fetched again, in seconds.
    /// Default: 3600. A token with an unknown key id triggers one early refetch (at most one
    /// every 10 seconds), so Google's key rotation needs no restart.
    #[serde(default = "default_jwks_cache_secs")]
    pub jwks_cache_secs: u64,
}

fn default_jwks_url() -> String {
    "https://www.googleapis.com/oauth2/v3/certs".to_string()
}

fn default_issuers() -> Vec<String> {
    vec![
        "https://accounts.google.com".to_string(),
        "accounts.google.com".to_string(),
    ]
}

fn default_jwks_cache_secs() -> u64 {
    3600
}
