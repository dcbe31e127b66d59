//! Checks of `pipelines/writeback.yaml`: paths, Coda-owned tables only, keys, staff roles.

use std::collections::BTreeSet;

use super::Tables;
use crate::config::diag::Diagnostics;
use crate::config::load::Config;

/// The roles of `staff_roles.role` (its CHECK constraint in `schema/db/0004_workflow.sql`).
const STAFF_ROLES: [&str; 5] = ["admin", "clinician", "front_desk", "billing", "viewer"];

/// Endpoint paths are well formed and unique, tables Coda-owned, keys not writable, roles known.
pub(super) fn check_writeback(config: &Config, tables: &Tables<'_>, diags: &mut Diagnostics) {
    let Some(doc) = &config.writeback else { return };
    let src = &doc.source;
    let mut paths = BTreeSet::new();
    for (i, ep) in doc.value.endpoints.iter().enumerate() {
        let at = format!("/endpoints/{i}");
        let params: Vec<&str> = ep
            .path
            .split('/')
            .filter(|s| s.starts_with('{') && s.ends_with('}'))
            .collect();
        if !ep.path.starts_with('/') || params.len() != 1 {
            diags.push(src.error(
                &format!("{at}/path"),
                "a write-back path starts with `/` and has exactly one `{param}` segment",
            ));
        }
        if !paths.insert(ep.path.clone()) {
            diags.push(src.error(
                &format!("{at}/path"),
                format!("path `{}` is declared twice", ep.path),
            ));
        }
        if let Some((pipeline, _)) = tables.synced.get(ep.table.as_str()) {
            diags.push(src.error(&format!("{at}/table"), format!("`{}` is synced from upstream by pipeline `{pipeline}`; Coda may only write Coda-owned tables", ep.table)));
        }
        if ep.fields.contains_key(&ep.key) {
            diags.push(src.error(
                &format!("{at}/fields"),
                format!("the key `{}` cannot also be a writable field", ep.key),
            ));
        }
        if ep
            .fields
            .contains_key(crate::writeback::body::VERSION_FIELD)
        {
            diags.push(src.error(
                &format!("{at}/fields/version"),
                "`version` is the body's optimistic-concurrency field; a column by that name cannot be written",
            ));
        }
        if ep.roles.is_empty() {
            diags.push(src.error(
                &format!("{at}/roles"),
                "no staff role may call this endpoint: list at least one",
            ));
        }
        for (j, role) in ep.roles.iter().enumerate() {
            if !STAFF_ROLES.contains(&role.as_str()) {
                diags.push(src.error(
                    &format!("{at}/roles/{j}"),
                    format!(
                        "unknown staff role `{role}`; staff_roles knows {}",
                        STAFF_ROLES.join(", ")
                    ),
                ));
            }
        }
    }
}
