//! `GET /admin/audit/patients/{id}/disclosures.csv`: the accounting of disclosures of one
//! patient, as CSV: every change to any of their records (who changed which fields of what,
//! when) and every dashboard view or action that showed or touched one (who, which page, when),
//! oldest first.
//!
//! The patient's records are the patient row, every row of an audited table whose `patient_id`
//! is the patient, and every row whose `appointment_id` is one of their appointments (intake
//! checklists, tasks, clinical notes). The export itself is a view of all of them, recorded
//! before the report is read, so the report lists its own export. Field names are listed,
//! values are not: the report says who saw what, it does not repeat the record.

use std::fmt::Write as _;
use std::time::Instant;

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::view::{self, HtmlError};
use super::{Page, Staff, trail};
use crate::app::AppState;
use crate::server::ApiError;
use crate::store::{Ident, StoreError};

/// The ids of every record of `patient` (the patient's own id first).
pub async fn records(pool: &PgPool, patient: Uuid) -> Result<Vec<Uuid>, StoreError> {
    let e = |op: &'static str| move |e| StoreError::from_sqlx(op, e);
    // Audited tables with a uuid patient_id or appointment_id column.
    let tables: Vec<(String, bool, bool)> = sqlx::query_as(
        "select c.relname::text, bool_or(a.attname = 'patient_id'), bool_or(a.attname = 'appointment_id') \
         from pg_class c join pg_attribute a on a.attrelid = c.oid \
         join audited_tables t on t.table_name = c.relname \
         where c.relnamespace = 'public'::regnamespace and not c.relispartition \
           and a.attname in ('patient_id', 'appointment_id') and a.atttypid = 'uuid'::regtype \
           and not a.attisdropped \
         group by 1 order by 1",
    )
    .fetch_all(pool)
    .await
    .map_err(e("disclosures: tables"))?;
    let mut parts = vec!["select $1::uuid".to_string()];
    for (table, by_patient, by_appointment) in tables {
        let t = Ident::new(&table)?;
        if by_patient {
            parts.push(format!("select id from {t} where patient_id = $1"));
        }
        if by_appointment {
            parts.push(format!(
                "select id from {t} where appointment_id in (select id from appointments where patient_id = $1)"
            ));
        }
    }
    let mut ids: Vec<Uuid> = sqlx::query_scalar(sqlx::AssertSqlSafe(parts.join(" union ")))
        .bind(patient)
        .fetch_all(pool)
        .await
        .map_err(e("disclosures: records"))?;
    ids.sort_unstable_by_key(|id| *id != patient);
    Ok(ids)
}

/// One CSV field: quoted when needed, and a leading `=`, `+`, `-` or `@` neutralised so a
/// spreadsheet never runs it as a formula.
fn field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        let mut quoted = String::with_capacity(s.len() + 2);
        quoted.push('"');
        quoted.push_str(&s.replace('"', "\"\""));
        quoted.push('"');
        quoted
    } else {
        s
    }
}

/// The report's rows: `(time, kind, who, what, record ids, operation, fields)`.
pub async fn report(pool: &PgPool, ids: &[Uuid]) -> Result<String, StoreError> {
    let e = |op: &'static str| move |e| StoreError::from_sqlx(op, e);
    type Row = (
        DateTime<Utc>,
        String,
        String,
        String,
        String,
        String,
        String,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "select at, 'change', actor, table_name, record_id::text, operation, array_to_string(changed_fields, ' ') \
           from change_log where record_id = any($1) \
         union all \
         select at, case when method = 'GET' then 'view' else 'action' end, coalesce(actor, ''), \
                coalesce(path_template, ''), \
                (select string_agg(r::text, ' ') from unnest(record_ids) r where r = any($1)), \
                method, coalesce(page, '') \
           from access_log where record_ids && $1 \
         order by 1, 2",
    )
    .bind(ids)
    .fetch_all(pool)
    .await
    .map_err(e("disclosures: report"))?;
    let mut csv = String::from("time_utc,kind,who,what,record_ids,operation,detail\r\n");
    for (at, kind, who, what, records, op, detail) in rows {
        let _ = write!(
            csv,
            "{},{},{},{},{},{},{}\r\n",
            field(&view::time(at)),
            field(&kind),
            field(&who),
            field(&what),
            field(&records),
            field(&op),
            field(&detail)
        );
    }
    Ok(csv)
}

/// The export.
pub(super) async fn export(
    staff: Staff,
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> Result<Response, HtmlError> {
    let started = Instant::now();
    staff.may_see(Page::Audit)?;
    let patient = Uuid::parse_str(&raw).map_err(|_| ApiError::NotFound)?;
    let known: bool = sqlx::query_scalar("select exists (select 1 from patients where id = $1)")
        .bind(patient)
        .fetch_one(&state.pool)
        .await
        .map_err(|e| StoreError::from_sqlx("disclosures: patient", e))?;
    if !known {
        return Err(ApiError::NotFound.into());
    }
    let ids = records(&state.pool, patient).await?;
    let route = "/admin/audit/patients/{id}/disclosures.csv";
    trail::viewed(&state.pool, &staff, Page::Audit, route, &ids, started).await?;
    let csv = report(&state.pool, &ids).await?;
    let name = format!("attachment; filename=\"disclosures-{patient}.csv\"");
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, name),
        ],
        csv,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_never_formulas() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(field("-1"), "'-1");
    }
}
