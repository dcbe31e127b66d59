//! A string that must not be printed: credentials read from the environment.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A secret value. `Debug` and `Display` never show it. In files it must be a `${VAR}`
/// reference; `runner validate` rejects a literal secret.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }

    /// The secret itself. Call sites are few and audited: signing, comparing, sending.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True when no value was provided.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() {
            "Secret(<empty>)"
        } else {
            "Secret(***)"
        })
    }
}
