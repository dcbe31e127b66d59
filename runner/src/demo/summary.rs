//! The demo's closing summary: rows per table, links, review, Coda rows and API calls, time.

use std::time::Duration;

use super::Demo;

/// Figures printed at the end of the demo.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Live rows per PostgreSQL table.
    pub tables: Vec<(String, i64)>,
    /// Deep Cura notes linked to a clinical note.
    pub linked: i64,
    /// Rows waiting for manual review.
    pub review: i64,
    /// Rows in the simulated Coda doc.
    pub coda_rows: usize,
    /// Coda write and read calls.
    pub coda_calls: (u64, u64),
    /// DrChrono API requests and 429s.
    pub drchrono_calls: (u64, u64),
    /// Questionnaire responses stored, and linked to their patient.
    pub questionnaires: (i64, i64),
    /// Rows changed by write-backs from Coda (audited as `coda:<email>`).
    pub writebacks: i64,
    /// Inbox entries by status.
    pub inbox: Vec<(String, i64)>,
    /// Wall time.
    pub elapsed: Duration,
}

impl Summary {
    /// Reads the figures from the database and the simulators.
    pub async fn collect(demo: &Demo) -> anyhow::Result<Summary> {
        let pool = &demo.state.pool;
        let mut tables = Vec::new();
        let mut names: Vec<String> = demo
            .state
            .plan
            .pipelines
            .iter()
            .map(|p| p.mapping.table.clone())
            .collect();
        names.sort();
        for t in names {
            let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "select count(*) from {} where deleted_at is null",
                crate::store::Ident::new(&t)?
            )))
            .fetch_one(pool)
            .await?;
            tables.push((t, n));
        }
        let linked = sqlx::query_scalar(
            "select count(*) from deepcura_notes where clinical_note_id is not null",
        )
        .fetch_one(pool)
        .await?;
        let review =
            crate::link::review_queue(&mut *pool.acquire().await?, &demo.state.plan.link_rules)
                .await?
                .len() as i64;
        let questionnaires = sqlx::query_as(
            "select count(*), count(patient_id) from questionnaire_responses where deleted_at is null",
        )
        .fetch_one(pool)
        .await?;
        let writebacks =
            sqlx::query_scalar("select count(*) from change_log where actor like 'coda:%'")
                .fetch_one(pool)
                .await?;
        let inbox =
            sqlx::query_as("select status, count(*) from inbox group by status order by status")
                .fetch_all(pool)
                .await?;
        let coda = demo.coda.state();
        let doc = demo.state.plan.systems.coda.doc_id.clone();
        let coda_rows = coda
            .table_ids(&doc)
            .iter()
            .map(|t| coda.table_rows(&doc, t).len())
            .sum();
        let cs = coda.stats();
        let ds = demo.drchrono.state().stats();
        Ok(Summary {
            tables,
            linked,
            review,
            questionnaires,
            writebacks,
            coda_rows,
            coda_calls: (cs.writes, cs.reads),
            drchrono_calls: (ds.requests_total, ds.throttled),
            inbox,
            elapsed: demo.started.elapsed(),
        })
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "\nDemo summary")?;
        writeln!(f, "  rows per table (PostgreSQL):")?;
        for (t, n) in &self.tables {
            writeln!(f, "    {t:<24} {n:>7}")?;
        }
        writeln!(f, "  Deep Cura notes linked:  {}", self.linked)?;
        writeln!(f, "  rows waiting for review: {}", self.review)?;
        writeln!(
            f,
            "  questionnaires:          {} stored, {} linked to their patient",
            self.questionnaires.0, self.questionnaires.1
        )?;
        writeln!(
            f,
            "  write-backs from Coda:   {} (row changes audited as coda:<email>)",
            self.writebacks
        )?;
        let inbox: Vec<String> = self.inbox.iter().map(|(s, n)| format!("{n} {s}")).collect();
        writeln!(f, "  webhook inbox:           {}", inbox.join(", "))?;
        writeln!(
            f,
            "  DrChrono API calls:      {} ({} answered 429)",
            self.drchrono_calls.0, self.drchrono_calls.1
        )?;
        writeln!(f, "  Coda rows:               {}", self.coda_rows)?;
        writeln!(
            f,
            "  Coda API calls:          {} writes, {} reads",
            self.coda_calls.0, self.coda_calls.1
        )?;
        write!(
            f,
            "  time taken:              {:.1}s",
            self.elapsed.as_secs_f64()
        )
    }
}
