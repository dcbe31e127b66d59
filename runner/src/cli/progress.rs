//! Progress of long CLI work: one bar per pipeline (records, rate, ETA) on a terminal, plain
//! lines elsewhere (CI logs).

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Instant;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use crate::sync::Progress;

/// Progress output chosen for the current stderr.
#[derive(Debug)]
pub(super) enum CliProgress {
    /// Bars on a terminal.
    Bars {
        /// All bars.
        multi: MultiProgress,
        /// One bar per pipeline.
        bars: Mutex<HashMap<String, ProgressBar>>,
    },
    /// A plain line every few pages.
    Lines {
        /// Records and start per pipeline.
        seen: Mutex<HashMap<String, (u64, u64, Instant)>>,
    },
}

impl CliProgress {
    /// Bars when stderr is a terminal and not in CI, else lines.
    pub(super) fn new() -> Self {
        if std::io::stderr().is_terminal() && std::env::var_os("CI").is_none() {
            CliProgress::Bars {
                multi: MultiProgress::new(),
                bars: Mutex::new(HashMap::new()),
            }
        } else {
            CliProgress::Lines {
                seen: Mutex::new(HashMap::new()),
            }
        }
    }

    /// Marks a pipeline's bar as done.
    pub(super) fn finish(&self, pipeline: &str, summary: &str) {
        match self {
            CliProgress::Bars { bars, .. } => {
                if let Some(b) = bars
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .get(pipeline)
                {
                    b.finish_with_message(summary.to_string());
                }
            }
            CliProgress::Lines { .. } => eprintln!("{pipeline}: {summary}"),
        }
    }
}

impl Default for CliProgress {
    fn default() -> Self {
        CliProgress::new()
    }
}

impl Progress for CliProgress {
    fn page(&self, pipeline: &str, records: u64, segment: usize, segments: usize) {
        match self {
            CliProgress::Bars { multi, bars } => {
                let mut bars = bars
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let bar = bars.entry(pipeline.to_string()).or_insert_with(|| {
                    let b = multi.add(ProgressBar::new(segments as u64));
                    b.set_style(
                        ProgressStyle::with_template("{prefix:>18} {bar:20} {pos}/{len} windows  {msg}  [{elapsed_precise}, ETA {eta}]")
                            .unwrap_or_else(|_| ProgressStyle::default_bar()),
                    );
                    b.set_prefix(pipeline.to_string());
                    b
                });
                let done: u64 = bar
                    .message()
                    .split(' ')
                    .next()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0)
                    + records;
                let secs = bar.elapsed().as_secs_f64().max(0.001);
                bar.set_position(segment as u64);
                bar.set_message(format!("{done} records, {:.0}/s", done as f64 / secs));
            }
            CliProgress::Lines { seen } => {
                let mut seen = seen
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let e = seen
                    .entry(pipeline.to_string())
                    .or_insert((0, 0, Instant::now()));
                e.0 += records;
                e.1 += 1;
                if e.1 % 20 == 0 {
                    let rate = e.0 as f64 / e.2.elapsed().as_secs_f64().max(0.001);
                    eprintln!(
                        "{pipeline}: {} records, {} pages, {rate:.0} records/s, window {}/{segments}",
                        e.0,
                        e.1,
                        segment + 1
                    );
                }
            }
        }
    }
}
