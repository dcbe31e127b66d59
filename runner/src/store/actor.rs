//! The audit actor of a transaction: who is writing (a pipeline name or a staff email).

use sqlx::PgConnection;

use super::StoreError;

/// Sets the audit actor for the rest of the current transaction
/// (`set_config('app.actor', actor, true)`, i.e. `SET LOCAL`).
///
/// Call it right after `BEGIN`: outside a transaction the setting would end with this very
/// statement, and the audit trigger refuses every write made without an actor.
pub async fn set_actor(conn: &mut PgConnection, actor: &str) -> Result<(), StoreError> {
    if actor.trim().is_empty() {
        return Err(StoreError::MissingActor);
    }
    sqlx::query("SELECT set_config('app.actor', $1, true)")
        .bind(actor)
        .execute(conn)
        .await
        .map_err(|e| StoreError::from_sqlx("set the audit actor", e))?;
    Ok(())
}
