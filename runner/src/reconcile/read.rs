//! Both sides of a reconcile, read whole: every page of the Coda table (`listRows` in
//! `simpleWithArrays`, under the read budget of the client) and what the mapping makes of
//! every PostgreSQL row of its source (soft-deleted rows left out where the push removes them).

use uuid::Uuid;

use super::diff::Expected;
use crate::push::rows::read_page;
use crate::push::{CodaClient, CodaError, CodaRow, CompiledMapping, Mappings, PushError};

/// PostgreSQL rows read per page.
const PG_PAGE: i64 = 2000;

/// Where a listing stops whatever the server says (a guard against a server that keeps
/// answering with a next page): 10 million rows at 500 a page.
const MAX_PAGES: u64 = 20_000;

/// A Coda table as read: its rows in listing order and the `listRows` calls made.
#[derive(Debug, Default)]
pub(super) struct CodaTable {
    /// The rows, oldest first.
    pub rows: Vec<CodaRow>,
    /// Pages read.
    pub calls: u64,
}

/// Every row of `m`'s Coda table; `None` when Coda says the table (or its doc) does not exist.
pub(super) async fn coda_table(
    coda: &CodaClient,
    m: &CompiledMapping,
    page_size: u32,
) -> Result<Option<CodaTable>, CodaError> {
    let mut out = CodaTable::default();
    let mut token: Option<String> = None;
    while out.calls < MAX_PAGES {
        out.calls += 1;
        let page = coda
            .list_rows(&m.doc, &m.table, &[], page_size, token.as_deref())
            .await;
        let (rows, next) = match page {
            Ok(p) => p,
            Err(CodaError::Status { status: 404, .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        out.rows.extend(rows);
        match next {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    Ok(Some(out))
}

/// What the mapping makes of PostgreSQL: the rows Coda must hold, and the rows whose template
/// failed (id and the failing column id).
pub(super) async fn expected(
    pool: &sqlx::PgPool,
    maps: &Mappings,
    m: &CompiledMapping,
) -> Result<(Vec<Expected>, Vec<(Uuid, String)>), PushError> {
    let mut out = Vec::new();
    let mut failed = Vec::new();
    let mut after = None;
    loop {
        let page = read_page(pool, &m.source, after, PG_PAGE).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        for row in page {
            if m.skip_deleted && row.is_deleted() {
                continue;
            }
            match maps.cells(m, &row.values) {
                Ok(cells) => out.push(Expected { id: row.id, cells }),
                Err(column) => {
                    failed.push((row.id, format!("{}: template of {column} failed", m.table)));
                }
            }
        }
    }
    Ok((out, failed))
}
