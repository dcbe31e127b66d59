//! When to retry a failed call and how long to wait: exponential backoff with full jitter, a
//! floor after 429 (a `Retry-After: 0` does not mean "hammer"), and `Retry-After` honoured.
//!
//! [`call_with_retry`] is the one outbound call loop (DrChrono, Coda writes and reads): 429,
//! 5xx, transport errors and an unreadable body are retried with [`Backoff`] until the
//! policy's attempts run out; a success is parsed as JSON; any other status is the client's
//! to judge ([`RetryingCall::refused`]).

use std::time::{Duration, Instant};

use serde_json::Value;

use super::oauth::transport_kind;
use crate::config::systems::Retry;

/// What a client does around each attempt of one call; [`call_with_retry`] owns the loop.
pub(crate) trait RetryingCall {
    /// The client's error.
    type Error;

    /// The system called, for log lines (`drchrono`, `coda`).
    fn system(&self) -> &str;

    /// The path template called (no ids or query), for log lines.
    fn path(&self) -> &str;

    /// Waits for what the next attempt needs (a token, the rate budget) and builds it.
    async fn request(&mut self) -> Result<reqwest::RequestBuilder, Self::Error>;

    /// Records a finished attempt (metrics, `access_log`); `status` is `None` when no response
    /// arrived.
    async fn record(&mut self, status: Option<u16>, elapsed: Duration);

    /// The server answered 429: it is retried after [`Backoff::delay`].
    fn throttled(&mut self) {}

    /// A status that is neither a success, a 429 nor a 5xx: the error to return, or `Ok` to
    /// send again at once without counting the attempt (a token was refreshed).
    async fn refused(&mut self, status: u16) -> Result<(), Self::Error>;

    /// A success whose body is not JSON.
    fn undecodable(&self) -> Self::Error;

    /// Retries ran out after `attempts`; `last` is the last status or transport error kind.
    fn exhausted(&self, attempts: u32, last: String) -> Self::Error;
}

/// Sends `call` until it succeeds, is refused, or `policy`'s attempts run out; returns the
/// success's JSON body. 429 and 5xx are retried (honouring `Retry-After` on 429 and 503), and
/// so are transport errors and bodies that could not be read.
pub(crate) async fn call_with_retry<C: RetryingCall>(
    policy: &Retry,
    call: &mut C,
) -> Result<Value, C::Error> {
    call_with_retry_decoding(policy, call, |b| serde_json::from_slice(b).ok()).await
}

/// [`call_with_retry`] with the success's body decoded by `decode` (`None`: undecodable).
pub(crate) async fn call_with_retry_decoding<C: RetryingCall, T>(
    policy: &Retry,
    call: &mut C,
    decode: impl Fn(&[u8]) -> Option<T>,
) -> Result<T, C::Error> {
    let mut backoff = Backoff::new(policy);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let req = call.request().await?;
        let started = Instant::now();
        let resp = req.send().await;
        let status = resp.as_ref().ok().map(|r| r.status().as_u16());
        call.record(status, started.elapsed()).await;
        let (last, throttled, retry_after) = match resp {
            Ok(r) if r.status().is_success() => match r.bytes().await {
                Ok(b) => return decode(&b).ok_or_else(|| call.undecodable()),
                Err(e) => (transport_kind(&e).to_string(), false, None),
            },
            Ok(r) if r.status().as_u16() == 429 || r.status().is_server_error() => {
                let code = r.status().as_u16();
                if code == 429 {
                    call.throttled();
                }
                let retry_after = matches!(code, 429 | 503)
                    .then(|| {
                        parse_retry_after(
                            r.headers().get("retry-after").and_then(|v| v.to_str().ok()),
                        )
                    })
                    .flatten();
                (code.to_string(), code == 429, retry_after)
            }
            Ok(r) => {
                call.refused(r.status().as_u16()).await?;
                attempt -= 1;
                continue;
            }
            Err(e) => (transport_kind(&e).to_string(), false, None),
        };
        if attempt >= backoff.max_attempts() {
            return Err(call.exhausted(attempt, last));
        }
        let wait = backoff.delay(attempt, throttled, retry_after);
        tracing::debug!(system = call.system(), path = call.path(), attempt, last = %last, wait_ms = wait.as_millis() as u64, "Retrying call.");
        tokio::time::sleep(wait).await;
    }
}

/// Computes waits for one call's attempts.
#[derive(Debug, Clone)]
pub struct Backoff {
    policy: Retry,
    seed: u64,
}

impl Backoff {
    /// A backoff following `policy`, with its own jitter sequence.
    pub fn new(policy: &Retry) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        Backoff {
            policy: policy.clone(),
            seed: nanos ^ 0x9E37_79B9_7F4A_7C15,
        }
    }

    /// Attempts allowed in total.
    pub fn max_attempts(&self) -> u32 {
        self.policy.max_attempts.max(1)
    }

    /// The wait before attempt `attempt + 1`, after attempt `attempt` (1-based) failed.
    /// `throttled` is true for a 429; `retry_after` is the server's hint, if any.
    pub fn delay(
        &mut self,
        attempt: u32,
        throttled: bool,
        retry_after: Option<Duration>,
    ) -> Duration {
        let exp = self
            .policy
            .base_delay_ms
            .saturating_mul(1u64 << attempt.saturating_sub(1).min(20));
        let cap = exp.min(self.policy.max_delay_ms);
        // Full jitter in [cap/2, cap]: spreads retries of concurrent tasks without ever
        // collapsing to zero.
        let jittered = cap / 2 + self.next() % (cap / 2 + 1);
        let mut ms = jittered;
        if throttled {
            ms = ms.max(self.policy.floor_ms);
        }
        let mut d = Duration::from_millis(ms);
        if let Some(ra) = retry_after {
            d = d.max(ra).max(Duration::from_millis(self.policy.floor_ms));
        }
        d
    }

    fn next(&mut self) -> u64 {
        // splitmix64: enough randomness for jitter, no extra crate.
        self.seed = self.seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.seed;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// Parses a `Retry-After` header given in seconds (the HTTP-date form is treated as absent).
pub fn parse_retry_after(v: Option<&str>) -> Option<Duration> {
    v?.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::{Arc, Mutex};

    use axum::http::{HeaderMap, StatusCode};

    use super::*;

    /// A local server answering its scripted responses in order, then 200 `{"ok": true}`.
    /// Returns its URL and the number of requests it got.
    async fn server(script: Vec<(u16, Option<&'static str>)>) -> (String, Arc<Mutex<u32>>) {
        let script = Arc::new(Mutex::new(VecDeque::from(script)));
        let hits = Arc::new(Mutex::new(0));
        let seen = hits.clone();
        let app = axum::Router::new().route(
            "/x",
            axum::routing::get(move || async move {
                *seen.lock().unwrap() += 1;
                let (status, retry_after) =
                    script.lock().unwrap().pop_front().unwrap_or((200, None));
                let mut headers = HeaderMap::new();
                if let Some(ra) = retry_after {
                    headers.insert("retry-after", ra.parse().unwrap());
                }
                (
                    StatusCode::from_u16(status).unwrap(),
                    headers,
                    r#"{"ok": true}"#,
                )
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/x", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (url, hits)
    }

    /// A call that only counts what the loop told it.
    #[derive(Default)]
    struct Probe {
        url: String,
        throttled: u32,
        recorded: Vec<Option<u16>>,
    }

    impl RetryingCall for Probe {
        type Error = String;

        fn system(&self) -> &str {
            "test"
        }

        fn path(&self) -> &str {
            "/x"
        }

        async fn request(&mut self) -> Result<reqwest::RequestBuilder, String> {
            Ok(crate::source::http_client(Duration::from_secs(5)).get(&self.url))
        }

        async fn record(&mut self, status: Option<u16>, _: Duration) {
            self.recorded.push(status);
        }

        fn throttled(&mut self) {
            self.throttled += 1;
        }

        async fn refused(&mut self, status: u16) -> Result<(), String> {
            Err(format!("refused {status}"))
        }

        fn undecodable(&self) -> String {
            "undecodable".into()
        }

        fn exhausted(&self, attempts: u32, last: String) -> String {
            format!("exhausted after {attempts} (last: {last})")
        }
    }

    fn quick(max_attempts: u32) -> Retry {
        Retry {
            max_attempts,
            base_delay_ms: 1,
            max_delay_ms: 2,
            floor_ms: 1,
        }
    }

    async fn call(
        script: Vec<(u16, Option<&'static str>)>,
        policy: &Retry,
    ) -> (Result<Value, String>, Probe, u32) {
        let (url, hits) = server(script).await;
        let mut probe = Probe {
            url,
            ..Probe::default()
        };
        let result = call_with_retry(policy, &mut probe).await;
        let hits = *hits.lock().unwrap();
        (result, probe, hits)
    }

    #[tokio::test]
    async fn a_429_with_retry_after_and_a_503_are_retried_until_the_call_succeeds() {
        let (result, probe, hits) = call(
            vec![(429, Some("0")), (503, Some("0")), (502, None)],
            &quick(5),
        )
        .await;
        assert_eq!(result.unwrap(), serde_json::json!({"ok": true}));
        assert_eq!(hits, 4);
        assert_eq!(probe.throttled, 1);
        assert_eq!(probe.recorded, [Some(429), Some(503), Some(502), Some(200)]);
    }

    #[tokio::test]
    async fn retries_stop_when_the_attempts_run_out() {
        let (result, probe, hits) = call(vec![(500, None); 5], &quick(3)).await;
        assert_eq!(result.unwrap_err(), "exhausted after 3 (last: 500)");
        assert_eq!(hits, 3);
        assert_eq!(probe.recorded.len(), 3);
    }

    #[tokio::test]
    async fn a_400_is_the_clients_to_judge_and_not_retried() {
        let (result, _, hits) = call(vec![(400, None)], &quick(5)).await;
        assert_eq!(result.unwrap_err(), "refused 400");
        assert_eq!(hits, 1);
    }

    #[tokio::test]
    async fn a_server_that_does_not_answer_is_retried_and_named_in_the_error() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/x", listener.local_addr().unwrap());
        drop(listener);
        let mut probe = Probe {
            url,
            ..Probe::default()
        };
        let result = call_with_retry(&quick(2), &mut probe).await;
        assert_eq!(
            result.unwrap_err(),
            "exhausted after 2 (last: connection refused)"
        );
        assert_eq!(probe.recorded, [None, None]);
    }

    fn policy() -> Retry {
        Retry {
            max_attempts: 5,
            base_delay_ms: 100,
            max_delay_ms: 1000,
            floor_ms: 500,
        }
    }

    #[test]
    fn delays_grow_exponentially_within_the_cap_with_jitter() {
        let mut b = Backoff::new(&policy());
        for attempt in 1..10 {
            let cap = (100u64 << (attempt - 1)).min(1000);
            let d = b.delay(attempt, false, None).as_millis() as u64;
            assert!(
                d >= cap / 2 && d <= cap,
                "attempt {attempt}: {d} not in [{}, {cap}]",
                cap / 2
            );
        }
    }

    #[test]
    fn a_429_waits_at_least_the_floor_even_when_retry_after_says_zero() {
        let mut b = Backoff::new(&policy());
        assert!(b.delay(1, true, Some(Duration::ZERO)) >= Duration::from_millis(500));
        assert_eq!(
            b.delay(1, true, Some(Duration::from_secs(3))),
            Duration::from_secs(3)
        );
        assert_eq!(parse_retry_after(Some(" 7 ")), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after(Some("Wed, 21 Oct 2015 07:28:00 GMT")),
            None
        );
    }
}
