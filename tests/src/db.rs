//! A fresh database per test on the local PostgreSQL server, dropped when the test ends
//! (also when it fails).

use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

/// The server that holds the test databases.
fn server() -> String {
    std::env::var("E2E_DATABASE_SERVER")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// One test's database.
#[derive(Debug)]
pub struct Db {
    /// Its URL, as the runner gets it in `DATABASE_URL`.
    pub url: String,
    /// A pool on it, for the test's own checks.
    pub pool: PgPool,
    name: String,
}

impl Db {
    /// Creates an empty database (the runner migrates it).
    pub async fn create() -> Db {
        let name = format!("e2e_{}", uuid::Uuid::new_v4().simple());
        let admin = PgPool::connect(&format!("{}/postgres", server()))
            .await
            .expect("PostgreSQL is reachable at E2E_DATABASE_SERVER");
        sqlx::query(sqlx::AssertSqlSafe(format!("create database {name}")))
            .execute(&admin)
            .await
            .expect("create the test database");
        admin.close().await;
        let url = format!("{}/{name}", server());
        let pool = PgPoolOptions::new()
            .max_connections(2)
            .connect(&url)
            .await
            .expect("connect to the test database");
        Db { url, pool, name }
    }

    /// One number from `sql`.
    pub async fn count(&self, sql: &'static str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(&self.pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// The rows of `sql` as JSON objects (one `to_jsonb` column), read in UTC.
    pub async fn json(&self, sql: &str) -> Vec<serde_json::Value> {
        let mut conn = self.pool.acquire().await.expect("a connection");
        sqlx::query("set timezone = 'UTC'")
            .execute(&mut *conn)
            .await
            .expect("set timezone");
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
            .fetch_all(&mut *conn)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs outside any runtime it could block: a thread of its own does the work.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            rt.block_on(async {
                if let Ok(admin) = PgPool::connect(&format!("{}/postgres", server())).await {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "drop database if exists {name} with (force)"
                    )))
                    .execute(&admin)
                    .await;
                }
            });
        })
        .join();
    }
}
