//! `runner test`: run the fixture tests of `pipelines/tests/` and `mappings/tests/` and print a
//! diff per failure.

use std::path::Path;

use crate::config::{Env, EnvMode, Plan};
use crate::fixtures;

/// Arguments of `runner test`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only these pipelines and Coda mappings (default: all).
    pub pipelines: Vec<String>,
}

/// Runs the command.
pub(super) fn run(dir: &Path, args: &Args) -> anyhow::Result<i32> {
    let (plan, config) = match Plan::load(dir, &Env::Process, EnvMode::Lenient) {
        Ok(x) => x,
        Err(diags) => {
            eprint!("{diags}");
            eprintln!(
                "config invalid: {} error(s); fix them before running fixtures",
                diags.error_count()
            );
            return Ok(1);
        }
    };
    let results = fixtures::run(&plan, &config, &args.pipelines);
    let mut failed = 0;
    for r in &results {
        match &r.failure {
            None => println!("ok    {}: {}", r.file.display(), r.name),
            Some(why) => {
                failed += 1;
                println!("FAIL  {}: {}", r.file.display(), r.name);
                for line in why.lines() {
                    println!("      {line}");
                }
            }
        }
    }
    println!(
        "fixtures: {} passed, {failed} failed",
        results.len() - failed
    );
    Ok(i32::from(failed > 0))
}
