//! [`Ident`]: a validated SQL identifier, the only way dynamic SQL names a table or column.
//! Its `Display` writes it double-quoted, which is safe because validation admits only plain
//! lower-case names (`[a-z_][a-z0-9_]*`, at most 63 bytes): nothing in it needs escaping.

use std::fmt;

use super::StoreError;

/// A validated SQL identifier; `Display` quotes it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ident(String);

impl Ident {
    /// Validates `name`.
    pub fn new(name: &str) -> Result<Self, StoreError> {
        super::validate_identifier(name)?;
        Ok(Ident(name.to_owned()))
    }

    /// The bare name (for messages and bind parameters).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_lower_case_names_are_identifiers_and_they_print_quoted() {
        assert_eq!(
            Ident::new("change_log_2026_01").unwrap().to_string(),
            "\"change_log_2026_01\""
        );
        for bad in ["", "Line_Items", "a-b", "a\"b", "1abc", &"x".repeat(64)] {
            assert!(Ident::new(bad).is_err(), "{bad:?}");
        }
    }
}
