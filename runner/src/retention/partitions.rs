//! The monthly partitions of the audit tables, as the database has them: which exist (attached
//! or detached), which month each covers (from its name, `<table>_<YYYY>_<MM>`, the only names
//! `ensure_month_partition()` creates), and whether this connection may archive them.

use chrono::{Datelike, NaiveDate};
use sqlx::PgConnection;

use crate::store::{Ident, StoreError};

/// The partitioned audit tables.
pub const AUDIT_TABLES: [&str; 3] = ["change_log", "sync_log", "access_log"];

/// One monthly partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    /// The partitioned table.
    pub parent: &'static str,
    /// The partition's table name.
    pub name: String,
    /// The first day of its month (UTC).
    pub month: NaiveDate,
}

impl Partition {
    /// The partition of `parent` named `name`, if the name is one of ours.
    pub fn parse(parent: &'static str, name: &str) -> Option<Self> {
        let rest = name.strip_prefix(parent)?.strip_prefix('_')?;
        let (y, m) = rest.split_once('_')?;
        if y.len() != 4 || m.len() != 2 {
            return None;
        }
        let month = NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, 1)?;
        Some(Partition {
            parent,
            name: name.to_string(),
            month,
        })
    }

    /// The first day after its month.
    pub fn end(&self) -> NaiveDate {
        self.month
            .checked_add_months(chrono::Months::new(1))
            .unwrap_or(NaiveDate::MAX)
    }

    /// Its name as an identifier.
    pub fn ident(&self) -> Result<Ident, StoreError> {
        Ident::new(&self.name)
    }

    /// Where its archive goes in the bucket: `audit/<table>/<YYYY>/<partition>.jsonl.gz`.
    pub fn object_name(&self) -> String {
        format!(
            "audit/{}/{:04}/{}.jsonl.gz",
            self.parent,
            self.month.year(),
            self.name
        )
    }
}

/// The partitions currently attached to `parent`, oldest first.
pub async fn attached(
    conn: &mut PgConnection,
    parent: &'static str,
) -> Result<Vec<Partition>, StoreError> {
    let names: Vec<String> = sqlx::query_scalar(
        "select c.relname::text from pg_inherits i \
         join pg_class c on c.oid = i.inhrelid \
         where i.inhparent = to_regclass('public.' || quote_ident($1)) order by 1",
    )
    .bind(parent)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| StoreError::from_sqlx("list audit partitions", e))?;
    Ok(names
        .iter()
        .filter_map(|n| Partition::parse(parent, n))
        .collect())
}

/// Creates the partitions of this month and the `months_ahead` next ones; returns how many
/// were missing. Every runtime role may call it (`ensure_audit_partitions()` is SECURITY
/// DEFINER and only ever creates these partitions).
pub async fn ensure(conn: &mut PgConnection, months_ahead: u32) -> Result<i32, StoreError> {
    sqlx::query_scalar("select ensure_audit_partitions($1)")
        .bind(i32::try_from(months_ahead).unwrap_or(i32::MAX))
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| StoreError::from_sqlx("create audit partitions", e))
}

/// Whether the connected user owns the audit tables (directly or through a role), which
/// detaching and dropping partitions requires. The runtime roles do not: in the GCP topology
/// the retention job archives, as the schema owner.
pub async fn owns_audit_tables(conn: &mut PgConnection) -> Result<bool, StoreError> {
    sqlx::query_scalar(
        "select bool_and(pg_has_role(current_user, c.relowner, 'USAGE')) from pg_class c \
         where c.oid in ('public.change_log'::regclass, 'public.sync_log'::regclass, \
                         'public.access_log'::regclass)",
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| StoreError::from_sqlx("check the audit tables' owner", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_partition_names_parse() {
        let p = Partition::parse("change_log", "change_log_2025_01").unwrap();
        assert_eq!(p.month, NaiveDate::from_ymd_opt(2025, 1, 1).unwrap());
        assert_eq!(p.end(), NaiveDate::from_ymd_opt(2025, 2, 1).unwrap());
        assert_eq!(
            p.object_name(),
            "audit/change_log/2025/change_log_2025_01.jsonl.gz"
        );
        for bad in [
            "change_log",
            "change_log_2025",
            "change_log_2025_13",
            "change_log_25_01",
            "sync_log_2025_01",
            "change_log_2025_01_x",
        ] {
            assert!(Partition::parse("change_log", bad).is_none(), "{bad}");
        }
    }
}
