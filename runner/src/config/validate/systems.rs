//! Checks of `pipelines/systems.yaml` (and the write-back secret): secrets only as `${VAR}`,
//! the retention block.

use crate::config::diag::Diagnostics;
use crate::config::load::{Config, SourceFile};

/// Secrets are only ever `${VAR}` references, never written in a file.
pub(super) fn check_secrets(config: &Config, diags: &mut Diagnostics) {
    let mut check = |src: &SourceFile, pointers: &[&str]| {
        for p in pointers {
            let raw = pointer_str(&src.raw, p);
            let is_ref = raw.is_some_and(|s| {
                s.starts_with("${") && s.ends_with('}') && s.matches("${").count() == 1
            });
            if raw.is_some() && !is_ref {
                diags.push(src.error(
                    p,
                    "secrets must be given as a `${VAR}` reference, never written in the file",
                ));
            }
        }
    };
    if let Some(s) = &config.systems {
        check(
            &s.source,
            &[
                "/drchrono/oauth/client_id",
                "/drchrono/oauth/client_secret",
                "/drchrono/oauth/refresh_token",
                "/drchrono/oauth/encryption_key",
                "/drchrono/oauth/previous_encryption_key",
                "/drchrono/webhooks/secret",
                "/deepcura/shared_secret",
                "/coda/api_token",
                "/inbound/secret",
            ],
        );
    }
    if let Some(w) = &config.writeback {
        check(&w.source, &["/secret"]);
    }
}

/// The `retention` block: a valid cron, at least one hot month, and never fewer than the six
/// years HIPAA asks documentation to be kept.
pub(super) fn check_retention(config: &Config, diags: &mut Diagnostics) {
    let Some(doc) = &config.systems else { return };
    let r = &doc.value.retention;
    if let Some(d) = doc
        .source
        .cron_error("/retention/cron", &r.cron, "30 3 * * *")
    {
        diags.push(d);
    }
    if r.hot_months == 0 {
        diags.push(doc.source.error(
            "/retention/hot_months",
            "keep at least the last whole month attached",
        ));
    }
    if r.keep_years < 6 {
        diags.push(doc.source.error(
            "/retention/keep_years",
            "audit records must be kept at least 6 years (HIPAA); the clinic keeps 7",
        ));
    }
}

/// The string at `p` of `v`, if any.
fn pointer_str<'a>(v: &'a serde_json::Value, p: &str) -> Option<&'a str> {
    v.pointer(p).and_then(serde_json::Value::as_str)
}
