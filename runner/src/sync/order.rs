//! Running several pipelines at once in dependency order: each starts as soon as every
//! selected pipeline it depends on has finished (successfully or not, as a serial run would
//! go on), with at most a given number running together. The DrChrono budget lives in
//! PostgreSQL and every request draws on it, so running pipelines together never spends more
//! than one would: it only stops the writer from waiting on one pipeline's listing at a time.

use std::collections::BTreeSet;
use std::future::Future;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;

/// One job: its name, the names it depends on (names that are not jobs are ignored) and what
/// to run it with.
#[derive(Debug, Clone)]
pub struct Job<T> {
    /// Unique name.
    pub name: String,
    /// Jobs that must finish first.
    pub after: Vec<String>,
    /// The job's input.
    pub input: T,
}

/// Runs `jobs` (given in a dependency order, as the plan lists pipelines) with at most `width`
/// at once; `done` sees each output as it finishes. A job whose dependencies form a cycle
/// would never start; the plan refuses cycles, and such jobs are then run in the given order.
pub async fn run_in_order<T, O, F, Fut>(
    jobs: Vec<Job<T>>,
    width: usize,
    start: F,
    mut done: impl FnMut(O),
) where
    F: Fn(T) -> Fut,
    Fut: Future<Output = O>,
{
    let names: BTreeSet<String> = jobs.iter().map(|j| j.name.clone()).collect();
    let mut waiting: Vec<Option<Job<T>>> = jobs.into_iter().map(Some).collect();
    let mut finished: BTreeSet<String> = BTreeSet::new();
    let launch = |job: Job<T>| {
        let name = job.name;
        let fut = start(job.input);
        async move { (name, fut.await) }
    };
    let mut running = FuturesUnordered::new();
    loop {
        for slot in &mut waiting {
            if running.len() >= width.max(1) {
                break;
            }
            let ready = slot.as_ref().is_some_and(|j| {
                j.after
                    .iter()
                    .all(|d| !names.contains(d) || finished.contains(d))
            });
            if ready && let Some(job) = slot.take() {
                running.push(launch(job));
            }
        }
        if running.is_empty() {
            // Nothing ready and nothing running: the rest wait on a cycle; run them in order.
            match waiting.iter_mut().find_map(Option::take) {
                Some(job) => running.push(launch(job)),
                None => return,
            }
        }
        if let Some((name, out)) = running.next().await {
            finished.insert(name);
            done(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    fn job(name: &str, after: &[&str]) -> Job<String> {
        Job {
            name: name.into(),
            after: after.iter().map(|s| (*s).to_string()).collect(),
            input: name.into(),
        }
    }

    #[tokio::test]
    async fn independent_jobs_overlap_and_dependents_wait_for_their_parents() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let jobs = vec![
            job("parent", &[]),
            job("a", &["parent"]),
            job("b", &["parent", "unselected"]),
            job("child", &["a", "b"]),
        ];
        let l = Arc::clone(&log);
        let start = move |name: String| {
            let l = Arc::clone(&l);
            async move {
                l.lock().unwrap().push(format!("start {name}"));
                tokio::time::sleep(Duration::from_millis(20)).await;
                l.lock().unwrap().push(format!("end {name}"));
                name
            }
        };
        let mut order = Vec::new();
        run_in_order(jobs, 4, start, |n| order.push(n)).await;
        let log = log.lock().unwrap().clone();
        let at = |s: &str| log.iter().position(|l| l == s).unwrap();
        assert!(at("end parent") < at("start a"));
        assert!(at("end parent") < at("start b"));
        // a and b ran together.
        assert!(at("start b") < at("end a") && at("start a") < at("end b"));
        assert!(at("end a") < at("start child") && at("end b") < at("start child"));
        assert_eq!(order.len(), 4);
        assert_eq!(order.last().map(String::as_str), Some("child"));
    }

    #[tokio::test]
    async fn width_one_is_the_serial_order() {
        let jobs = vec![job("x", &[]), job("y", &[]), job("z", &["x"])];
        let mut order = Vec::new();
        run_in_order(jobs, 1, |n: String| async move { n }, |n| order.push(n)).await;
        assert_eq!(order, ["x", "y", "z"]);
    }
}
