//! Single-use form tokens. A page with forms (admins only) gets a fresh random token, stored as
//! its SHA-256 hash with the staff email and an expiry; a POST must carry one that exists, is
//! bound to the same email and has not expired, and using it deletes it. So a forged token, one
//! of another user, an expired one, or one used before (a replay) is a 403. Tokens live in the
//! database, not in memory, because several api instances serve one dashboard.

use sha2::{Digest, Sha256};
use sqlx::PgPool;

use super::view::HtmlError;
use crate::server::ApiError;
use crate::store::StoreError;

/// How long a page's forms stay usable, in minutes.
pub(super) const TOKEN_MINUTES: i32 = 120;

fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// A new token for `email` (and the removal of expired ones).
pub(super) async fn issue(pool: &PgPool, email: &str) -> Result<String, StoreError> {
    // 244 random bits from two v4 UUIDs (the OS generator).
    let token = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    sqlx::query(
        "with gone as (delete from admin_csrf_tokens where expires_at < now()) \
         insert into admin_csrf_tokens (token_hash, email, expires_at) \
         values ($1, $2, now() + make_interval(mins => $3))",
    )
    .bind(hash(&token))
    .bind(email)
    .bind(TOKEN_MINUTES)
    .execute(pool)
    .await
    .map_err(|e| StoreError::from_sqlx("issue a form token", e))?;
    Ok(token)
}

/// Spends `token` for `email`; a missing, forged, foreign, expired or spent token is a 403.
pub(super) async fn spend(
    pool: &PgPool,
    email: &str,
    token: Option<&str>,
) -> Result<(), HtmlError> {
    let token = token.map(str::trim).filter(|t| !t.is_empty());
    let Some(token) = token else {
        return Err(ApiError::forbidden("the form carried no token; reload the page").into());
    };
    let spent = sqlx::query(
        "delete from admin_csrf_tokens where token_hash = $1 and email = $2 and expires_at > now()",
    )
    .bind(hash(token))
    .bind(email)
    .execute(pool)
    .await
    .map_err(|e| StoreError::from_sqlx("spend a form token", e))?;
    if spent.rows_affected() == 1 {
        Ok(())
    } else {
        tracing::warn!(
            event = crate::telemetry::events::ADMIN_REFUSED,
            reason = "bad form token",
            status = 403,
            "Admin request refused."
        );
        Err(ApiError::forbidden("the form expired or was already used; reload the page").into())
    }
}
