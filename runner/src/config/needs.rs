//! What a command needs of the config's `${VAR}`s: [`Needs`] names the external systems it
//! talks to, whose variables must be set; [`required_vars`] lists those variables, which the
//! deployment must provide (the Terraform contract test compares them with each Cloud Run
//! service's environment).

use std::collections::BTreeSet;

use serde_json::Value;

use super::env::references;
use super::load::Config;
use super::schema::DocKind;

/// The external systems a command talks to. Their variables must be set; the variables of
/// the others may be missing (they load as empty strings and are never used).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Needs {
    /// `systems.yaml` `drchrono`: the REST API.
    pub drchrono: bool,
    /// `systems.yaml` `drchrono.webhooks`: the secret DrChrono's webhooks are checked with.
    pub drchrono_webhooks: bool,
    /// `systems.yaml` `deepcura`: gridhooks.
    pub deepcura: bool,
    /// `systems.yaml` `coda`.
    pub coda: bool,
    /// `writeback.yaml`: the write-back endpoints' secret.
    pub writeback: bool,
    /// `systems.yaml` `inbound`: the secret that signs posts to the inbound routes.
    pub inbound: bool,
}

impl Needs {
    /// Every system.
    pub const ALL: Needs = Needs {
        drchrono: true,
        drchrono_webhooks: true,
        deepcura: true,
        coda: true,
        writeback: true,
        inbound: true,
    };
    /// DrChrono's REST API only (`runner sync`, `runner verify`, `runner replay`).
    pub const DRCHRONO: Needs = Needs {
        drchrono: true,
        drchrono_webhooks: false,
        deepcura: false,
        coda: false,
        writeback: false,
        inbound: false,
    };
    /// Coda only (`runner push`, `runner outbox`).
    pub const CODA: Needs = Needs {
        drchrono: false,
        drchrono_webhooks: false,
        deepcura: false,
        coda: true,
        writeback: false,
        inbound: false,
    };
    /// No external system (the database only).
    pub const NONE: Needs = Needs {
        drchrono: false,
        drchrono_webhooks: false,
        deepcura: false,
        coda: false,
        writeback: false,
        inbound: false,
    };

    /// Whether an unset variable at `pointer` of a `kind` document is an error for a command
    /// with these needs.
    pub fn requires(self, kind: DocKind, pointer: &str) -> bool {
        let under = |prefix: &str| pointer == prefix || pointer.starts_with(&format!("{prefix}/"));
        match kind {
            DocKind::Systems if under("/drchrono/webhooks") => self.drchrono_webhooks,
            DocKind::Systems if under("/drchrono") => self.drchrono,
            DocKind::Systems if under("/deepcura") => self.deepcura,
            DocKind::Systems if under("/coda") => self.coda,
            DocKind::Systems if under("/inbound") => self.inbound,
            DocKind::Writeback => self.writeback,
            _ => true,
        }
    }
}

/// The variables without a default that a command with `needs` requires, over every document
/// of `config` (read from the YAML as written).
pub fn required_vars(config: &Config, needs: Needs) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut sources: Vec<&super::load::SourceFile> = Vec::new();
    sources.extend(config.systems.iter().map(|d| &d.source));
    sources.extend(config.links.iter().map(|d| &d.source));
    sources.extend(config.writeback.iter().map(|d| &d.source));
    sources.extend(config.pipelines.values().map(|d| &d.source));
    sources.extend(config.mappings.values().map(|d| &d.source));
    for source in sources {
        walk(&source.raw, "", &mut |pointer, s| {
            if needs.requires(source.kind, pointer) {
                for r in references(s).unwrap_or_default() {
                    if r.default.is_none() {
                        out.insert(r.name);
                    }
                }
            }
        });
    }
    out
}

fn walk(v: &Value, at: &str, f: &mut dyn FnMut(&str, &str)) {
    match v {
        Value::String(s) => f(at, s),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                walk(item, &format!("{at}/{i}"), f);
            }
        }
        Value::Object(map) => {
            for (k, item) in map {
                walk(item, &format!("{at}/{}", super::locate::escape(k)), f);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Env, EnvMode, load_dir};

    #[test]
    fn each_system_needs_only_its_own_variables() {
        let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let (config, _) = load_dir(&dir, &Env::Map(Default::default()), EnvMode::Lenient);
        let sync = required_vars(
            &config,
            Needs {
                drchrono: true,
                ..Needs::NONE
            },
        );
        assert!(sync.contains("DRCHRONO_REFRESH_TOKEN"), "{sync:?}");
        assert!(!sync.contains("CODA_API_TOKEN") && !sync.contains("DRCHRONO_BASE_URL"));
        // `runner sync` reads the API, never a webhook: it runs without the webhook secret.
        assert!(!required_vars(&config, Needs::DRCHRONO).contains("DRCHRONO_WEBHOOK_SECRET"));
        let webhooks = Needs {
            drchrono_webhooks: true,
            ..Needs::NONE
        };
        assert_eq!(
            required_vars(&config, webhooks),
            BTreeSet::from(["DRCHRONO_WEBHOOK_SECRET".into()])
        );
        let push = required_vars(
            &config,
            Needs {
                coda: true,
                ..Needs::NONE
            },
        );
        assert_eq!(
            push,
            BTreeSet::from(["CODA_API_TOKEN".into(), "CODA_DOC_ID".into()])
        );
        assert!(required_vars(&config, Needs::NONE).is_empty());
        assert!(required_vars(&config, Needs::ALL).contains("CODA_WRITEBACK_SECRET"));
    }
}
