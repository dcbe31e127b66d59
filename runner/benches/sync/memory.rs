//! Memory: peak RSS of the `runner sync` process for a large backfill versus a small one. The
//! fetch/write pipeline holds a bounded number of pages, so memory should stay flat.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use sim::data::{Clinic, Resource};
use sim::drchrono::{DrChronoConfig, DrChronoSim};

use super::util::{BenchDb, env_vars, repo};

pub(crate) async fn run(db: &BenchDb, small: usize, large: usize) -> anyhow::Result<()> {
    let config = unlimited_config()?;
    let mut peaks = Vec::new();
    for n in [small, large] {
        db.reset().await?;
        let clinic = Clinic::generate_only(
            11,
            n,
            chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap_or_default(),
            &[Resource::Patients, Resource::Doctors],
        );
        let sim = DrChronoSim::start_with_clinic(
            DrChronoConfig {
                rate_limit: None,
                ..DrChronoConfig::default()
            },
            clinic,
        )
        .await?;
        let mut child = Command::new(env!("CARGO_BIN_EXE_runner"))
            .args(["--config-dir"])
            .arg(&config)
            .args(["sync", "patients", "--full"])
            .envs(env_vars(sim.url()))
            .env("DATABASE_URL", &db.url)
            .env("CI", "1")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()?;
        let status = format!("/proc/{}/status", child.id());
        let mut peak_kb = 0u64;
        loop {
            if let Some(kb) = vm_hwm(&status) {
                peak_kb = peak_kb.max(kb);
            }
            if let Some(exit) = child.try_wait()? {
                anyhow::ensure!(exit.success(), "runner sync failed for {n} patients");
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let rows: i64 = sqlx::query_scalar("select count(*) from patients")
            .fetch_one(&db.pool)
            .await?;
        anyhow::ensure!(rows as usize == n, "backfill stored {rows} of {n} patients");
        peaks.push((n, peak_kb));
        sim.stop().await?;
    }
    std::fs::remove_dir_all(&config).ok();
    let (s, l) = (peaks[0].1 as f64 / 1024.0, peaks[1].1 as f64 / 1024.0);
    println!("memory     peak RSS of `runner sync patients --full`");
    println!("  {:>7} records: {s:>6.1} MB", peaks[0].0);
    println!("  {:>7} records: {l:>6.1} MB", peaks[1].0);
    println!(
        "  ratio {:.2} (target <= 1.20), large run {} 150 MB",
        l / s,
        if l < 150.0 { "below" } else { "NOT below" }
    );
    Ok(())
}

fn vm_hwm(path: &str) -> Option<u64> {
    let s = std::fs::read_to_string(path).ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// A copy of the shipped config whose DrChrono budget is unlimited ("rate limit off").
fn unlimited_config() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("bench-config-{}", std::process::id()));
    for sub in ["pipelines", "pipelines/tests", "mappings"] {
        std::fs::create_dir_all(dir.join(sub))?;
        copy_yaml(&repo().join(sub), &dir.join(sub))?;
    }
    let systems = dir.join("pipelines/systems.yaml");
    let text = std::fs::read_to_string(&systems)?;
    let start = text
        .find("  rate:\n")
        .ok_or_else(|| anyhow::anyhow!("no rate block"))?;
    let end = text[start + 8..]
        .find("\n  webhooks:")
        .map(|i| start + 8 + i)
        .ok_or_else(|| anyhow::anyhow!("no webhooks block"))?;
    std::fs::write(
        &systems,
        format!("{}  rate: []{}", &text[..start], &text[end..]),
    )?;
    Ok(dir)
}

fn copy_yaml(from: &Path, to: &Path) -> anyhow::Result<()> {
    for e in std::fs::read_dir(from)?.flatten() {
        if e.path().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name()))?;
        }
    }
    Ok(())
}
