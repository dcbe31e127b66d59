//! The process's Prometheus metrics, served on `GET /metrics` in the Prometheus text format
//! (0.0.4). One registry per process ([`metrics`]); the code that does the work records into
//! it. Labels are pipeline, table, system, source and status names: never patient data.
//!
//! Counters and histograms are per process (each Cloud Run instance reports its own); the
//! backlog gauges (inbox, outbox, dead letters) are read from the database when scraped, so
//! every instance reports the same shared figures.

use std::sync::OnceLock;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The `Content-Type` of `/metrics`.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Labels of per-pipeline metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PipelineLabel {
    /// The pipeline name.
    pub pipeline: String,
}

/// Labels of sync runs.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RunLabels {
    /// The pipeline name.
    pub pipeline: String,
    /// `succeeded` or `failed`.
    pub status: String,
}

/// Labels of outbound API calls.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    /// The system called (`drchrono`, `coda`, ...).
    pub system: String,
    /// The HTTP status, or `error` when no response arrived.
    pub status: String,
}

/// Labels of per-system metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SystemLabel {
    /// The system (`drchrono`, `coda_write`, `coda_read`, ...).
    pub system: String,
}

/// Labels of webhook metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SourceLabel {
    /// `drchrono`, `deepcura`, ...
    pub source: String,
}

/// Labels of per-table metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TableLabel {
    /// The PostgreSQL table.
    pub table: String,
}

/// Labels of backlog gauges.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabel {
    /// The entry status (`received`, `failed`, `pending`, `dead`).
    pub status: String,
}

/// Labels of reconcile metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReconcileLabels {
    /// The Coda mapping.
    pub mapping: String,
    /// Drift: `missing`, `changed`, `extra`, `duplicate`. Repairs: `upserted`, `deleted`,
    /// `failed` (tables).
    pub kind: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// Every metric of the process.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Pipeline runs by outcome.
    pub sync_runs: Family<RunLabels, Counter>,
    /// Records fetched by pipeline runs.
    pub sync_records: Family<PipelineLabel, Counter>,
    /// Wall time of pipeline runs, in seconds.
    pub sync_duration: HistogramFamily<PipelineLabel>,
    /// Outbound API calls by system and status (every attempt counts).
    pub api_requests: Family<CallLabels, Counter>,
    /// Time spent waiting for a rate budget, in seconds.
    pub rate_budget_wait: Family<SystemLabel, Counter<f64>>,
    /// Time from a webhook's arrival to its answer, in seconds.
    pub webhook_latency: HistogramFamily<SourceLabel>,
    /// Outbox events moved to the dead letters.
    pub dead_letters: Family<TableLabel, Counter>,
    /// Coda write calls (upserts and deletes; every attempt counts).
    pub coda_write_calls: Counter,
    /// Coda answers of 429.
    pub coda_rate_limited: Counter,
    /// Rows of drift reconcile found in Coda, by mapping and kind.
    pub coda_drift: Family<ReconcileLabels, Counter>,
    /// Rows reconcile repaired (and tables it failed), by mapping and kind.
    pub coda_reconciled: Family<ReconcileLabels, Counter>,
    /// Inbox entries by status, read from the database when scraped.
    pub inbox: Family<StatusLabel, Gauge>,
    /// Outbox events by status, read from the database when scraped.
    pub outbox: Family<StatusLabel, Gauge>,
    /// Age of the oldest pending outbox event, in seconds (0 when none).
    pub outbox_oldest_pending: Gauge<f64, std::sync::atomic::AtomicU64>,
}

fn duration_histogram() -> Histogram {
    // 10 ms to about 20 min.
    Histogram::new(exponential_buckets(0.01, 2.0, 18))
}

fn latency_histogram() -> Histogram {
    // 1 ms to about 16 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::with_prefix("runner");
        let m = Metrics {
            registry: Registry::default(),
            sync_runs: Family::default(),
            sync_records: Family::default(),
            sync_duration: Family::new_with_constructor(duration_histogram),
            api_requests: Family::default(),
            rate_budget_wait: Family::default(),
            webhook_latency: Family::new_with_constructor(latency_histogram),
            dead_letters: Family::default(),
            coda_write_calls: Counter::default(),
            coda_rate_limited: Counter::default(),
            coda_drift: Family::default(),
            coda_reconciled: Family::default(),
            inbox: Family::default(),
            outbox: Family::default(),
            outbox_oldest_pending: Gauge::default(),
        };
        let r = &mut registry;
        r.register("sync_runs", "Pipeline runs by outcome", m.sync_runs.clone());
        r.register(
            "sync_records",
            "Records fetched by pipeline runs",
            m.sync_records.clone(),
        );
        r.register(
            "sync_duration_seconds",
            "Wall time of pipeline runs",
            m.sync_duration.clone(),
        );
        r.register(
            "api_requests",
            "Outbound API calls by system and status",
            m.api_requests.clone(),
        );
        r.register(
            "rate_budget_wait_seconds",
            "Time spent waiting for a rate budget",
            m.rate_budget_wait.clone(),
        );
        r.register(
            "webhook_latency_seconds",
            "Time from a webhook's arrival to its answer",
            m.webhook_latency.clone(),
        );
        r.register(
            "outbox_dead_letters",
            "Outbox events moved to the dead letters",
            m.dead_letters.clone(),
        );
        r.register(
            "coda_write_calls",
            "Coda write calls",
            m.coda_write_calls.clone(),
        );
        r.register(
            "coda_rate_limited",
            "Coda answers of 429",
            m.coda_rate_limited.clone(),
        );
        r.register(
            "coda_drift_rows",
            "Rows of drift found in Coda by reconcile",
            m.coda_drift.clone(),
        );
        r.register(
            "coda_reconciled_rows",
            "Rows repaired in Coda by reconcile (and failed tables)",
            m.coda_reconciled.clone(),
        );
        r.register("inbox_entries", "Inbox entries by status", m.inbox.clone());
        r.register("outbox_events", "Outbox events by status", m.outbox.clone());
        r.register(
            "outbox_oldest_pending_seconds",
            "Age of the oldest pending outbox event",
            m.outbox_oldest_pending.clone(),
        );
        Metrics { registry, ..m }
    }

    /// Records a finished pipeline run.
    pub fn sync_run(&self, pipeline: &str, ok: bool, records: u64, elapsed: Duration) {
        let status = if ok { "succeeded" } else { "failed" };
        self.sync_runs
            .get_or_create(&RunLabels {
                pipeline: pipeline.into(),
                status: status.into(),
            })
            .inc();
        let p = PipelineLabel {
            pipeline: pipeline.into(),
        };
        self.sync_records.get_or_create(&p).inc_by(records);
        self.sync_duration
            .get_or_create(&p)
            .observe(elapsed.as_secs_f64());
    }

    /// Records one outbound call; `status` is `None` when no response arrived.
    pub fn api_request(&self, system: &str, status: Option<u16>) {
        let status = status.map_or_else(|| "error".to_string(), |s| s.to_string());
        self.api_requests
            .get_or_create(&CallLabels {
                system: system.into(),
                status,
            })
            .inc();
    }

    /// Records time spent waiting for `system`'s rate budget.
    pub fn budget_wait(&self, system: &str, waited: Duration) {
        if waited.is_zero() {
            return;
        }
        self.rate_budget_wait
            .get_or_create(&SystemLabel {
                system: system.into(),
            })
            .inc_by(waited.as_secs_f64());
    }

    /// Records a webhook's time to answer.
    pub fn webhook(&self, source: &str, elapsed: Duration) {
        self.webhook_latency
            .get_or_create(&SourceLabel {
                source: source.into(),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// Records an outbox event moved to the dead letters.
    pub fn dead_letter(&self, table: &str) {
        self.dead_letters
            .get_or_create(&TableLabel {
                table: table.into(),
            })
            .inc();
    }

    /// Counts `n` rows of drift of `kind` in `mapping`.
    pub fn coda_drift(&self, mapping: &str, kind: &str, n: u64) {
        let l = ReconcileLabels {
            mapping: mapping.into(),
            kind: kind.into(),
        };
        self.coda_drift.get_or_create(&l).inc_by(n);
    }

    /// Counts `n` repairs of `kind` (or a failed table) in `mapping`.
    pub fn coda_reconcile(&self, mapping: &str, kind: &str, n: u64) {
        let l = ReconcileLabels {
            mapping: mapping.into(),
            kind: kind.into(),
        };
        self.coda_reconciled.get_or_create(&l).inc_by(n);
    }

    /// The registry in the Prometheus text format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry);
        out
    }
}

/// The process's metrics.
pub fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_values_appear_in_the_text_format_under_the_runner_prefix() {
        let m = Metrics::new();
        m.sync_run("patients", true, 40, Duration::from_millis(1500));
        m.api_request("drchrono", Some(429));
        m.budget_wait("drchrono", Duration::from_millis(250));
        m.webhook("drchrono", Duration::from_millis(3));
        let text = m.encode();
        assert!(
            text.contains("runner_sync_runs_total{pipeline=\"patients\",status=\"succeeded\"} 1"),
            "{text}"
        );
        assert!(text.contains("runner_sync_records_total{pipeline=\"patients\"} 40"));
        assert!(text.contains("runner_sync_duration_seconds_count{pipeline=\"patients\"} 1"));
        assert!(text.contains("runner_api_requests_total{system=\"drchrono\",status=\"429\"} 1"));
        assert!(text.contains("runner_rate_budget_wait_seconds_total{system=\"drchrono\"} 0.25"));
        assert!(text.contains("# TYPE runner_webhook_latency_seconds histogram"));
        assert!(
            text.contains(
                "runner_webhook_latency_seconds_bucket{le=\"0.004\",source=\"drchrono\"} 1"
            ) || text.contains(
                "runner_webhook_latency_seconds_bucket{source=\"drchrono\",le=\"0.004\"} 1"
            ),
            "{text}"
        );
    }
}
