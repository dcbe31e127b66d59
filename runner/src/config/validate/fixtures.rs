//! Checks of the fixture files: `pipelines/tests/*.yaml` name a pipeline and give one outcome
//! per case; `mappings/tests/*.yaml` name a mapping and only its column ids.

use crate::config::diag::Diagnostics;
use crate::config::load::Config;
use crate::config::locate::escape;

/// A pipeline fixture names a known pipeline, and each case has one expected outcome.
pub(super) fn check_fixtures(config: &Config, diags: &mut Diagnostics) {
    for doc in &config.fixtures {
        let src = &doc.source;
        if !config.pipelines.contains_key(&doc.value.pipeline) {
            diags.push(src.error(
                "/pipeline",
                format!("unknown pipeline `{}`", doc.value.pipeline),
            ));
        }
        for (i, case) in doc.value.cases.iter().enumerate() {
            if case.expect.is_some() == case.error.is_some() {
                diags.push(src.error(
                    &format!("/cases/{i}"),
                    "a case has exactly one of `expect` or `error`",
                ));
            }
        }
    }
}

/// A Coda mapping fixture names a mapping, and only column ids of that mapping.
pub(super) fn check_coda_fixtures(config: &Config, diags: &mut Diagnostics) {
    for doc in &config.coda_fixtures {
        let src = &doc.source;
        let Some(m) = config.mappings.get(&doc.value.mapping) else {
            diags.push(src.error(
                "/mapping",
                format!("unknown Coda mapping `{}`", doc.value.mapping),
            ));
            continue;
        };
        for (i, case) in doc.value.cases.iter().enumerate() {
            for id in case.cells.keys() {
                if !m.value.columns.iter().any(|c| &c.id == id) {
                    diags.push(src.key_error(
                        &format!("/cases/{i}/cells/{}", escape(id)),
                        format!(
                            "`{id}` is not a column of mappings/{}.yaml",
                            doc.value.mapping
                        ),
                    ));
                }
            }
        }
    }
}
