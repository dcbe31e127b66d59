//! A throwaway PostgreSQL for `runner demo` on a machine with the PostgreSQL binaries but no
//! server running: `initdb` into a temporary folder, `pg_ctl start` on a free loopback port
//! (its socket in the same folder), and on drop `pg_ctl stop` and the folder removed. The
//! binaries are found through `pg_config --bindir`, then the usual install paths. As root
//! (which `initdb` refuses), the cluster runs as the `postgres` user when the machine has one.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::Context as _;

/// What to say when no binaries are found.
pub(super) const NO_BINARIES: &str = "no PostgreSQL server is reachable at 127.0.0.1:5432 and no PostgreSQL binaries (initdb, pg_ctl) were found: install them (Debian: apt-get install postgresql) or point DEMO_DATABASE_URL at a server";

/// A running throwaway cluster.
#[derive(Debug)]
pub struct Throwaway {
    dir: PathBuf,
    bindir: PathBuf,
    run_as: Option<String>,
    /// Its loopback port.
    pub port: u16,
}

impl Throwaway {
    /// Creates and starts a cluster; the error says what is missing.
    pub fn start() -> anyhow::Result<Throwaway> {
        let bindir = bindir().context(NO_BINARIES)?;
        let run_as = if is_root() {
            Some(user_exists("postgres").then(|| "postgres".to_string()).context(
                "initdb refuses to run as root and this machine has no `postgres` user: run the demo as another user or set DEMO_DATABASE_URL",
            )?)
        } else {
            None
        };
        let dir = std::env::temp_dir().join(format!("runner-demo-pg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).context("create the throwaway folder")?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .context("find a free port")?
            .port();
        let pg = Throwaway {
            dir,
            bindir,
            run_as,
            port,
        };
        if let Some(user) = &pg.run_as {
            let ok = Command::new("chown")
                .arg(format!("{user}:"))
                .arg(&pg.dir)
                .status()
                .is_ok_and(|s| s.success());
            anyhow::ensure!(ok, "cannot hand the throwaway folder to {user}");
        }
        let data = pg.dir.join("data");
        pg.run(
            "initdb",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-U".as_ref(),
                "postgres".as_ref(),
                "-A".as_ref(),
                "trust".as_ref(),
                "-E".as_ref(),
                "UTF8".as_ref(),
                "--no-sync".as_ref(),
            ],
        )?;
        let opts = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            pg.dir.display()
        );
        let log = pg.dir.join("server.log");
        pg.run(
            "pg_ctl",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-o".as_ref(),
                opts.as_ref(),
                "-l".as_ref(),
                log.as_os_str(),
                "-w".as_ref(),
                "start".as_ref(),
            ],
        )?;
        Ok(pg)
    }

    /// The URL of database `name` on the cluster.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// The folder that holds the cluster.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn command(&self, tool: &str) -> Command {
        let path = self.bindir.join(tool);
        let mut cmd = match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(path);
                c
            }
            None => Command::new(path),
        };
        cmd.stdout(Stdio::null()).stderr(Stdio::piped());
        cmd
    }

    fn run(&self, tool: &str, args: &[&std::ffi::OsStr]) -> anyhow::Result<()> {
        let out = self
            .command(tool)
            .args(args)
            .output()
            .with_context(|| format!("cannot run {tool}"))?;
        anyhow::ensure!(
            out.status.success(),
            "{tool} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        Ok(())
    }
}

impl Drop for Throwaway {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&data)
            .args(["-m", "fast", "-w", "stop"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The folder that holds `initdb` and `pg_ctl`.
fn bindir() -> Option<PathBuf> {
    let has_tools = |d: &Path| d.join("initdb").is_file() && d.join("pg_ctl").is_file();
    let from_pg_config = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    if let Some(d) = from_pg_config.filter(|d| has_tools(d)) {
        return Some(d);
    }
    // Debian keeps one folder per major version; the newest wins.
    let mut debian: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|d| has_tools(d))
        .collect();
    debian.sort_by_key(|d| {
        d.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    debian.pop().or_else(|| {
        [
            "/usr/local/pgsql/bin",
            "/usr/local/bin",
            "/opt/homebrew/bin",
            "/usr/bin",
        ]
        .iter()
        .map(PathBuf::from)
        .find(|d| has_tools(d))
    })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn user_exists(name: &str) -> bool {
    std::fs::read_to_string("/etc/passwd")
        .is_ok_and(|p| p.lines().any(|l| l.split(':').next() == Some(name)))
}
