//! An open-loop load generator shared by the latency benchmarks: requests go out at a fixed
//! rate whatever the answers, and each one's latency is recorded.

use std::time::{Duration, Instant};

use sim::webhooks::WebhookRequest;

/// Latencies of one run, sorted, in milliseconds.
pub(crate) struct Latencies {
    /// Each request's latency.
    pub ms: Vec<f64>,
    /// Requests that failed or did not get a 2xx.
    pub errors: usize,
}

impl Latencies {
    /// The `q`th percentile.
    pub(crate) fn p(&self, q: f64) -> f64 {
        if self.ms.is_empty() {
            return f64::NAN;
        }
        let i = ((q / 100.0) * (self.ms.len() - 1) as f64).round() as usize;
        self.ms[i.min(self.ms.len() - 1)]
    }
}

/// Sends `reqs` to `base` at `rate` per second regardless of answers (open loop).
pub(crate) async fn load(
    http: &reqwest::Client,
    base: &str,
    reqs: &[WebhookRequest],
    rate: u64,
) -> anyhow::Result<Latencies> {
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / rate));
    let mut tasks = Vec::with_capacity(reqs.len());
    for r in reqs {
        tick.tick().await;
        let (http, r, base) = (http.clone(), r.clone(), base.to_string());
        tasks.push(tokio::spawn(async move {
            let t = Instant::now();
            let ok = r
                .send(&http, &base)
                .await
                .map(|resp| resp.status().is_success())
                .unwrap_or(false);
            (t.elapsed().as_secs_f64() * 1000.0, ok)
        }));
    }
    let mut out = Latencies {
        ms: Vec::new(),
        errors: 0,
    };
    for t in tasks {
        let (ms, ok) = t.await?;
        out.ms.push(ms);
        if !ok {
            out.errors += 1;
        }
    }
    out.ms.sort_by(f64::total_cmp);
    Ok(out)
}

/// Seconds of load per route: 30, or 5 with `BENCH_QUICK=1`.
pub(crate) fn seconds() -> u64 {
    if std::env::var_os("BENCH_QUICK").is_some() {
        5
    } else {
        30
    }
}
