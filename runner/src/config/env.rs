//! `${VAR}` and `${VAR:-default}` interpolation. Secrets never sit in config files: they are
//! referenced by variable name and read from the environment when the config is loaded.

use std::collections::BTreeMap;

/// Where variable values come from: the process environment, or a fixed map in tests.
#[derive(Debug, Clone, Default)]
pub enum Env {
    /// `std::env::var`.
    #[default]
    Process,
    /// A fixed set of variables (tests, `runner demo`).
    Map(BTreeMap<String, String>),
}

impl Env {
    /// The value of `name`, if set and valid UTF-8.
    pub fn get(&self, name: &str) -> Option<String> {
        match self {
            Env::Process => std::env::var(name).ok(),
            Env::Map(m) => m.get(name).cloned(),
        }
    }
}

/// A reference found in a string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VarRef {
    /// The variable name.
    pub name: String,
    /// The default after `:-`, if any.
    pub default: Option<String>,
}

/// Why a string could not be interpolated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InterpolationError {
    /// `${` without a closing `}` or with an invalid name.
    Malformed(String),
    /// Variables that are unset and have no default.
    Missing(Vec<String>),
}

/// Lists the variable references in `s`, or the syntax error.
pub fn references(s: &str) -> Result<Vec<VarRef>, InterpolationError> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        let after = &rest[i + 1..];
        if let Some(stripped) = after.strip_prefix('$') {
            rest = stripped;
            continue;
        }
        let Some(body) = after.strip_prefix('{') else {
            rest = after;
            continue;
        };
        let Some(end) = body.find('}') else {
            return Err(InterpolationError::Malformed(
                "`${` without a closing `}`".into(),
            ));
        };
        let inner = &body[..end];
        let (name, default) = match inner.split_once(":-") {
            Some((n, d)) => (n, Some(d.to_string())),
            None => (inner, None),
        };
        let valid = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
            && !name.starts_with(|c: char| c.is_ascii_digit());
        if !valid {
            return Err(InterpolationError::Malformed(format!(
                "`${{{inner}}}` is not a valid variable reference (use ${{NAME}} or ${{NAME:-default}} with NAME in A-Z, 0-9, _)"
            )));
        }
        out.push(VarRef {
            name: name.to_string(),
            default,
        });
        rest = &body[end + 1..];
    }
    Ok(out)
}

/// Replaces every reference in `s`. `$$` stands for a literal `$`.
pub fn interpolate(s: &str, env: &Env) -> Result<String, InterpolationError> {
    if !s.contains('$') {
        return Ok(s.to_string());
    }
    references(s)?;
    let mut out = String::with_capacity(s.len());
    let mut missing = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(stripped) = after.strip_prefix('$') {
            out.push('$');
            rest = stripped;
            continue;
        }
        let Some(body) = after.strip_prefix('{') else {
            out.push('$');
            rest = after;
            continue;
        };
        // `references` has checked the syntax, so the closing brace exists.
        let end = body.find('}').unwrap_or(body.len());
        let inner = &body[..end];
        let (name, default) = match inner.split_once(":-") {
            Some((n, d)) => (n, Some(d)),
            None => (inner, None),
        };
        match (env.get(name).filter(|v| !v.is_empty()), default) {
            (Some(v), _) => out.push_str(&v),
            (None, Some(d)) => out.push_str(d),
            (None, None) => missing.push(name.to_string()),
        }
        rest = body.get(end + 1..).unwrap_or("");
    }
    out.push_str(rest);
    if missing.is_empty() {
        Ok(out)
    } else {
        Err(InterpolationError::Missing(missing))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> Env {
        Env::Map(BTreeMap::from([
            ("A".into(), "1".into()),
            ("EMPTY".into(), String::new()),
        ]))
    }

    #[test]
    fn set_unset_default_and_escape() {
        assert_eq!(interpolate("x${A}y", &env()).unwrap(), "x1y");
        assert_eq!(interpolate("${B:-https://d}", &env()).unwrap(), "https://d");
        assert_eq!(interpolate("${EMPTY:-d}", &env()).unwrap(), "d");
        assert_eq!(interpolate("$$.results", &env()).unwrap(), "$.results");
        assert_eq!(interpolate("$.results", &env()).unwrap(), "$.results");
        assert_eq!(
            interpolate("${B}${C}", &env()),
            Err(InterpolationError::Missing(vec!["B".into(), "C".into()]))
        );
    }

    #[test]
    fn malformed_references_are_errors() {
        assert!(matches!(
            interpolate("${A", &env()),
            Err(InterpolationError::Malformed(_))
        ));
        assert!(matches!(
            interpolate("${a}", &env()),
            Err(InterpolationError::Malformed(_))
        ));
    }
}
