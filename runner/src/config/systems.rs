//! `pipelines/systems.yaml`: the external systems, their endpoints, credentials (always
//! `${VAR}` references), rate budgets and webhook security.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::secret::Secret;

/// The external systems the runner talks to.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SystemsFile {
    /// DrChrono, the EHR: REST API with OAuth2, and webhooks.
    pub drchrono: DrChrono,
    /// Deep Cura, the AI note-taker: encrypted webhooks ("gridhooks").
    pub deepcura: DeepCura,
    /// Coda, the staff UI: rows written by column ID.
    pub coda: Coda,
    /// Our own inbound routes (questionnaire responses from the patient app or an email
    /// processor): signed JSON posts to the routes of `system: inbound` pipelines.
    #[serde(default)]
    pub inbound: Option<Inbound>,
    /// Audit retention: monthly partitions, the Cloud Storage archive, the daily run.
    #[serde(default)]
    pub retention: super::retention::Retention,
}

/// DrChrono connection.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DrChrono {
    /// Base URL of the API host, without a trailing slash, for example `https://drchrono.com`.
    pub base_url: String,
    /// OAuth2 refresh-token flow.
    pub oauth: OAuth2,
    /// Request budget shared by every pipeline and task of this system. Every limit holds at
    /// once.
    pub rate: Vec<RateLimit>,
    /// Retries of failed calls.
    #[serde(default)]
    pub retry: Retry,
    /// Timeout of one HTTP call, in seconds. Default: 30.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// Default `page_size` for list endpoints. Default: 100.
    #[serde(default = "default_page_size")]
    pub page_size: u32,
    /// Webhook security.
    pub webhooks: DrChronoWebhooks,
}

fn default_timeout() -> u64 {
    30
}

fn default_page_size() -> u32 {
    100
}

/// OAuth2 refresh-token flow settings.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OAuth2 {
    /// Token endpoint; a path is relative to `base_url`. DrChrono: `/o/token/`.
    pub token_url: String,
    /// OAuth2 client id.
    pub client_id: Secret,
    /// OAuth2 client secret.
    pub client_secret: Secret,
    /// Initial refresh token. It only seeds the stored credentials: once it has rotated, the
    /// stored token wins, until this value changes (a manual re-authorisation).
    pub refresh_token: Secret,
    /// Refresh the access token this many seconds before it expires. Default: 300.
    #[serde(default = "default_refresh_margin")]
    pub refresh_margin_secs: u64,
    /// Key that seals the stored tokens at rest (AES-256-GCM; 32 bytes, base64), for example
    /// `${TOKEN_ENCRYPTION_KEY}`. Generate one with `openssl rand -base64 32`.
    #[serde(default)]
    pub encryption_key: Secret,
    /// The previous key, during a key rotation: tokens sealed with it still open, and are
    /// sealed again with `encryption_key` when read. Empty otherwise.
    #[serde(default)]
    pub previous_encryption_key: Secret,
}

fn default_refresh_margin() -> u64 {
    300
}

/// At most `requests` calls in any window of `per_secs` seconds.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Number of calls allowed per window.
    pub requests: u32,
    /// Window length in seconds.
    pub per_secs: u32,
}

/// Retry policy for 429, 5xx and timeouts. Other errors are not retried.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Retry {
    /// Attempts in total, the first included. Default: 8.
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
    /// First backoff, in milliseconds; it doubles each attempt, with jitter. Default: 500.
    #[serde(default = "default_base_ms")]
    pub base_delay_ms: u64,
    /// Longest backoff, in milliseconds. Default: 60000.
    #[serde(default = "default_max_ms")]
    pub max_delay_ms: u64,
    /// Shortest wait after a 429 or a `Retry-After` (429 or 503), in milliseconds, even when
    /// `Retry-After` says less. Default: 1000.
    #[serde(default = "default_floor_ms")]
    pub floor_ms: u64,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            max_attempts: default_attempts(),
            base_delay_ms: default_base_ms(),
            max_delay_ms: default_max_ms(),
            floor_ms: default_floor_ms(),
        }
    }
}

fn default_attempts() -> u32 {
    8
}
fn default_base_ms() -> u64 {
    500
}
fn default_max_ms() -> u64 {
    60_000
}
fn default_floor_ms() -> u64 {
    1000
}

/// How DrChrono webhook deliveries are authenticated.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DrChronoWebhooks {
    /// The webhook's secret token, as entered in DrChrono's API management page.
    pub secret: Secret,
    /// What `X-drchrono-signature` carries: `shared_secret` (the secret itself, as DrChrono
    /// documents), `hmac_sha256` (hex HMAC-SHA256 of the raw body), or `either`.
    #[serde(default)]
    pub signature: SignatureMode,
    /// Answer the `GET ?msg=` verification handshake. Default: true.
    #[serde(default = "default_true")]
    pub handshake: bool,
}

fn default_true() -> bool {
    true
}

/// Accepted forms of `X-drchrono-signature`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SignatureMode {
    /// The header equals the secret token.
    SharedSecret,
    /// The header is the hex HMAC-SHA256 of the raw body, keyed with the secret.
    HmacSha256,
    /// Either of the two.
    #[default]
    Either,
}

/// Authentication of the inbound routes: every post carries the Unix time it was signed at and
/// `v1=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>`. A post signed outside the
/// tolerance is refused, so a captured request cannot be replayed later.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Inbound {
    /// The signing secret shared with the senders. Empty: the inbound routes are disabled.
    pub secret: Secret,
    /// Header with the signing time, in Unix seconds. Default: `X-Clinic-Timestamp`.
    #[serde(default = "default_timestamp_header")]
    pub timestamp_header: String,
    /// Header with the signature. Default: `X-Clinic-Signature`.
    #[serde(default = "default_signature_header")]
    pub signature_header: String,
    /// How far, in seconds, the signing time may be from the server's clock. Default: 300.
    #[serde(default = "default_tolerance")]
    pub tolerance_secs: u64,
}

fn default_timestamp_header() -> String {
    "X-Clinic-Timestamp".to_string()
}

fn default_signature_header() -> String {
    "X-Clinic-Signature".to_string()
}

fn default_tolerance() -> u64 {
    300
}

/// Deep Cura gridhook decryption.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeepCura {
    /// The shared secret; it authenticates the request and derives the AES key.
    pub shared_secret: Secret,
    /// Header that carries the shared secret. Default: `X-DeepCura-Secret`.
    #[serde(default = "default_secret_header")]
    pub secret_header: String,
    /// Cipher. Only `aes-256-cbc` (PKCS#7 padding) is supported.
    #[serde(default)]
    pub cipher: Cipher,
    /// Key derivation from the secret. Only `sha256` (key = SHA-256(secret)) is supported.
    #[serde(default)]
    pub key_derivation: KeyDerivation,
    /// Where the IV and ciphertext sit in the request.
    #[serde(default)]
    pub envelope: Envelope,
}

fn default_secret_header() -> String {
    "X-DeepCura-Secret".to_string()
}

/// Supported ciphers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Cipher {
    /// AES-256 in CBC mode with PKCS#7 padding.
    #[default]
    #[serde(rename = "aes-256-cbc")]
    Aes256Cbc,
}

/// Supported key derivations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum KeyDerivation {
    /// key = SHA-256(shared secret as UTF-8).
    #[default]
    #[serde(rename = "sha256")]
    Sha256,
}

/// Layout of an encrypted gridhook. Default: a JSON body `{"iv": <base64>, "data": <base64>}`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    /// Where the 16-byte IV is: `field` (a member of the JSON body), `header`, or `prefix`
    /// (the first 16 bytes of the decoded ciphertext).
    #[serde(default)]
    pub iv_location: IvLocation,
    /// Name of the JSON member (for `field`) or header (for `header`) that holds the IV.
    /// Default: `iv`.
    #[serde(default = "default_iv_name")]
    pub iv_name: String,
    /// JSON member that holds the ciphertext; empty means the whole body is the ciphertext.
    /// Default: `data`.
    #[serde(default = "default_data_field")]
    pub data_field: String,
    /// Encoding of the IV and ciphertext: `base64` or `hex`. Default: `base64`.
    #[serde(default)]
    pub encoding: Encoding,
}

impl Default for Envelope {
    fn default() -> Self {
        Envelope {
            iv_location: IvLocation::default(),
            iv_name: default_iv_name(),
            data_field: default_data_field(),
            encoding: Encoding::default(),
        }
    }
}

fn default_iv_name() -> String {
    "iv".to_string()
}
fn default_data_field() -> String {
    "data".to_string()
}

/// Where the IV sits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum IvLocation {
    /// A member of the JSON body.
    #[default]
    Field,
    /// An HTTP header.
    Header,
    /// The first 16 bytes of the decoded ciphertext.
    Prefix,
}

/// Binary-to-text encodings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    /// Standard base64 with padding.
    #[default]
    Base64,
    /// Lower- or upper-case hex.
    Hex,
}

/// Coda connection.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Coda {
    /// API base URL, for example `https://coda.io/apis/v1`.
    pub base_url: String,
    /// API token (Bearer).
    pub api_token: Secret,
    /// The doc that holds the staff tables.
    pub doc_id: String,
    /// Budget for write calls (upsert, delete). Coda: 10 per 6 s.
    pub write_rate: Vec<RateLimit>,
    /// Budget for read calls. Coda: 100 per 6 s.
    pub read_rate: Vec<RateLimit>,
    /// Retries of failed calls.
    #[serde(default)]
    pub retry: Retry,
    /// Most rows in one `upsertRows` call. Default: 500.
    #[serde(default = "default_max_rows")]
    pub max_rows_per_call: u32,
    /// Largest request body, in bytes. Default: 1000000.
    #[serde(default = "default_max_bytes")]
    pub max_body_bytes: u32,
    /// Timeout of one HTTP call, in seconds. Default: 30.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// Live reconciliation (`runner coda reconcile`): the daily run and the page size.
    #[serde(default)]
    pub reconcile: super::reconcile::Reconcile,
}

fn default_max_rows() -> u32 {
    500
}
fn default_max_bytes() -> u32 {
    1_000_000
}
