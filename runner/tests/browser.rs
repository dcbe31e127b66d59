//! The admin dashboard in a real headless Chromium, driven through chromedriver from Rust
//! (fantoccini): a staff member signs in (the dev user standing in for IAP), sees a failed sync
//! on the health page, replays a failed inbox entry, links a review item by hand and finds the
//! audit row, and exports a patient's disclosure CSV; and the pages read and their forms work
//! with JavaScript switched off.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`/usr/bin/chromium`, `/usr/bin/chromedriver`;
//! `.ci/run` installs them). On a failure, a screenshot of every page the test visited is
//! written under `$CARGO_TARGET_TMPDIR/browser/<test>/`, and the path is in the panic message.

#[path = "it/common.rs"]
mod common;
#[path = "it/admin/support.rs"]
mod support;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use sqlx::PgPool;

use support::{ADMIN, World, seed, state_as};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The longest a step waits for the page to show what it expects (a bounded wait, not a
/// timing assertion).
const PATIENCE: Duration = Duration::from_secs(30);

/// chromedriver on a free loopback port; stopped when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    async fn start() -> Driver {
        for bin in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                std::path::Path::new(bin).exists(),
                "{bin} is missing: apt-get install -y chromium chromium-driver"
            );
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let url = format!("http://127.0.0.1:{port}");
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "chromedriver did not listen"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Driver { child, url }
    }
}

/// A browser session and the screenshots of the pages it visited.
struct Browser {
    client: Client,
    out: PathBuf,
    downloads: PathBuf,
    shots: Vec<(String, Vec<u8>)>,
    _profile: PathBuf,
}

impl Browser {
    /// Headless Chromium with a fresh profile, the flags this machine needs, and JavaScript on
    /// or off.
    async fn start(driver: &Driver, test: &str, javascript: bool) -> Browser {
        let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join("browser")
            .join(test);
        let _ = std::fs::remove_dir_all(&out);
        let downloads = out.join("downloads");
        let profile = out.join("profile");
        std::fs::create_dir_all(&downloads).expect("output folder");
        std::fs::create_dir_all(&profile).expect("profile folder");
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                    "--window-size=1280,1000", format!("--user-data-dir={}", profile.display()),
                ],
                "prefs": {
                    "download.default_directory": downloads.display().to_string(),
                    "download.prompt_for_download": false,
                    "profile.managed_default_content_settings.javascript": if javascript { 1 } else { 2 },
                },
            },
        });
        let caps = caps.as_object().expect("object").clone();
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&driver.url)
            .await
            .expect("a Chromium session");
        Browser {
            client,
            out,
            downloads,
            shots: Vec::new(),
            _profile: profile,
        }
    }

    /// Keeps a screenshot of the current page under `name`.
    async fn shot(&mut self, name: &str) {
        if let Ok(png) = self.client.screenshot().await {
            self.shots
                .push((format!("{:02}-{name}", self.shots.len() + 1), png));
        }
    }

    /// Opens `url` and keeps its screenshot.
    async fn open(&mut self, url: &str, name: &str) -> Result<()> {
        self.client
            .goto(url)
            .await
            .with_context(|| format!("open {url}"))?;
        self.shot(name).await;
        Ok(())
    }

    /// The visible text of the page.
    async fn text(&self) -> Result<String> {
        Ok(self.client.find(Locator::Css("body")).await?.text().await?)
    }

    /// Reloads until the page's text satisfies `ok`.
    async fn reload_until(&mut self, what: &str, ok: impl Fn(&str) -> bool) -> Result<String> {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let text = self.text().await?;
            if ok(&text) {
                return Ok(text);
            }
            if tokio::time::Instant::now() > deadline {
                bail!("the page never showed {what}");
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
            self.client.refresh().await?;
        }
    }

    /// Clicks the element `css` and keeps a screenshot of where it leads.
    async fn click(&mut self, css: &str, name: &str) -> Result<()> {
        self.client
            .find(Locator::Css(css))
            .await
            .with_context(|| format!("find {css}"))?
            .click()
            .await
            .with_context(|| format!("click {css}"))?;
        self.shot(name).await;
        Ok(())
    }

    /// Ends the session; on a failure, writes every screenshot and the current one, then panics
    /// naming the folder.
    async fn finish(mut self, outcome: Result<()>) {
        if outcome.is_err() {
            self.shot("at-failure").await;
            for (name, png) in &self.shots {
                let _ = std::fs::write(self.out.join(format!("{name}.png")), png);
            }
        }
        let _ = self.client.close().await;
        if let Err(e) = outcome {
            panic!("{e:#}\nscreenshots of each page: {}", self.out.display());
        }
    }
}

/// The dashboard served on a loopback socket with the inbox worker and the sync-request
/// worker, signed in as the on-call admin; returns its base URL.
async fn serve(pool: &PgPool) -> String {
    let plan = common::plan("http://127.0.0.1:9");
    let state = state_as(pool, plan, ADMIN);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(runner::server::serve_with(
        state,
        listener,
        std::future::pending::<()>(),
        |state, stop| {
            vec![
                runner::ingest::spawn_worker(state.clone(), stop.clone()),
                runner::admin::spawn_request_worker(state.clone(), stop),
            ]
        },
    ));
    url
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn on_call_staff_do_the_daily_procedure_in_a_real_browser(pool: PgPool) {
    let w = seed(&pool).await;
    let inbox = support::failed_inbox_entry(&pool).await;
    let base = serve(&pool).await;
    let driver = Driver::start().await;
    let mut b = Browser::start(&driver, "daily_procedure", true).await;
    let outcome = daily_procedure(&mut b, &base, &w, inbox).await;
    b.finish(outcome).await;
}

async fn daily_procedure(b: &mut Browser, base: &str, w: &World, inbox: i64) -> Result<()> {
    // 1. Sync health: the failed pipeline, in its failed row, with its reason.
    b.open(&format!("{base}/admin"), "health").await?;
    let failing = b
        .client
        .find(Locator::Css("tr.row-failing th"))
        .await?
        .text()
        .await?;
    if failing != "patients" {
        bail!("the failing row is {failing:?}, not patients");
    }
    let text = b.text().await?;
    for want in ["Needs attention", "DrChrono answered 500", ADMIN] {
        if !text.contains(want) {
            bail!("the health page does not show {want:?}");
        }
    }

    // 2. Failures: replay the failed inbox entry; the inbox worker processes it.
    b.click("nav a[href='/admin/failures']", "failures").await?;
    b.click(&format!("#inbox-{inbox} button"), "replayed")
        .await?;
    b.reload_until("the entry gone from the failed list", |t| {
        t.contains("Failed inbox entries (0)")
    })
    .await?;
    b.shot("replay-done").await;

    // 3. Review queue: link the waiting note to the right clinical note by hand.
    b.open(&format!("{base}/admin/review"), "review").await?;
    b.click(
        &format!("input[type=radio][value='{}']", w.note),
        "candidate-chosen",
    )
    .await?;
    b.click(
        &format!("#item-{} .link-form button[type=submit]", w.review),
        "linked",
    )
    .await?;
    let text = b.text().await?;
    if !text.contains("Linked by hand") || !text.contains("Nothing waits for review") {
        bail!("the link was not confirmed");
    }

    // 4. Audit trail: filter by the staff member, find the row, open the record's history.
    b.open(&format!("{base}/admin/audit"), "audit").await?;
    let actor = format!("admin:{ADMIN}");
    b.client
        .find(Locator::Css("input[name=actor]"))
        .await?
        .send_keys(&actor)
        .await?;
    b.click(".filters button[type=submit]", "audit-filtered")
        .await?;
    let row = b
        .client
        .find(Locator::Css("#changes tbody tr"))
        .await?
        .text()
        .await?;
    if !row.contains("deepcura_notes") || !row.contains(&actor) || !row.contains("link_method") {
        bail!("the audit row is {row:?}");
    }
    b.click("#changes tbody tr a", "history").await?;
    if !b.text().await?.contains("\"manual\"") {
        bail!("the history does not show link_method manual");
    }

    // 5. The patient's accounting of disclosures, downloaded as CSV.
    b.open(
        &format!("{base}/admin/audit/patients/{}", w.patient),
        "patient",
    )
    .await?;
    b.click("#disclosures", "export").await?;
    let file = b.downloads.join(format!("disclosures-{}.csv", w.patient));
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !file.exists() {
        if tokio::time::Instant::now() > deadline {
            bail!("no CSV was downloaded into {}", b.downloads.display());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let csv = std::fs::read_to_string(&file)?;
    let has = |needle: &str| csv.lines().any(|l| l.contains(needle));
    if !(has(&format!(",change,admin:{ADMIN},deepcura_notes,"))
        && has(&format!(
            ",action,{ADMIN},/admin/review/{{rule}}/{{id}}/link,"
        ))
        && has(&format!(
            ",view,{ADMIN},/admin/audit/patients/{{id}}/disclosures.csv,"
        ))
        && has(",change,test-setup,patients,"))
    {
        bail!("the CSV misses a change or a view:\n{csv}");
    }
    Ok(())
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn every_page_reads_and_every_form_works_without_javascript(pool: PgPool) {
    let w = seed(&pool).await;
    sqlx::query("update outbox set status = 'dead', last_error = 'coda answered 400' where id = (select min(id) from outbox)")
        .execute(&pool)
        .await
        .unwrap();
    let base = serve(&pool).await;
    let driver = Driver::start().await;
    let mut b = Browser::start(&driver, "no_javascript", false).await;
    let outcome = async {
        let pages = [
            ("/admin", "Sync health"),
            ("/admin/failures", "Outbox dead letters (1)"),
            ("/admin/review", "1 waiting"),
            ("/admin/audit", "Fields changed"),
            (
                &format!("/admin/audit/patients/{}", w.patient) as &str,
                "History of patients",
            ),
            ("/admin/access", "Access log"),
        ];
        for (path, want) in pages {
            b.open(&format!("{base}{path}"), path.trim_start_matches('/'))
                .await?;
            if !b.text().await?.contains(want) {
                bail!("{path} does not show {want:?} without JavaScript");
            }
        }
        b.open(&format!("{base}/admin/failures"), "failures-again")
            .await?;
        b.click("#dead form button[type=submit]", "retried").await?;
        let text = b.text().await?;
        if !text.contains("pending again") || !text.contains("Outbox dead letters (0)") {
            bail!("the retry did not go through without JavaScript");
        }
        Ok(())
    }
    .await;
    b.finish(outcome).await;
}
