//! `runner schema`: write `schema/*.schema.json` and `docs/configuration.md` from the Rust
//! types, or check that the checked-in copies are current.

use std::path::Path;

use crate::config::schema::{DocKind, render, write_all};
use crate::docs;

/// Arguments of `runner schema`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only check that the files on disk are current; exit 1 if not.
    #[arg(long)]
    pub check: bool,
}

/// Runs the command.
pub(super) fn run(dir: &Path, args: &Args) -> anyhow::Result<i32> {
    if args.check {
        let stale = stale_files(dir);
        for f in &stale {
            eprintln!("{f} is out of date: run `runner schema` to rewrite it");
        }
        return Ok(i32::from(!stale.is_empty()));
    }
    write_all(&dir.join("schema"))?;
    std::fs::create_dir_all(dir.join("docs"))?;
    std::fs::write(dir.join(docs::REFERENCE_PATH), docs::reference())?;
    println!(
        "Wrote {} schemas to schema/ and {}.",
        DocKind::ALL.len(),
        docs::REFERENCE_PATH
    );
    Ok(0)
}

/// Generated files whose content on disk differs from what the types generate.
pub fn stale_files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for kind in DocKind::ALL {
        let rel = format!("schema/{}", kind.schema_file());
        if std::fs::read_to_string(dir.join(&rel)).ok().as_deref() != Some(render(kind).as_str()) {
            out.push(rel);
        }
    }
    if std::fs::read_to_string(dir.join(docs::REFERENCE_PATH)).ok() != Some(docs::reference()) {
        out.push(docs::REFERENCE_PATH.to_string());
    }
    out
}
