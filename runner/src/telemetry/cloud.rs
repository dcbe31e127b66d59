//! A `tracing` layer that writes Cloud Logging's structured shape: one JSON object per line
//! with `severity`, `message`, `time` (RFC 3339), `logging.googleapis.com/trace` when the
//! request carried a trace context, `httpRequest` on request logs, and every other field of the
//! event and of its spans at the top level (where log-based metrics filter on them as
//! `jsonPayload.<field>`).
//!
//! Conventions of the emitting code: a request span records `trace_id`, `http.method` and
//! `http.url` (a path, never a query string); the request log adds `http.status` and
//! `http.latency_ms`. The `http.*` fields become `httpRequest` on the request log and are
//! dropped from other lines.

use std::io::Write as _;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

/// The layer; `W` makes the writer of each line (standard error in production, a buffer in
/// tests).
#[derive(Debug)]
pub struct CloudLogging<W> {
    writer: W,
    project: Option<String>,
}

impl<W> CloudLogging<W> {
    /// A layer writing through `writer`; trace ids are qualified with `project`
    /// (`projects/{project}/traces/{id}`), and left out when the project is unknown.
    pub fn new(writer: W, project: Option<String>) -> Self {
        CloudLogging { writer, project }
    }
}

/// The fields of a span, kept in its extensions.
#[derive(Debug, Default)]
struct SpanFields(Map<String, Value>);

/// Collects fields as JSON values.
struct Collect<'a>(&'a mut Map<String, Value>);

impl Visit for Collect<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), Value::from(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_string(), Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_string(), Value::from(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().to_string(), Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_string(), Value::from(value));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        // `%value` fields arrive here too; their Debug is their Display.
        self.0
            .insert(field.name().to_string(), Value::from(format!("{value:?}")));
    }
}

/// Cloud Logging's severity of a `tracing` level.
fn severity(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "ERROR",
        Level::WARN => "WARNING",
        Level::INFO => "INFO",
        _ => "DEBUG",
    }
}

impl<S, W> Layer<S> for CloudLogging<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'a> MakeWriter<'a> + 'static,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = SpanFields::default();
        attrs.record(&mut Collect(&mut fields.0));
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(fields);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id)
            && let Some(fields) = span.extensions_mut().get_mut::<SpanFields>()
        {
            values.record(&mut Collect(&mut fields.0));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = Map::new();
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(f) = span.extensions().get::<SpanFields>() {
                    fields.extend(f.0.iter().map(|(k, v)| (k.clone(), v.clone())));
                }
            }
        }
        let mut own = Map::new();
        event.record(&mut Collect(&mut own));
        let is_request_log = own.contains_key("http.status");
        fields.extend(own);
        let line = self.line(event.metadata(), fields, is_request_log);
        let mut out = self.writer.make_writer();
        let mut bytes = serde_json::to_vec(&line).unwrap_or_default();
        bytes.push(b'\n');
        let _ = out.write_all(&bytes);
    }
}

impl<W> CloudLogging<W> {
    /// One log line from an event's metadata and its (span and own) fields.
    fn line(
        &self,
        meta: &tracing::Metadata<'_>,
        mut fields: Map<String, Value>,
        is_request_log: bool,
    ) -> Value {
        let mut line = Map::new();
        line.insert("severity".into(), severity(meta.level()).into());
        let message = fields.remove("message").unwrap_or_else(|| "".into());
        line.insert("message".into(), message);
        line.insert(
            "time".into(),
            chrono::Utc::now()
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
                .into(),
        );
        line.insert("target".into(), meta.target().into());
        if let Some(id) = fields
            .remove("trace_id")
            .and_then(|v| v.as_str().map(String::from))
            && let Some(project) = &self.project
        {
            line.insert(
                "logging.googleapis.com/trace".into(),
                format!("projects/{project}/traces/{id}").into(),
            );
        }
        let http: Map<String, Value> = fields
            .iter()
            .filter(|(k, _)| k.starts_with("http."))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        fields.retain(|k, _| !k.starts_with("http."));
        if is_request_log {
            line.insert("httpRequest".into(), http_request(&http));
        }
        for (k, v) in fields {
            line.entry(k).or_insert(v);
        }
        Value::Object(line)
    }
}

/// Cloud Logging's `HttpRequest` from the `http.*` fields.
fn http_request(http: &Map<String, Value>) -> Value {
    let mut req = Map::new();
    let renames = [
        ("http.method", "requestMethod"),
        ("http.url", "requestUrl"),
        ("http.status", "status"),
        ("http.user_agent", "userAgent"),
        ("http.remote_ip", "remoteIp"),
    ];
    for (from, to) in renames {
        if let Some(v) = http.get(from) {
            req.insert(to.into(), v.clone());
        }
    }
    if let Some(ms) = http.get("http.latency_ms").and_then(Value::as_f64) {
        req.insert("latency".into(), format!("{:.3}s", ms / 1000.0).into());
    }
    Value::Object(req)
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::layer::SubscriberExt as _;

    use super::*;

    /// Lines written by the layer, shared with the test.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Buffer {
        type Writer = Buffer;
        fn make_writer(&'a self) -> Buffer {
            self.clone()
        }
    }

    fn capture(f: impl FnOnce()) -> Vec<Value> {
        let buf = Buffer::default();
        let subscriber = tracing_subscriber::registry()
            .with(CloudLogging::new(buf.clone(), Some("clinic-prod".into())));
        tracing::subscriber::with_default(subscriber, f);
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|l| serde_json::from_str(l).expect("every line is one JSON object"))
            .collect()
    }

    #[test]
    fn an_event_is_one_json_line_with_severity_message_time_and_top_level_fields() {
        let lines = capture(|| {
            tracing::warn!(event = "sync_failed", pipeline = %"patients", duration_ms = 12u64, "Sync failed.");
        });
        assert_eq!(lines.len(), 1);
        let l = &lines[0];
        assert_eq!(l["severity"], "WARNING");
        assert_eq!(l["message"], "Sync failed.");
        assert_eq!(l["event"], "sync_failed");
        assert_eq!(l["pipeline"], "patients");
        assert_eq!(l["duration_ms"], 12);
        assert!(l.get("fields").is_none(), "no nesting under fields: {l}");
        let time = l["time"].as_str().unwrap();
        assert!(chrono::DateTime::parse_from_rfc3339(time).is_ok(), "{time}");
    }

    #[test]
    fn a_request_log_carries_http_request_and_the_trace_of_its_span() {
        let lines = capture(|| {
            let span = tracing::info_span!(
                "http",
                trace_id = "4bf92f3577b34da6a3ce929d0e0e4736",
                http.method = "POST",
                http.url = "/webhooks/drchrono",
                request_id = "r-1"
            );
            let _g = span.enter();
            tracing::info!("Inside the request.");
            tracing::info!(
                http.status = 200u64,
                http.latency_ms = 12.7f64,
                "Request served."
            );
        });
        let inner = &lines[0];
        assert_eq!(
            inner["logging.googleapis.com/trace"],
            "projects/clinic-prod/traces/4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(inner["request_id"], "r-1");
        assert!(inner.get("httpRequest").is_none() && inner.get("http.method").is_none());
        let req = &lines[1]["httpRequest"];
        assert_eq!(req["requestMethod"], "POST");
        assert_eq!(req["requestUrl"], "/webhooks/drchrono");
        assert_eq!(req["status"], 200);
        assert_eq!(req["latency"], "0.013s");
    }

    #[test]
    fn levels_map_to_cloud_logging_severities() {
        let lines = capture(|| {
            tracing::error!("e");
            tracing::info!("i");
            tracing::debug!("d");
        });
        let sev: Vec<&str> = lines
            .iter()
            .map(|l| l["severity"].as_str().unwrap())
            .collect();
        assert_eq!(sev, ["ERROR", "INFO", "DEBUG"]);
    }
}
