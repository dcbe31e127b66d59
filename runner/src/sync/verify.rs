//! `runner verify`: compares what DrChrono lists with what PostgreSQL holds, per pipeline:
//! row counts always, and for small tables the key sets, so a missing or extra row is named
//! by its key (ids only). It also counts the pipeline's records waiting in the quarantine and
//! its rows whose foreign key is still unresolved (a parent never synced).

use std::collections::HashSet;

use sqlx::PgPool;

use super::full::key_text;
use super::listing::{segments, spawn_fetch};
use crate::config::{Plan, PlannedPipeline};
use crate::source::RestClient;

/// Tables up to this many rows also have their key sets compared.
pub const KEY_SET_LIMIT: usize = 20_000;

/// The comparison of one pipeline.
#[derive(Debug, Clone, Default)]
pub struct Verification {
    /// The pipeline.
    pub pipeline: String,
    /// Rows the upstream listing maps to.
    pub upstream: u64,
    /// Live rows in PostgreSQL.
    pub local: u64,
    /// Keys upstream but not in PostgreSQL (small tables only; at most a few shown).
    pub missing: Vec<String>,
    /// Keys in PostgreSQL but not upstream (small tables only).
    pub extra: Vec<String>,
    /// Whether key sets were compared.
    pub keys_compared: bool,
    /// Records of this pipeline waiting in the quarantine.
    pub quarantined: u64,
    /// Upstream records that do not map with the current config.
    pub unmappable: u64,
    /// Live rows whose foreign key to a parent is still unresolved.
    pub unresolved: u64,
    /// A failure to list or read.
    pub error: Option<String>,
}

impl Verification {
    /// True when counts and (where compared) keys agree.
    pub fn ok(&self) -> bool {
        self.error.is_none()
            && self.upstream == self.local
            && self.missing.is_empty()
            && self.extra.is_empty()
    }
}

/// Lists the pipeline's source in full and compares it with its table.
pub async fn verify(
    pool: &PgPool,
    client: &RestClient,
    plan: &Plan,
    p: &PlannedPipeline,
) -> Verification {
    let mut v = Verification {
        pipeline: p.mapping.name.clone(),
        ..Verification::default()
    };
    if let Err(e) = compare(pool, client, p, &mut v).await {
        v.error = Some(e);
    }
    if let Err(e) = backlog(pool, plan, p, &mut v).await {
        v.error.get_or_insert(e.to_string());
    }
    v
}

/// The pipeline's quarantined records and unresolved references.
async fn backlog(
    pool: &PgPool,
    plan: &Plan,
    p: &PlannedPipeline,
    v: &mut Verification,
) -> Result<(), crate::store::StoreError> {
    let mut conn = pool
        .acquire()
        .await
        .map_err(|e| crate::store::StoreError::from_sqlx("acquire", e))?;
    v.quarantined = super::quarantine::open_counts(&mut conn)
        .await?
        .into_iter()
        .find(|(name, _)| *name == p.mapping.name)
        .map_or(0, |(_, n)| n.unsigned_abs());
    for r in plan
        .relations
        .iter()
        .filter(|r| r.pipeline == p.mapping.name)
    {
        v.unresolved += crate::link::relink::unresolved(&mut conn, r)
            .await?
            .unsigned_abs();
    }
    Ok(())
}

async fn compare(
    pool: &PgPool,
    client: &RestClient,
    p: &PlannedPipeline,
    v: &mut Verification,
) -> Result<(), String> {
    let m = &p.mapping;
    let Some(endpoint) = p.file.source.endpoint.clone() else {
        return Err("no list endpoint".into());
    };
    let segs = segments(
        &p.file.source,
        client.page_size(),
        None,
        chrono::Utc::now().date_naive(),
    );
    let mut pages = spawn_fetch(
        client.clone(),
        endpoint,
        m.clone(),
        segs,
        0,
        None,
        None,
        None,
    );
    let mut upstream: HashSet<String> = HashSet::new();
    while let Some(page) = pages.recv().await {
        for mut rec in page.map_err(|e| e.to_string())?.records {
            crate::mapping::strip_nul(&mut rec);
            match m.map_record(&rec) {
                Ok(rows) => {
                    for row in rows {
                        upstream.insert(key_text(&m.key_of(&row)));
                    }
                }
                Err(_) => v.unmappable += 1,
            }
        }
    }
    let mut conn = pool
        .acquire()
        .await
        .map_err(|e| crate::store::StoreError::from_sqlx("verify", e).to_string())?;
    let local: HashSet<String> = super::full::live_keys(&mut conn, m)
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|(_, k)| k)
        .collect();
    v.upstream = upstream.len() as u64;
    v.local = local.len() as u64;
    if upstream.len().max(local.len()) <= KEY_SET_LIMIT {
        v.keys_compared = true;
        let mut missing: Vec<String> = upstream.difference(&local).cloned().collect();
        let mut extra: Vec<String> = local.difference(&upstream).cloned().collect();
        missing.sort();
        extra.sort();
        v.missing = missing;
        v.extra = extra;
    }
    Ok(())
}
