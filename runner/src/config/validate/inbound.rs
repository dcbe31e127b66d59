//! Checks of a pipeline whose source is `inbound`: its route, and the `inbound` block of
//! `systems.yaml` that signs it.

use crate::config::diag::Diagnostics;
use crate::config::load::{Config, SourceFile};
use crate::config::pipeline::PipelineFile;

/// An `inbound` source: a route under `/inbound/` that no other pipeline takes, no list
/// endpoint, and the `inbound` block of `systems.yaml` that signs it.
pub(super) fn check_inbound_source(
    config: &Config,
    name: &str,
    p: &PipelineFile,
    src: &SourceFile,
    diags: &mut Diagnostics,
) {
    if p.source.endpoint.is_some() {
        diags.push(src.error(
            "/source/endpoint",
            "an inbound source is posted to: it has no list endpoint",
        ));
    }
    let Some(route) = &p.source.route else {
        diags.push(src.error(
            "/source",
            "an inbound source needs a `route`, for example `/inbound/questionnaires`",
        ));
        return;
    };
    let segment_ok = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
    };
    let valid = route
        .strip_prefix("/inbound/")
        .is_some_and(|rest| rest.split('/').all(segment_ok));
    if !valid {
        diags.push(src.error(
            "/source/route",
            format!(
                "`{route}` must be a path under `/inbound/` of lower-case letters, digits, `-` \
                 and `_` (no parameters), for example `/inbound/questionnaires`"
            ),
        ));
    }
    if let Some(other) = config
        .pipelines
        .iter()
        .find(|(n, d)| n.as_str() < name && d.value.source.route.as_deref() == Some(route.as_str()))
    {
        diags.push(src.error(
            "/source/route",
            format!("`{route}` is already the route of pipeline `{}`", other.0),
        ));
    }
    if config
        .systems
        .as_ref()
        .is_some_and(|s| s.value.inbound.is_none())
    {
        diags.push(src.error(
            "/source/system",
            "systems.yaml has no `inbound` block (its secret signs the posts to this route)",
        ));
    }
}
