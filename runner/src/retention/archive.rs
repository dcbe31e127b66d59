//! Archiving one partition: every row as one JSON line (in a stable order, so a retry builds
//! the same bytes), gzip-compressed, uploaded under a name that is never overwritten, verified
//! (size and CRC32C as Cloud Storage reports them must equal ours), recorded in
//! `audit_archives`, and only then detached, in the transaction that records it. A failure at
//! any step leaves the partition attached; the next run starts again and finds the object
//! already there (then it is verified instead of uploaded).

use std::io::Write as _;

use flate2::Compression;
use flate2::write::GzEncoder;
use futures_util::TryStreamExt as _;
use sqlx::{PgConnection, PgPool};

use super::RetentionError;
use super::partitions::Partition;
use crate::gcp::storage::crc32c_base64;
use crate::gcp::{ObjectMeta, Storage, StorageError};
use crate::store::StoreError;

/// A partition's archive, built in memory (compressed).
#[derive(Debug)]
pub struct ArchiveObject {
    /// The gzip bytes.
    pub bytes: Vec<u8>,
    /// Rows written.
    pub rows: u64,
    /// CRC32C of `bytes`.
    pub crc32c: u32,
}

/// What archiving one partition did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Archived {
    /// The partition.
    pub partition: String,
    /// `gs://bucket/name`.
    pub object: String,
    /// Rows in the archive.
    pub rows: u64,
    /// Bytes of the object.
    pub bytes: u64,
}

/// Reads `p` as gzip JSON Lines.
pub async fn export(conn: &mut PgConnection, p: &Partition) -> Result<ArchiveObject, StoreError> {
    let order = if p.parent == "sync_log" {
        "started_at, id"
    } else {
        "id"
    };
    let sql = format!(
        "select row_to_json(t)::text from public.{} t order by {order}",
        p.ident()?
    );
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    let mut rows = 0u64;
    let mut stream = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql)).fetch(&mut *conn);
    while let Some(line) = stream
        .try_next()
        .await
        .map_err(|e| StoreError::from_sqlx("export an audit partition", e))?
    {
        // Writing into a Vec cannot fail.
        let _ = gz.write_all(line.as_bytes());
        let _ = gz.write_all(b"\n");
        rows += 1;
    }
    drop(stream);
    let bytes = gz.finish().unwrap_or_default();
    let crc32c = crc32c::crc32c(&bytes);
    Ok(ArchiveObject {
        bytes,
        rows,
        crc32c,
    })
}

/// Archives `p` to `bucket` and detaches it.
pub async fn archive(
    pool: &PgPool,
    storage: &Storage,
    bucket: &str,
    p: &Partition,
) -> Result<Archived, RetentionError> {
    let store = |e: StoreError| RetentionError::Store(e);
    let mut conn = pool
        .acquire()
        .await
        .map_err(|e| store(StoreError::from_sqlx("acquire", e)))?;
    let obj = export(&mut conn, p).await.map_err(store)?;
    drop(conn);
    let name = p.object_name();
    let size = obj.bytes.len() as u64;
    let expected = crc32c_base64(obj.crc32c);
    let stored = match storage
        .upload_new(bucket, &name, "application/gzip", obj.bytes)
        .await
    {
        Ok(meta) => meta,
        // A run that uploaded and then stopped before detaching: check what is there.
        Err(StorageError::Exists) => storage
            .metadata(bucket, &name)
            .await
            .map_err(|e| upload_failed(p, e))?
            .ok_or_else(|| upload_failed(p, StorageError::Decode("metadata")))?,
        Err(e) => return Err(upload_failed(p, e)),
    };
    verify(p, &stored, size, &expected)?;
    let object = format!("gs://{bucket}/{name}");
    record_and_detach(pool, p, &object, &stored, obj.rows)
        .await
        .map_err(store)?;
    Ok(Archived {
        partition: p.name.clone(),
        object,
        rows: obj.rows,
        bytes: size,
    })
}

fn upload_failed(p: &Partition, source: StorageError) -> RetentionError {
    RetentionError::Upload {
        partition: p.name.clone(),
        source,
    }
}

/// The object must be exactly what was built: same size, same CRC32C.
fn verify(p: &Partition, stored: &ObjectMeta, size: u64, crc: &str) -> Result<(), RetentionError> {
    let mismatch = |what: String| RetentionError::Mismatch {
        partition: p.name.clone(),
        what,
    };
    if stored.size != size {
        return Err(mismatch(format!(
            "size {} in Cloud Storage, {size} built",
            stored.size
        )));
    }
    if stored.crc32c != crc {
        return Err(mismatch(format!(
            "CRC32C {} in Cloud Storage, {crc} built",
            stored.crc32c
        )));
    }
    Ok(())
}

async fn record_and_detach(
    pool: &PgPool,
    p: &Partition,
    object: &str,
    stored: &ObjectMeta,
    rows: u64,
) -> Result<(), StoreError> {
    let db = |op: &'static str| move |e| StoreError::from_sqlx(op, e);
    let mut tx = pool.begin().await.map_err(db("begin"))?;
    sqlx::query(
        "insert into audit_archives (partition, parent, month, object, generation, rows, bytes, crc32c, detached_at) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, now()) \
         on conflict (partition) do update set object = excluded.object, generation = excluded.generation, \
             rows = excluded.rows, bytes = excluded.bytes, crc32c = excluded.crc32c, \
             archived_at = now(), detached_at = now()",
    )
    .bind(&p.name)
    .bind(p.parent)
    .bind(p.month)
    .bind(object)
    .bind(&stored.generation)
    .bind(i64::try_from(rows).unwrap_or(i64::MAX))
    .bind(i64::try_from(stored.size).unwrap_or(i64::MAX))
    .bind(&stored.crc32c)
    .execute(&mut *tx)
    .await
    .map_err(db("record an archive"))?;
    let detach = format!(
        "alter table public.{} detach partition public.{}",
        crate::store::Ident::new(p.parent)?,
        p.ident()?
    );
    sqlx::query(sqlx::AssertSqlSafe(detach))
        .execute(&mut *tx)
        .await
        .map_err(db("detach an audit partition"))?;
    tx.commit().await.map_err(db("commit"))
}
