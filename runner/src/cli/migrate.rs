//! `runner migrate`: create the database if it is missing, apply `schema/db/`, then grant the
//! least-privilege database roles to the login users named in `RUNNER_DB_GRANTS` (on Cloud
//! SQL, the IAM users of the service accounts: `clinical_sync=drchrono-sync-sa@PROJECT.iam,...`).

use anyhow::Context as _;

/// Arguments of `runner migrate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// PostgreSQL URL. Default: `$DATABASE_URL`, else `postgres://postgres@127.0.0.1:5432/clinical`.
    #[arg(long)]
    pub database_url: Option<String>,
    /// Role grants to apply after migrating, comma-separated `role=user` pairs; the roles are
    /// `clinical_sync`, `clinical_push` and `clinical_writeback`.
    #[arg(long, env = "RUNNER_DB_GRANTS", default_value = "")]
    pub grants: String,
}

/// The roles `--grants` may hand out.
const GRANTABLE: [&str; 3] = ["clinical_sync", "clinical_push", "clinical_writeback"];

/// Parses `role=user,role=user`.
fn parse_grants(s: &str) -> anyhow::Result<Vec<(String, String)>> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (role, user) = pair
                .split_once('=')
                .map(|(r, u)| (r.trim(), u.trim()))
                .filter(|(r, u)| !r.is_empty() && !u.is_empty())
                .ok_or_else(|| anyhow::anyhow!("RUNNER_DB_GRANTS: `{pair}` is not role=user"))?;
            if !GRANTABLE.contains(&role) {
                anyhow::bail!(
                    "RUNNER_DB_GRANTS: `{role}` is not one of {}",
                    GRANTABLE.join(", ")
                );
            }
            Ok((role.to_string(), user.to_string()))
        })
        .collect()
}

/// Runs the command.
pub(super) async fn run(args: Args) -> anyhow::Result<i32> {
    let url = args
        .database_url
        .unwrap_or_else(super::default_database_url);
    let grants = parse_grants(&args.grants)?;
    let (pool, created) = super::context::database_at(&url).await?;
    for (role, user) in &grants {
        // format('%I') quotes the names server-side; both are checked above or by PostgreSQL.
        let sql: String = sqlx::query_scalar("select format('GRANT %I TO %I', $1::text, $2::text)")
            .bind(role)
            .bind(user)
            .fetch_one(&pool)
            .await?;
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&pool)
            .await
            .map_err(|e| crate::store::StoreError::from_sqlx("grant a database role", e))
            .with_context(|| format!("cannot grant {role} to {user} (does the user exist?)"))?;
        println!("Granted {role} to {user}.");
    }
    let applied: i64 = sqlx::query_scalar("select count(*) from _sqlx_migrations where success")
        .fetch_one(&pool)
        .await
        .unwrap_or(0);
    println!(
        "Database {}: {applied} migrations applied.",
        if created { "created" } else { "ready" }
    );
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_parse_as_role_user_pairs_and_unknown_roles_are_refused() {
        let g = parse_grants(" clinical_sync=a@p.iam, clinical_push=b@p.iam ,").unwrap();
        assert_eq!(g.len(), 2);
        assert_eq!(g[0], ("clinical_sync".into(), "a@p.iam".into()));
        assert!(parse_grants("").unwrap().is_empty());
        assert!(parse_grants("postgres=evil").is_err());
        assert!(parse_grants("clinical_sync").is_err());
    }
}
