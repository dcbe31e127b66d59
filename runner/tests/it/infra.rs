//! The contract between the runner and its Terraform (`terraform/`), read statically with
//! hcl-rs: every log-based metric filters on an event the runner emits (and every event has a
//! metric); every Cloud Run service runs a role the binary has, and gets every variable its role
//! needs (the config's `${VAR}`s without default for the systems that role talks to, and the
//! settings `runner serve` reads) from its environment or Secret Manager; every secret a
//! service or job reads is declared; the jobs get what their verbs read. Renaming an event, a
//! variable or a role on one side only fails here.

use std::collections::{BTreeMap, BTreeSet};

use clap::ValueEnum as _;
use hcl::{Body, Expression, ObjectKey};
use runner::cli::Role;
use runner::config::{Env, EnvMode, load_dir, required_vars};
use runner::telemetry::events;

use crate::common::repo;

fn parse(rel: &str) -> Body {
    let path = repo().join(rel);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{rel}: {e}"));
    hcl::parse(&text).unwrap_or_else(|e| panic!("{rel} does not parse: {e}"))
}

/// The value of `locals { name = ... }` in `body`.
fn local<'a>(body: &'a Body, name: &str) -> &'a Expression {
    body.blocks()
        .filter(|b| b.identifier() == "locals")
        .flat_map(|b| b.body().attributes())
        .find(|a| a.key() == name)
        .map(|a| a.expr())
        .unwrap_or_else(|| panic!("no local `{name}`"))
}

fn key_name(k: &ObjectKey) -> String {
    match k {
        ObjectKey::Identifier(i) => i.to_string(),
        ObjectKey::Expression(Expression::String(s)) => s.clone(),
        other => panic!("object key must be literal, found {other:?}"),
    }
}

/// An object expression as a map from its literal keys.
fn object(e: &Expression) -> BTreeMap<String, &Expression> {
    match e {
        Expression::Object(o) => o.iter().map(|(k, v)| (key_name(k), v)).collect(),
        other => panic!("expected an object, found {other:?}"),
    }
}

fn string(e: &Expression) -> String {
    match e {
        Expression::String(s) => s.clone(),
        other => panic!("expected a literal string, found {other:?}"),
    }
}

/// Every `resource "TYPE" "NAME"` block of the given type in the folder's `.tf` files.
fn resources(dir: &str, ty: &str) -> Vec<(String, Body)> {
    let mut out = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(repo().join(dir))
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "tf"))
        .collect();
    files.sort();
    for f in files {
        let rel = f
            .strip_prefix(repo())
            .unwrap()
            .to_string_lossy()
            .into_owned();
        for b in parse(&rel)
            .blocks()
            .filter(|b| b.identifier() == "resource")
        {
            let labels: Vec<String> = b.labels().iter().map(|l| l.as_str().to_string()).collect();
            if labels.first().map(String::as_str) == Some(ty) {
                out.push((labels.get(1).cloned().unwrap_or_default(), b.body().clone()));
            }
        }
    }
    out
}

/// The event a log-metric filter selects: `jsonPayload.event="NAME"`.
fn filtered_event(filter: &str) -> Option<String> {
    let rest = filter.split("jsonPayload.event=\"").nth(1)?;
    Some(rest.split('"').next()?.to_string())
}

#[test]
fn every_log_metric_filters_on_an_event_the_runner_emits_and_every_event_has_one() {
    let metrics = resources("terraform/modules/monitoring", "google_logging_metric");
    assert!(!metrics.is_empty(), "no google_logging_metric found");
    let known: BTreeSet<&str> = events::ALL.iter().copied().collect();
    let mut covered = BTreeSet::new();
    for (name, body) in &metrics {
        let filter = body
            .attributes()
            .find(|a| a.key() == "filter")
            .map(|a| string(a.expr()))
            .unwrap_or_else(|| panic!("metric {name} has no literal filter"));
        let event = filtered_event(&filter)
            .unwrap_or_else(|| panic!("metric {name} does not filter on jsonPayload.event"));
        assert!(
            known.contains(event.as_str()),
            "metric {name} filters on `{event}`, which the runner never emits (known: {known:?})"
        );
        covered.insert(event);
    }
    for e in events::ALL {
        assert!(covered.contains(*e), "event `{e}` has no log-based metric");
    }
}

/// What `runner serve` reads besides the config, per role.
fn serve_settings(role: Role) -> &'static [&'static str] {
    match role {
        Role::Sync => &[
            "DATABASE_URL",
            "GOOGLE_CLOUD_PROJECT",
            "PUBSUB_PROJECT_ID",
            "PUBSUB_TOPIC",
            "OIDC_AUDIENCE",
            "OIDC_ALLOWED_EMAILS",
            "RUNNER_NO_SCHEDULER",
        ],
        Role::Push => &[
            "DATABASE_URL",
            "GOOGLE_CLOUD_PROJECT",
            "OIDC_AUDIENCE",
            "OIDC_ALLOWED_EMAILS",
        ],
        Role::Api => &["DATABASE_URL", "GOOGLE_CLOUD_PROJECT", "IAP_AUDIENCE"],
        Role::All => &["DATABASE_URL", "GOOGLE_CLOUD_PROJECT"],
    }
}

fn declared_secrets() -> BTreeSet<String> {
    let body = parse("terraform/modules/secrets/main.tf");
    match local(&body, "secret_ids") {
        Expression::Array(items) => items.iter().map(string).collect(),
        other => panic!("secret_ids must be a literal list, found {other:?}"),
    }
}

/// The names given to a service or job: `env` and `secrets` keys; checks that each secret is
/// declared.
fn given(
    name: &str,
    spec: &BTreeMap<String, &Expression>,
    secrets: &BTreeSet<String>,
) -> BTreeSet<String> {
    let mut names: BTreeSet<String> = object(spec["env"]).into_keys().collect();
    for (var, secret) in object(spec["secrets"]) {
        let id = string(secret);
        assert!(
            secrets.contains(&id),
            "{name} reads secret `{id}`, which modules/secrets does not declare"
        );
        assert!(names.insert(var.clone()), "{name} sets {var} twice");
    }
    names
}

#[test]
fn every_service_runs_a_real_role_and_gets_every_variable_its_role_needs() {
    let (config, diags) = load_dir(&repo(), &Env::Map(BTreeMap::new()), EnvMode::Lenient);
    assert!(!diags.has_errors(), "{diags}");
    let secrets = declared_secrets();
    let body = parse("terraform/modules/cloud-run/services.tf");
    let services = object(local(&body, "services"));
    let keys: BTreeSet<&str> = services.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        BTreeSet::from(["api", "push", "sync"]),
        "one service per role of the GCP topology"
    );
    for (key, spec) in &services {
        let spec = object(spec);
        let role_name = string(spec["role"]);
        let role = Role::from_str(&role_name, false).unwrap_or_else(|_| {
            panic!("service {key} runs `--role {role_name}`, which the runner does not have")
        });
        assert!(role.to_possible_value().is_some());
        let given = given(key, &spec, &secrets);
        let mut needed = required_vars(&config, role.needs());
        needed.extend(serve_settings(role).iter().map(|s| (*s).to_string()));
        let missing: Vec<_> = needed.difference(&given).collect();
        assert!(
            missing.is_empty(),
            "service {key} (role {role_name}) lacks {missing:?}"
        );
    }
    // Every role the binary has, but the embedded one, is deployed.
    for role in Role::value_variants().iter().filter(|r| **r != Role::All) {
        let name = role.to_possible_value().unwrap().get_name().to_string();
        assert!(
            services.values().any(|s| string(object(s)["role"]) == name),
            "no service runs --role {name}"
        );
    }
}

#[test]
fn the_jobs_get_what_their_verbs_read_and_their_secrets_exist() {
    let secrets = declared_secrets();
    let body = parse("terraform/modules/cloud-run/jobs.tf");
    let jobs = object(local(&body, "jobs"));
    let needs: [(&str, &[&str]); 2] = [
        (
            "migrate",
            &["DATABASE_URL", "DATABASE_PASSWORD", "RUNNER_DB_GRANTS"],
        ),
        (
            "retention",
            &["DATABASE_URL", "DATABASE_PASSWORD", "AUDIT_ARCHIVE_BUCKET"],
        ),
    ];
    for (job, vars) in needs {
        let spec = object(jobs.get(job).unwrap_or_else(|| panic!("no job `{job}`")));
        let given = given(job, &spec, &secrets);
        for v in vars {
            assert!(given.contains(*v), "job {job} lacks {v}");
        }
    }
    // The retention job's bucket is the variable systems.yaml reads.
    let systems = std::fs::read_to_string(repo().join("pipelines/systems.yaml")).unwrap();
    assert!(
        systems.contains("${AUDIT_ARCHIVE_BUCKET"),
        "systems.yaml must read AUDIT_ARCHIVE_BUCKET"
    );
}

#[test]
fn the_filter_parser_finds_the_event() {
    assert_eq!(
        filtered_event("jsonPayload.event=\"sync_failed\" AND resource.type=\"x\"").as_deref(),
        Some("sync_failed")
    );
    assert_eq!(filtered_event("resource.type=\"x\""), None);
}
