//! Source digests (migration 0018): a full listing passes over every record whose stored row
//! the sync wrote from the very same source bytes with the very same pipeline.
//!
//! A record's digest is the SHA-256 of the pipeline's fingerprint (its file as planned, and
//! this runner's version) followed by the record's bytes as the source sent them, cut to 16
//! bytes. The sync stores it with the row ([`crate::store::UpsertTarget::digest`]); any other
//! write of the row clears it (a trigger). Before a full listing, the digests of the live rows
//! are loaded with their keys. A record whose digest is among them ([`super::split`]) is
//! confirmed, with the other such records of its page, by one query just after its page
//! arrives (the row still carries that digest: nothing else wrote it since the load); a
//! confirmed record is neither parsed nor mapped nor sent, and its key counts as listed for
//! the soft delete. A record that is not confirmed goes the usual way, guards included.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde_json::Value;
use sha2::{Digest as _, Sha256};
use sqlx::{AssertSqlSafe, PgConnection};

use super::full::{canonical_key, key_array};
use super::split::{Known, Split};
use crate::config::PlannedPipeline;
use crate::config::field_type::FieldType;
use crate::config::pipeline::PipelineFile;
use crate::config::plan::upsert_target;
use crate::mapping::CompiledPipeline;
use crate::store::{Ident, PreparedUpsert, SOURCE_DIGEST, StoreError, UpsertTarget};

/// A record's digest.
pub(super) type Digest = [u8; 16];

/// Digests records for one pipeline, and knows the digests of its stored rows.
#[derive(Debug, Clone)]
pub(super) struct Digester {
    /// The hash state after the fingerprint.
    seed: Sha256,
    /// Digests of the live rows, with their key text.
    known: HashMap<Digest, String>,
    /// The query that confirms recognized records ([`confirm_sql`]).
    confirm: Option<String>,
}

impl Digester {
    /// A digester for `file`'s records that knows nothing yet.
    pub(super) fn new(file: &PipelineFile) -> Self {
        let mut seed = Sha256::new();
        seed.update(env!("CARGO_PKG_VERSION").as_bytes());
        seed.update([0]);
        // The planned file decides what a record becomes; its JSON form is deterministic.
        seed.update(serde_json::to_vec(file).unwrap_or_default());
        seed.update([0]);
        Self {
            seed,
            known: HashMap::new(),
            confirm: None,
        }
    }

    /// The same digester, knowing `known` (digest -> key text), which `confirm` (see
    /// [`confirm_sql`]) confirms.
    pub(super) fn knowing(self, known: HashMap<Digest, String>, confirm: Option<String>) -> Self {
        Self {
            known,
            confirm,
            ..self
        }
    }

    /// The digest of a record's source bytes.
    pub(super) fn digest(&self, bytes: &[u8]) -> Digest {
        let mut h = self.seed.clone();
        h.update(bytes);
        let full = h.finalize();
        let mut d = [0; 16];
        d.copy_from_slice(&full[..16]);
        d
    }

    /// The key text of the stored row with digest `d`, if there is one.
    pub(super) fn known(&self, d: &Digest) -> Option<&str> {
        self.known.get(d).map(String::as_str)
    }
}

/// The digest as the row carries it to the upsert (hex text).
pub(super) fn hex(d: &Digest) -> Value {
    Value::String(hex::encode(d))
}

/// Whether the pipeline's table keeps source digests (has a `source_digest` column).
pub(super) async fn kept(conn: &mut PgConnection, table: &str) -> Result<bool, StoreError> {
    sqlx::query_scalar(
        "select exists (select from information_schema.columns \
         where table_schema = current_schema() and table_name = $1 and column_name = $2)",
    )
    .bind(table)
    .bind(SOURCE_DIGEST)
    .fetch_one(conn)
    .await
    .map_err(|e| StoreError::from_sqlx("sync", e))
}

/// The digests of the table's live rows, each with its key text (as
/// [`key_text`](super::full::key_text) builds it).
pub(super) async fn load(
    conn: &mut PgConnection,
    mapping: &CompiledPipeline,
) -> Result<HashMap<Digest, String>, StoreError> {
    let table = Ident::new(&mapping.table)?;
    let digest = Ident::new(SOURCE_DIGEST)?;
    let key = key_array(mapping)?;
    let sql = format!(
        "select {digest}, {key}::text from {table} where {digest} is not null and deleted_at is null"
    );
    let rows: Vec<(Vec<u8>, String)> = sqlx::query_as(AssertSqlSafe(sql))
        .fetch_all(conn)
        .await
        .map_err(|e| StoreError::from_sqlx("sync", e))?;
    Ok(rows
        .into_iter()
        .filter_map(|(d, k)| Some((d.try_into().ok()?, canonical_key(&k))))
        .collect())
}

/// The query that returns, of the pairs (`$1` key texts, `$2` digests), the digests that a
/// live row with that key still carries: it finds each row by its key, through the key's
/// unique index. `None` when a key column cannot be read back from its text (a lookup, JSON).
fn confirm_sql(mapping: &CompiledPipeline) -> Result<Option<String>, StoreError> {
    let mut on = Vec::new();
    for (n, k) in mapping.key.iter().enumerate() {
        let Some(f) = mapping.field(k) else {
            return Ok(None);
        };
        if f.lookup.is_some() || matches!(f.ty, FieldType::Jsonb | FieldType::TextArray) {
            return Ok(None);
        }
        let col = Ident::new(k)?;
        on.push(format!(
            "e.{col} = (i.k::jsonb ->> {n})::{}",
            f.ty.sql_type()
        ));
    }
    let table = Ident::new(&mapping.table)?;
    let digest = Ident::new(SOURCE_DIGEST)?;
    Ok(Some(format!(
        "select i.d from unnest($1::text[], $2::bytea[]) as i(k, d) join {table} e on {} \
         and e.{digest} = i.d and e.deleted_at is null",
        on.join(" and ")
    )))
}

/// What a listing with digests needs: the digester, and the upsert that stores them.
#[derive(Debug)]
pub(super) struct Digests {
    /// Digests records and knows the stored rows' digests.
    pub(super) digester: Arc<Digester>,
    /// The pipeline's upsert, storing each row's digest.
    pub(super) upsert: PreparedUpsert,
}

/// Digests for a listing of `p`, when its table keeps them and each record is one row (the
/// rows of an expanded record are written and cleared one by one, so one digest cannot vouch
/// for them all). Every listing stores them; a listing that `recognizes` (a complete one: an
/// incremental listing holds changed records only) loads the stored ones too.
pub(super) async fn prepare(
    conn: &mut PgConnection,
    p: &PlannedPipeline,
    recognizes: bool,
) -> Result<Option<Digests>, StoreError> {
    let m = &p.mapping;
    if !m.expand.is_empty() || !kept(conn, &m.table).await? {
        return Ok(None);
    }
    let confirm = confirm_sql(m)?;
    let known = match confirm {
        Some(_) if recognizes => load(conn, m).await?,
        _ => HashMap::new(),
    };
    let upsert = PreparedUpsert::new(&UpsertTarget {
        digest: true,
        ..upsert_target(m)
    })?;
    Ok(Some(Digests {
        digester: Arc::new(Digester::new(&p.file).knowing(known, confirm)),
        upsert,
    }))
}

impl Digester {
    /// Keeps as recognized only the records of `split` that a row still vouches for (see
    /// [`confirm_sql`]), and parses the others back into their place. Without a database,
    /// nothing is confirmed.
    pub(super) async fn confirm(
        &self,
        mut split: Split,
        pool: Option<&sqlx::PgPool>,
    ) -> Result<Split, sqlx::Error> {
        if split.known.is_empty() {
            return Ok(split);
        }
        let confirmed: HashSet<Digest> = match (pool, &self.confirm) {
            (Some(pool), Some(sql)) => {
                let (keys, digests): (Vec<&str>, Vec<&[u8]>) = split
                    .known
                    .iter()
                    .filter_map(|k| Some((self.known(&k.digest)?, k.digest.as_slice())))
                    .unzip();
                let found: Vec<Vec<u8>> = sqlx::query_scalar(AssertSqlSafe(sql.as_str()))
                    .bind(keys)
                    .bind(digests)
                    .fetch_all(pool)
                    .await?;
                found
                    .into_iter()
                    .filter_map(|d| d.try_into().ok())
                    .collect()
            }
            _ => HashSet::new(),
        };
        if split.known.iter().all(|k| confirmed.contains(&k.digest)) {
            return Ok(split);
        }
        let mut records = Vec::with_capacity(split.records.len() + split.known.len());
        let mut digests = Vec::with_capacity(records.capacity());
        let mut known = Vec::new();
        let mut parsed = std::mem::take(&mut split.records).into_iter();
        let mut taken = 0;
        for k in std::mem::take(&mut split.known) {
            records.extend(parsed.by_ref().take(k.at - taken));
            digests.extend_from_slice(&split.digests[taken..k.at]);
            taken = k.at;
            if confirmed.contains(&k.digest) {
                known.push(Known {
                    at: records.len(),
                    ..k
                });
            } else {
                records.push(serde_json::from_str(&k.text).unwrap_or(Value::Null));
                digests.push(k.digest);
            }
        }
        records.extend(parsed);
        digests.extend_from_slice(&split.digests[taken..]);
        Ok(Split {
            records,
            digests,
            known,
            next: split.next,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::CompiledPath;
    use crate::sync::split::split_page;
    use serde_json::json;

    fn file(fields: &str) -> PipelineFile {
        serde_saphyr::from_str(&format!(
            "source: {{system: drchrono, endpoint: /api/x}}\n\
             target: {{table: t, key: [drchrono_id]}}\nfields:\n{fields}"
        ))
        .unwrap()
    }

    const BODY: &str = r#"{"count": 3, "next": "https://x/api/x?cursor=2",
        "results": [{"id": 1, "name": "a"}, {"id": 2, "name": "b\u00e9"}, {"id": 3, "name": null}]}"#;

    fn path(p: &str) -> CompiledPath {
        CompiledPath::compile(p).unwrap()
    }

    #[tokio::test]
    async fn recognized_records_are_passed_over_and_the_others_carry_their_digest() {
        let (r, n) = (path("$.results[*]"), path("$.next"));
        let dg = Digester::new(&file("  drchrono_id: {path: $.id, type: int}\n"));
        let first = split_page(BODY.as_bytes(), &r, &n, Some(&dg)).unwrap();
        assert_eq!(first.digests.len(), 3);
        assert!(first.known.is_empty());
        let known = HashMap::from([
            (first.digests[0], "[1]".to_string()),
            (first.digests[1], "[2]".to_string()),
        ]);
        let dg = dg.knowing(known, None);
        let again = split_page(BODY.as_bytes(), &r, &n, Some(&dg)).unwrap();
        let at: Vec<(usize, Digest)> = again.known.iter().map(|k| (k.at, k.digest)).collect();
        assert_eq!(at, [(0, first.digests[0]), (0, first.digests[1])]);
        assert_eq!(again.records, [json!({"id": 3, "name": null})]);
        assert_eq!(again.digests, [first.digests[2]]);
        assert_eq!(dg.known(&first.digests[1]), Some("[2]"));
        // Unconfirmed (no database here), they are parsed back into their place.
        let back = dg.confirm(again, None).await.unwrap();
        assert!(back.known.is_empty());
        assert_eq!(back.records, first.records);
        assert_eq!(back.digests, first.digests);
    }

    #[test]
    fn a_digest_depends_on_the_bytes_and_on_the_pipeline() {
        let a = Digester::new(&file("  drchrono_id: {path: $.id, type: int}\n"));
        let b = Digester::new(&file("  drchrono_id: {path: $.id, type: text}\n"));
        let rec = br#"{"id": 1}"#;
        assert_eq!(a.digest(rec), a.digest(rec), "a digest is deterministic");
        assert_ne!(a.digest(rec), a.digest(br#"{"id": 2}"#));
        assert_ne!(a.digest(rec), b.digest(rec));
    }
}
