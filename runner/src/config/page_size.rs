//! The DrChrono request budget's biggest lever, checked by `runner validate`: a list endpoint
//! read in pages smaller than it accepts costs more requests out of the 500 an hour, and a
//! page size above what it accepts is silently cut down.
//!
//! Limits: the OpenAPI file declares at most 250 on `/api/appointments` and 25 with
//! `verbose=true`; DrChrono's support article on bulk endpoints gives 250 as the limit of the
//! other listings (only the asynchronous bulk endpoints go to 1,000).

use super::diag::Diagnostics;
use super::load::Config;
use super::pipeline::System;

/// The largest page a plain DrChrono listing returns.
pub const DRCHRONO_MAX_PAGE: u32 = 250;
/// The largest page with `verbose=true`.
pub const DRCHRONO_VERBOSE_MAX_PAGE: u32 = 25;

/// The largest page DrChrono returns for a listing with these query parameters.
pub fn drchrono_max_page(params: &std::collections::BTreeMap<String, String>) -> u32 {
    if params.get("verbose").is_some_and(|v| v == "true") {
        DRCHRONO_VERBOSE_MAX_PAGE
    } else {
        DRCHRONO_MAX_PAGE
    }
}

/// Warns about DrChrono list pipelines whose page size is left to the default (neither the
/// pipeline nor `systems.yaml` sets one) or exceeds what the endpoint returns.
pub fn check(config: &Config, diags: &mut Diagnostics) {
    // Without a usable systems.yaml its own errors say enough.
    let Some(systems) = &config.systems else {
        return;
    };
    let system_default = systems
        .source
        .raw
        .pointer("/drchrono/page_size")
        .map(|_| systems.value.drchrono.page_size);
    for doc in config.pipelines.values() {
        let src = &doc.value.source;
        let Some(endpoint) = src.endpoint.as_deref() else {
            continue;
        };
        if src.system != System::Drchrono {
            continue;
        }
        let max = drchrono_max_page(&src.params);
        match (src.page_size, system_default) {
            (Some(n), _) if n > max => diags.push(doc.source.warning(
                "/source/page_size",
                format!("{endpoint} returns at most {max} records a page: page_size {n} is cut down to {max}"),
            )),
            (None, None) => diags.push(doc.source.warning(
                "/source/endpoint",
                format!(
                    "{endpoint} is listed without `page_size` (here or in systems.yaml): pages of the default 100 records cost more requests; set the largest the endpoint accepts ({max})"
                ),
            )),
            (None, Some(n)) if n > max => diags.push(doc.source.warning(
                "/source/endpoint",
                format!("{endpoint} returns at most {max} records a page: the page_size {n} of systems.yaml is cut down to {max}; set `page_size: {max}` here"),
            )),
            _ => {}
        }
    }
}
