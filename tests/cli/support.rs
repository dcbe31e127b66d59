//! What the config-verb tests share: the `runner` binary with no secrets in its environment, a
//! copy of the shipped config that a test may break, and the `file:line:col: message` check.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `runner` binary on config directory `dir`, with no database and none of the secrets.
pub(crate) fn runner(dir: &Path) -> Command {
    let mut cmd = Command::new(e2e::runner_bin());
    cmd.arg("--config-dir").arg(dir).env_remove("DATABASE_URL");
    for var in [
        "DRCHRONO_CLIENT_ID",
        "DRCHRONO_CLIENT_SECRET",
        "DRCHRONO_REFRESH_TOKEN",
        "DRCHRONO_WEBHOOK_SECRET",
        "DEEPCURA_SHARED_SECRET",
        "CODA_API_TOKEN",
        "CODA_DOC_ID",
        "CODA_WRITEBACK_SECRET",
        "INBOUND_SECRET",
        "TOKEN_ENCRYPTION_KEY",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// The standard output and error of `o`, as text.
pub(crate) fn out(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// A copy of the shipped config (and schemas) that a test may break.
pub(crate) fn copy() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("runner-cli-{}", uuid::Uuid::new_v4()));
    for sub in [
        "pipelines",
        "pipelines/tests",
        "mappings",
        "mappings/tests",
        "schema",
    ] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
        for e in std::fs::read_dir(e2e::repo().join(sub)).unwrap().flatten() {
            if e.path().is_file() {
                std::fs::copy(e.path(), dir.join(sub).join(e.file_name())).unwrap();
            }
        }
    }
    dir
}

/// A copy of the shipped config with each `(file, from, to)` edit made (see [`replace`]).
pub(crate) fn broken(edits: &[(&str, &str, &str)]) -> PathBuf {
    let dir = copy();
    for (file, from, to) in edits {
        replace(&dir.join(file), from, to);
    }
    dir
}

/// `runner validate` on `dir`, which must fail (exit 1): its standard output and error.
pub(crate) fn validate_fails(dir: &Path) -> (String, String) {
    let o = runner(dir).arg("validate").output().unwrap();
    let (stdout, stderr) = out(&o);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    (stdout, stderr)
}

/// Whether a `file:line:col: message` line of `stderr` points into `file` (past line 1) and
/// its message contains `needle`.
pub(crate) fn located(stderr: &str, file: &str, needle: &str) -> bool {
    stderr.lines().any(|l| {
        let parts: Vec<&str> = l.splitn(4, ':').collect();
        parts.len() == 4
            && parts[0].ends_with(file)
            && parts[1].parse::<u32>().is_ok_and(|n| n > 1)
            && parts[2].parse::<u32>().is_ok()
            && parts[3].contains(needle)
    })
}

/// Replaces the first `from` in the file at `path` by `to`; `from` must be there.
pub(crate) fn replace(path: &Path, from: &str, to: &str) {
    let s = std::fs::read_to_string(path).unwrap();
    assert!(s.contains(from), "{from:?} not in {}", path.display());
    std::fs::write(path, s.replacen(from, to, 1)).unwrap();
}
