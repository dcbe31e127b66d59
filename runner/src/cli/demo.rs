//! `runner demo`: the whole flow against the simulators and a local PostgreSQL (see
//! [`crate::demo`]). It keeps serving until Ctrl-C, or stops after the summary with `--exit`.

use std::net::SocketAddr;
use std::path::Path;

/// Arguments of `runner demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Generated patients (each with appointments, notes, medications, insurance, billing).
    #[arg(long, default_value_t = 200)]
    pub patients: usize,
    /// Stop after the summary (for scripts and CI).
    #[arg(long)]
    pub exit: bool,
    /// Where the demo server listens (`127.0.0.1:0` picks a free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// The demo database; it is dropped and recreated. Default: `clinical_demo` on
    /// 127.0.0.1:5432 when a server answers there, else a throwaway PostgreSQL.
    #[arg(long, env = "DEMO_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Run on a throwaway PostgreSQL (initdb in a temporary folder, removed on exit) even
    /// when a server is running.
    #[arg(long, conflicts_with = "database_url")]
    pub throwaway_db: bool,
}

/// The demo database on the local server.
#[cfg(feature = "demo")]
const LOCAL_DEMO_DB: &str = "postgres://postgres@127.0.0.1:5432/clinical_demo";

/// Runs the command. A build without the `demo` feature (the production image) has no
/// simulators: it says how to get them and exits 2.
pub(super) async fn run(dir: &Path, args: Args) -> anyhow::Result<i32> {
    #[cfg(feature = "demo")]
    {
        run_demo(dir, args).await
    }
    #[cfg(not(feature = "demo"))]
    {
        let _ = (dir, args);
        eprintln!("{NO_DEMO}");
        Ok(2)
    }
}

/// What a build without the simulators answers to `runner demo`.
#[cfg(not(feature = "demo"))]
const NO_DEMO: &str = "runner demo needs the simulators, which this build leaves out \
(it was built with --no-default-features, as the production image is). Build it with the \
default features: cargo run -p runner -- demo";

#[cfg(feature = "demo")]
async fn run_demo(dir: &Path, args: Args) -> anyhow::Result<i32> {
    use anyhow::Context as _;
    use tokio::net::TcpListener;

    use crate::demo::{Demo, Summary};
    use crate::server::serve_with;

    let (database_url, _throwaway) = match (args.database_url.clone(), args.throwaway_db) {
        (Some(url), _) => (url, None),
        (None, false) if crate::demo::reachable(LOCAL_DEMO_DB).await => {
            (LOCAL_DEMO_DB.to_string(), None)
        }
        (None, _) => {
            let pg = crate::demo::Throwaway::start()?;
            println!(
                "Throwaway PostgreSQL: {} (port {}), removed on exit",
                pg.dir().display(),
                pg.port
            );
            (pg.url("clinical_demo"), Some(pg))
        }
    };
    let demo = Demo::start(dir, &database_url, args.patients).await?;
    println!(
        "DrChrono simulator: {}  ({} fake patients)",
        demo.drchrono.url(),
        args.patients
    );
    println!("Coda simulator:     {}", demo.coda.url());
    println!("Demo database:      {database_url}");
    let listener = match TcpListener::bind(args.listen).await {
        Ok(l) => l,
        Err(_) => TcpListener::bind("127.0.0.1:0")
            .await
            .context("cannot listen")?,
    };
    let local = listener.local_addr()?;
    let server_url = format!("http://{local}");
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    seed_admin(&demo.state.pool).await?;
    let mut state = demo.state.clone();
    // The dashboard with a local stand-in for IAP, as `runner serve --admin-dev-user` (only on
    // a loopback listener), signed in as a demo admin.
    let dashboard = match (crate::admin::AdminArgs {
        iap_audience: String::new(),
        iap_jwks_url: crate::admin::IAP_JWKS_URL.into(),
        iap_issuer: crate::admin::IAP_ISSUER.into(),
        dev_user: Some(DEMO_ADMIN.into()),
    })
    .auth(local)
    {
        Ok(auth) => {
            state.admin = auth;
            true
        }
        Err(_) => false,
    };
    let server = tokio::spawn(async move {
        let shutdown = async move {
            let _ = stop_rx.await;
        };
        // As `runner serve` without a role: the inbox worker, the dashboard's sync requests and
        // the outbox worker in-process.
        serve_with(state, listener, shutdown, |state, stop| {
            vec![
                crate::ingest::spawn_worker(state.clone(), stop.clone()),
                crate::admin::spawn_request_worker(state.clone(), stop.clone()),
                crate::push::spawn_outbox_worker(
                    state.pool.clone(),
                    state.plan.clone(),
                    state.coda.clone(),
                    crate::push::OutboxOptions::default(),
                    stop,
                ),
            ]
        })
        .await
    });
    println!("Server:             {server_url}");
    if dashboard {
        println!("Admin dashboard:    {server_url}/admin  (signed in as {DEMO_ADMIN})\n");
    } else {
        println!("Admin dashboard:    off (the listener is not loopback; it needs IAP)\n");
    }

    println!("1. Backfill from DrChrono (every pipeline, in dependency order)");
    let progress = super::progress::CliProgress::new();
    demo.backfill(&progress).await?;
    println!(
        "2. Webhook burst: DrChrono changes and Deep Cura notes (one before its clinical note)"
    );
    let sent = demo.traffic(&server_url).await?;
    println!(
        "   sent {} DrChrono webhooks and {} Deep Cura gridhooks",
        sent.drchrono, sent.deepcura
    );
    println!("3. Push to Coda (diff-only upsertRows by column id)");
    push_all(&demo).await?;
    println!("4. From people: questionnaires (app and email) and an intake completed in Coda");
    let people = crate::demo::traffic_from_people(&demo, &server_url, DEMO_ADMIN).await?;
    println!(
        "   sent {} questionnaire responses and {} write-back from Coda (as {DEMO_ADMIN})",
        people.questionnaires, people.writebacks
    );
    // The outbox worker confirms the change events of everything above; rows Coda already
    // holds are not sent again.
    crate::demo::wait_until(std::time::Duration::from_secs(120), || async {
        let pending: i64 =
            sqlx::query_scalar("select count(*) from outbox where status = 'pending'")
                .fetch_one(&demo.state.pool)
                .await
                .unwrap_or(1);
        pending == 0
    })
    .await
    .context("the outbox did not drain")?;
    let summary = Summary::collect(&demo).await?;
    println!("{summary}");
    if args.exit {
        let _ = stop_tx.send(());
        server.await.context("server task")?.context("server")?;
        return Ok(0);
    }
    println!("\nServing until Ctrl-C:");
    println!("  health            {server_url}/health");
    if dashboard {
        println!("  admin dashboard   {server_url}/admin");
    }
    println!("  DrChrono webhooks {server_url}/webhooks/drchrono");
    println!("  Deep Cura hooks   {server_url}/webhooks/deepcura");
    println!("  questionnaires    {server_url}/inbound/questionnaires");
    println!("  write-back        {server_url}/api/intake/{{appointment_id}} (PATCH)");
    println!(
        "  DrChrono sim      {}/api/patients (Bearer token needed)",
        demo.drchrono.url()
    );
    println!("  Coda sim state    {}/_sim/stats", demo.coda.url());
    crate::app::shutdown_signal().await;
    let _ = stop_tx.send(());
    server.await.context("server task")?.context("server")?;
    Ok(0)
}

/// The demo's staff member: an admin of the dashboard, and the one who completes an intake in
/// Coda.
#[cfg(feature = "demo")]
const DEMO_ADMIN: &str = "demo-admin@clinic.example";

/// Makes [`DEMO_ADMIN`] an active admin in `staff_roles` (audited, actor `demo`).
#[cfg(feature = "demo")]
async fn seed_admin(pool: &sqlx::PgPool) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    crate::store::set_actor(&mut tx, "demo").await?;
    sqlx::query(
        "insert into staff_roles (email, role, display_name) values ($1, 'admin', 'Demo admin') \
         on conflict (email) do update set role = 'admin', active = true",
    )
    .bind(DEMO_ADMIN)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Pushes every mapped table's live rows to Coda.
#[cfg(feature = "demo")]
async fn push_all(demo: &crate::demo::Demo) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let plan = &demo.state.plan;
    let coda = demo.state.coda.clone();
    let mut sources: Vec<&str> = plan.mappings.values().map(|m| m.source.as_str()).collect();
    sources.sort_unstable();
    sources.dedup();
    for table in sources {
        let ids: Vec<uuid::Uuid> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "select id from {} where deleted_at is null",
            crate::store::Ident::new(table)?
        )))
        .fetch_all(&demo.state.pool)
        .await?;
        let out = crate::push::push_records(&demo.state.pool, plan, &coda, table, &ids)
            .await
            .with_context(|| format!("push of {table}"))?;
        println!(
            "   {table:<24} {} rows sent in {} calls ({} unchanged)",
            out.rows_sent, out.calls, out.unchanged
        );
    }
    Ok(())
}
