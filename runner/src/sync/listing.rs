//! The listing of one pipeline's records: the query segments (one, or one per date window) and
//! a fetch task that follows `next` verbatim and hands pages to the writer through a bounded
//! channel, so the next page is fetched while the last one is written and memory stays flat.

use std::sync::Arc;

use chrono::{Duration as ChronoDuration, NaiveDate};
use serde_json::Value;
use tokio::sync::mpsc;

use super::digest::{Digest, Digester};
use super::split::split_page;
use crate::config::pipeline::Source;
use crate::mapping::CompiledPipeline;
use crate::source::{RestClient, SourceError};
use crate::store::StoreError;

/// Pages buffered between fetching and writing. The writer takes whatever is ready (up to
/// [`WRITE_BATCH_RECORDS`]) in one transaction, so while it writes, up to this many pages are
/// fetched ahead; memory stays bounded by it whatever the size of the listing.
pub(super) const PAGE_BUFFER: usize = 3;

/// Records the writer gathers from ready pages into one transaction: fewer, larger statements
/// and commits when writing is slower than fetching, no waiting when it is not.
pub(super) const WRITE_BATCH_RECORDS: usize = 1_000;

/// One query of a listing: the first page's parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// Query parameters of the first page.
    pub params: Vec<(String, String)>,
}

/// A fetched page.
#[derive(Debug)]
pub(super) struct Page {
    /// Index of the segment it belongs to.
    pub segment: usize,
    /// The records selected from the response (those recognized by their digest aside).
    pub records: Vec<Value>,
    /// The digest of each record (listings with digests; empty otherwise).
    pub digests: Vec<Digest>,
    /// The digests of the records recognized and confirmed: not parsed, their rows unchanged.
    pub known: Vec<Digest>,
    /// The next page's URL, if any.
    pub next: Option<String>,
    /// When the page was read from the source (a second before its request was sent, for
    /// clock skew): a row written after that is newer than the page.
    pub read_at: chrono::DateTime<chrono::Utc>,
    /// Source pages gathered in this one (1 as fetched).
    pub pages: u64,
}

impl Page {
    /// Appends the page that followed this one in the listing: the batch continues where that
    /// one ends, and counts as read when the earlier of the two was (a row written after that
    /// is newer than part of the batch, so it is kept).
    pub(super) fn append(&mut self, next: Page) {
        self.records.extend(next.records);
        self.digests.extend(next.digests);
        self.known.extend(next.known);
        self.segment = next.segment;
        self.next = next.next;
        self.read_at = self.read_at.min(next.read_at);
        self.pages += next.pages;
    }
}

/// The time a read from the source happens, for the write that follows to tell what is newer:
/// the database's clock just before the request, which compares exactly with the `synced_at`
/// of rows (the database sets it). Without a database (or when it does not answer), this
/// process's clock a second earlier, for skew.
pub async fn read_time(clock: Option<&sqlx::PgPool>) -> chrono::DateTime<chrono::Utc> {
    if let Some(pool) = clock
        && let Ok(t) = sqlx::query_scalar("select clock_timestamp()")
            .fetch_one(pool)
            .await
    {
        return t;
    }
    chrono::Utc::now() - chrono::Duration::seconds(1)
}

/// The segments of a listing. `since` set: one incremental query. Otherwise one query per date
/// window when the source requires windows, else one query for everything.
pub fn segments(
    source: &Source,
    default_page_size: u32,
    since: Option<&str>,
    today: NaiveDate,
) -> Vec<Segment> {
    let mut base: Vec<(String, String)> = source
        .params
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    base.push((
        "page_size".into(),
        source.page_size.unwrap_or(default_page_size).to_string(),
    ));
    if let (Some(since), Some(inc)) = (since, &source.incremental) {
        let mut params = base;
        params.push((inc.param.clone(), since.to_string()));
        return vec![Segment { params }];
    }
    let Some(w) = &source.windows else {
        return vec![Segment { params: base }];
    };
    let mut out = Vec::new();
    let end = today + ChronoDuration::days(i64::from(w.future_days));
    let mut start = today - ChronoDuration::days(i64::from(w.history_days));
    let span = ChronoDuration::days(i64::from(w.max_days.max(1)) - 1);
    while start <= end {
        let stop = (start + span).min(end);
        let mut params = base.clone();
        params.push((
            w.param.clone(),
            format!("{}/{}", start.format("%Y-%m-%d"), stop.format("%Y-%m-%d")),
        ));
        out.push(Segment { params });
        start = stop + ChronoDuration::days(1);
    }
    out
}

/// Starts fetching `segments` from `first_segment` (continuing at `resume_url` if given).
/// Pages arrive in order on the returned channel; an error ends the stream. With `clock`, each
/// page's read time is the database's clock just before its request (see [`read_time`]).
/// With `digester`, records carry their digest and the recognized ones are not parsed.
pub(super) fn spawn_fetch(
    client: RestClient,
    endpoint: String,
    mapping: CompiledPipeline,
    segments: Vec<Segment>,
    first_segment: usize,
    resume_url: Option<String>,
    clock: Option<sqlx::PgPool>,
    digester: Option<Arc<Digester>>,
) -> mpsc::Receiver<Result<Page, SourceError>> {
    let (tx, rx) = mpsc::channel(PAGE_BUFFER);
    tokio::spawn(async move {
        let mut resume_url = resume_url;
        for (idx, seg) in segments.iter().enumerate().skip(first_segment) {
            let mut url = match resume_url.take() {
                Some(u) => u,
                None => match client.url(&endpoint, &seg.params) {
                    Ok(u) => u,
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                },
            };
            loop {
                let read_at = read_time(clock.as_ref()).await;
                let split = |body: &[u8]| {
                    split_page(body, &mapping.records, &mapping.next, digester.as_deref()).ok()
                };
                let split = match client.get_decoded(&url, Some(&mapping.name), split).await {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                };
                let split = match &digester {
                    Some(d) => match d.confirm(split, clock.as_ref()).await {
                        Ok(s) => s,
                        Err(e) => {
                            let e = StoreError::from_sqlx("sync: source digests", e);
                            let _ = tx.send(Err(SourceError::Store(e))).await;
                            return;
                        }
                    },
                    None => split,
                };
                let next = split.next;
                let page = Page {
                    segment: idx,
                    records: split.records,
                    digests: split.digests,
                    known: split.known.into_iter().map(|k| k.digest).collect(),
                    next: next.clone(),
                    read_at,
                    pages: 1,
                };
                if tx.send(Ok(page)).await.is_err() {
                    return;
                }
                match next {
                    Some(n) => url = n,
                    None => break,
                }
            }
        }
    });
    rx
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::pipeline::Windows;

    #[test]
    fn windows_cover_history_and_future_without_gaps_or_overlaps() {
        let source: Source = serde_json::from_value(
            serde_json::json!({"system": "drchrono", "endpoint": "/api/appointments"}),
        )
        .unwrap();
        let source = Source {
            windows: Some(Windows {
                param: "date_range".into(),
                max_days: 190,
                history_days: 400,
                future_days: 30,
            }),
            ..source
        };
        let today = NaiveDate::from_ymd_opt(2026, 1, 10).unwrap();
        let segs = segments(&source, 100, None, today);
        let ranges: Vec<(NaiveDate, NaiveDate)> = segs
            .iter()
            .map(|s| {
                let v = &s.params.iter().find(|(k, _)| k == "date_range").unwrap().1;
                let (a, b) = v.split_once('/').unwrap();
                (a.parse().unwrap(), b.parse().unwrap())
            })
            .collect();
        assert_eq!(ranges.first().unwrap().0, today - ChronoDuration::days(400));
        assert_eq!(ranges.last().unwrap().1, today + ChronoDuration::days(30));
        for w in ranges.windows(2) {
            assert_eq!(w[0].1 + ChronoDuration::days(1), w[1].0);
        }
        for (a, b) in &ranges {
            assert!((*b - *a).num_days() < 190);
        }
        assert!(
            segs.iter()
                .all(|s| s.params.contains(&("page_size".into(), "100".into())))
        );
    }
}
