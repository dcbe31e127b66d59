//! `pipelines/writeback.yaml`: the endpoints Coda automations may call to change Coda-owned
//! tables, and exactly which fields and values each accepts.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::field_type::FieldType;
use super::secret::Secret;

/// All write-back endpoints.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WritebackFile {
    /// Shared secret Coda sends in `secret_header`; compared in constant time.
    pub secret: Secret,
    /// Header carrying the secret. Default: `X-Coda-Webhook-Secret`.
    #[serde(default = "default_header")]
    pub secret_header: String,
    /// Header naming the staff member who made the change (becomes the audit actor
    /// `coda:<email>`). Default: `X-Coda-User-Email`.
    #[serde(default = "default_user_header")]
    pub user_header: String,
    /// The endpoints.
    pub endpoints: Vec<Endpoint>,
}

fn default_header() -> String {
    "X-Coda-Webhook-Secret".to_string()
}

fn default_user_header() -> String {
    "X-Coda-User-Email".to_string()
}

/// One `PATCH` endpoint.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    /// URL path with one `{param}`, for example `/api/intake/{appointment_id}`.
    pub path: String,
    /// Coda-owned table written.
    pub table: String,
    /// Column matched against the path parameter.
    pub key: String,
    /// Type of the key column.
    #[serde(default = "default_key_type")]
    pub key_type: FieldType,
    /// Create the row when no row has this key (otherwise 404). Default: false.
    #[serde(default)]
    pub create_missing: bool,
    /// Staff roles (`staff_roles.role`) allowed to call the endpoint, for example
    /// `[admin, front_desk]`. The caller's email (`user_header`) must name an active staff
    /// member with one of them; anyone else gets 403.
    pub roles: Vec<String>,
    /// Fields the body may set; any other field is rejected with 422.
    pub fields: BTreeMap<String, WritableField>,
}

fn default_key_type() -> FieldType {
    FieldType::Uuid
}

/// A field Coda may write.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WritableField {
    /// Declared type; a value of another type is rejected.
    #[serde(rename = "type")]
    pub ty: FieldType,
    /// If given, the only values accepted.
    #[serde(default)]
    pub allowed: Option<Vec<String>>,
    /// Whether null is accepted. Default: true.
    #[serde(default = "default_true")]
    pub nullable: bool,
    /// Whether a request that creates the row must give this field. Default: false (the
    /// table's default applies).
    #[serde(default)]
    pub required: bool,
}

fn default_true() -> bool {
    true
}
