//! Sending: the one place requests go out, failures are classified and repeated.
//!
//! Backoff is exponential with "equal jitter": the n-th wait (n from 0) is drawn uniformly from
//! `[e/2, e]` with `e = min(cap, base * 2^n)`, so retries of many clients spread out while each
//! still waits at least half the nominal time. A caller-supplied deadline is never slept past:
//! if the next wait would end after it, the policy gives up and says so. An answer saying the STS
//! token expired invalidates the credentials and is repeated once at once, outside the backoff.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::time::Instant;

use super::endpoint::Endpoint;
use super::request::{prepare, read_reply, Common, RequestSpec, Response};
use crate::auth::{CredentialError, CredentialProvider};
use crate::error::Error;

/// Error code MaxCompute answers when the signature's STS token has expired. pyodps
/// (`rest.py`) reloads its account once and retries on this code; so do we.
const AUTH_EXPIRED_CODE: &str = "AuthenticationRequestExpired";
/// Error code of a throttled request (HTTP 429 or a 5xx with this code).
const FLOW_EXCEEDED_CODE: &str = "FlowExceeded";

/// Retry settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryConfig {
    /// Nominal first wait.
    pub base: Duration,
    /// Longest single wait.
    pub cap: Duration,
    /// Attempts in total, the first included (1 = never retry).
    pub max_attempts: u32,
}

impl Default for RetryConfig {
    /// 0.5 s doubling to 30 s, 8 attempts: rides out a short service hiccup (about a minute and a
    /// half in the worst case) while leaving a Lambda invocation time to report the failure.
    fn default() -> Self {
        RetryConfig {
            base: Duration::from_millis(500),
            cap: Duration::from_secs(30),
            max_attempts: 8,
        }
    }
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Wait this long, then try again.
    RetryAfter(Duration),
    /// The error is final (e.g. a 4xx other than 408/429).
    Fail,
    /// `max_attempts` reached.
    Exhausted,
    /// The next wait would end after the deadline.
    DeadlinePassed,
}

impl RetryConfig {
    /// The nominal wait (before jitter) after the `attempt`-th failure (1-based).
    fn nominal_backoff(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(30);
        self.base
            .checked_mul(1u32 << exponent)
            .unwrap_or(self.cap)
            .min(self.cap)
    }

    /// The wait after the `attempt`-th failure, with `jitter` in `[0, 1)` choosing a point in
    /// `[nominal/2, nominal]`.
    fn backoff(&self, attempt: u32, jitter: f64) -> Duration {
        let nominal = self.nominal_backoff(attempt);
        let jitter = if jitter.is_finite() {
            jitter.clamp(0.0, 1.0)
        } else {
            0.0
        };
        nominal / 2 + (nominal / 2).mul_f64(jitter)
    }

    /// Decides after the `attempt`-th failed attempt (1-based) with `error`, at `now`.
    /// `jitter` in `[0, 1)` is injected so the decision is deterministic under test.
    pub(crate) fn decide(
        &self,
        error: &Error,
        attempt: u32,
        now: Instant,
        deadline: Option<Instant>,
        jitter: f64,
    ) -> Decision {
        if !error.is_retryable() {
            return Decision::Fail;
        }
        if attempt >= self.max_attempts {
            return Decision::Exhausted;
        }
        let wait = self.backoff(attempt, jitter);
        match deadline {
            Some(deadline) if now + wait >= deadline => Decision::DeadlinePassed,
            _ => Decision::RetryAfter(wait),
        }
    }
}

impl Error {
    /// Whether repeating the same request may succeed: 5xx, 408, 429, 308, `FlowExceeded`,
    /// connection errors and timeouts. Other 4xx are final.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Service { error, .. } => {
                let s = error.status.as_u16();
                s >= 500
                    || matches!(s, 308 | 408 | 429)
                    || error.code.as_deref() == Some(FLOW_EXCEEDED_CODE)
            }
            Error::Transport { .. } => true,
            Error::Credential(e) => e.is_retryable(),
            _ => false,
        }
    }

    /// Whether the answer says the signature's STS token expired (`AuthenticationRequestExpired`).
    /// The client then asks its credential provider for fresh credentials and repeats the
    /// request once; this error comes back only when the fresh ones are refused too.
    pub fn is_auth_expired(&self) -> bool {
        matches!(self, Error::Service { error, .. } if error.code.as_deref() == Some(AUTH_EXPIRED_CODE))
    }
}

/// Wraps the last error of a retry loop that stopped for `decision`.
fn give_up(decision: Decision, operation: &str, attempts: u32, last: Error) -> Error {
    match decision {
        Decision::Exhausted => Error::RetriesExhausted {
            operation: operation.to_owned(),
            attempts,
            last: Box::new(last),
        },
        Decision::DeadlinePassed => Error::DeadlineExceeded {
            operation: operation.to_owned(),
            attempts,
            last: Box::new(last),
        },
        Decision::Fail | Decision::RetryAfter(_) => last,
    }
}

/// How long a deadline-bounded wait may last; `None` when there is no deadline.
fn remaining(deadline: Option<Instant>) -> Option<Duration> {
    deadline.map(|d| d.saturating_duration_since(Instant::now()))
}

/// Sends signed requests of one client and repeats them per its [`RetryConfig`].
#[derive(Debug)]
pub(crate) struct Sender {
    pub(crate) http: reqwest::Client,
    pub(crate) credentials: Arc<dyn CredentialProvider>,
    pub(crate) common: Common,
    pub(crate) retry: RetryConfig,
    pub(crate) request_timeout: Duration,
}

impl Sender {
    /// Sends `spec` to `endpoint` once (no retry); non-2xx answers become [`Error::Service`].
    pub(crate) async fn send_once(
        &self,
        endpoint: &Endpoint,
        spec: &RequestSpec,
        deadline: Option<Instant>,
    ) -> Result<Response, Error> {
        // A credential refresh (e.g. AssumeRole) must not outlast the caller's deadline either.
        let fetch = self.credentials.credentials();
        let credentials = match remaining(deadline) {
            Some(left) => tokio::time::timeout(left, fetch).await.map_err(|_| {
                CredentialError::transient("no credentials before the call's deadline")
            })??,
            None => fetch.await?,
        };
        let prepared = prepare(&self.common, endpoint, spec, &credentials, Utc::now())?;
        let timeout = match remaining(deadline) {
            Some(left) => left.min(self.request_timeout).max(Duration::from_millis(1)),
            None => self.request_timeout,
        };
        tracing::debug!(
            operation = %spec.operation,
            method = %prepared.method,
            resource = %spec.resource,
            bytes = prepared.body.len(),
            "sending request"
        );
        let reply = self
            .http
            .request(prepared.method, prepared.url)
            .headers(prepared.headers)
            .timeout(timeout)
            .body(prepared.body)
            .send()
            .await
            .map_err(|e| Error::transport(&spec.operation, e))?;
        read_reply(&spec.operation, reply).await
    }

    /// Sends `spec` to `endpoint`, retrying, never waiting past `deadline`.
    pub(crate) async fn send_to(
        &self,
        endpoint: &Endpoint,
        spec: &RequestSpec,
        deadline: Option<Instant>,
    ) -> Result<Response, Error> {
        self.with_retry(&spec.operation, deadline, || {
            self.send_once(endpoint, spec, deadline)
        })
        .await
    }

    /// Runs `attempt` until it succeeds, fails for good, runs out of attempts or would pass
    /// `deadline`.
    pub(crate) async fn with_retry<T, F, Fut>(
        &self,
        operation: &str,
        deadline: Option<Instant>,
        mut attempt: F,
    ) -> Result<T, Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        let mut attempts = 0u32;
        let mut refreshed_credentials = false;
        loop {
            attempts += 1;
            let error = match attempt().await {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            if error.is_auth_expired() && !refreshed_credentials {
                refreshed_credentials = true;
                tracing::warn!(%operation, "security token expired; retrying with fresh credentials");
                self.credentials.invalidate();
                continue;
            }
            let decision =
                self.retry
                    .decide(&error, attempts, Instant::now(), deadline, rand::random());
            match decision {
                Decision::RetryAfter(wait) => {
                    tracing::warn!(
                        %operation,
                        attempt = attempts,
                        wait_ms = wait.as_millis() as u64,
                        error = %error,
                        "request failed; retrying"
                    );
                    tokio::time::sleep(wait).await;
                }
                other => return Err(give_up(other, operation, attempts, error)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use futures::future::BoxFuture;

    use super::*;
    use crate::auth::Credentials;
    use crate::client::test_support::service;
    use crate::client::{ClientConfig, TunnelClient};
    use crate::error::TransportKind;

    #[test]
    fn nominal_backoff_doubles_up_to_the_cap() {
        let c = RetryConfig {
            base: Duration::from_millis(100),
            cap: Duration::from_millis(1000),
            max_attempts: 50,
        };
        let got: Vec<u128> = (1..=6).map(|a| c.nominal_backoff(a).as_millis()).collect();
        assert_eq!(got, vec![100, 200, 400, 800, 1000, 1000]);
        assert_eq!(c.nominal_backoff(40), Duration::from_millis(1000));
    }

    #[test]
    fn jittered_backoff_stays_within_half_and_full_nominal() {
        let c = RetryConfig::default();
        for attempt in 1..12 {
            let nominal = c.nominal_backoff(attempt);
            for jitter in [0.0, 0.25, 0.5, 0.999, 1.0, -3.0, f64::NAN] {
                let d = c.backoff(attempt, jitter);
                assert!(d >= nominal / 2 && d <= nominal, "{attempt} {jitter} {d:?}");
            }
            assert_eq!(c.backoff(attempt, 0.0), nominal / 2);
        }
    }

    #[test]
    fn retryable_classification() {
        for s in [500, 502, 503, 504, 308, 408, 429] {
            assert!(service(s, None).is_retryable(), "{s}");
        }
        for s in [400, 401, 403, 404, 409] {
            assert!(!service(s, None).is_retryable(), "{s}");
        }
        assert!(service(400, Some(FLOW_EXCEEDED_CODE)).is_retryable());
        assert!(service(401, Some(AUTH_EXPIRED_CODE)).is_auth_expired());
        assert!(!Error::protocol("op", "bad json").is_retryable());
    }

    fn config() -> RetryConfig {
        RetryConfig {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(2),
            max_attempts: 5,
        }
    }

    #[test]
    fn final_errors_are_not_retried() {
        let now = Instant::now();
        for status in [400, 401, 403, 404, 409] {
            assert_eq!(
                config().decide(&service(status, None), 1, now, None, 0.5),
                Decision::Fail,
                "{status}"
            );
        }
        let protocol = Error::BlockListMismatch {
            upload_id: "U".into(),
            missing: vec![1],
            unexpected: vec![],
        };
        assert_eq!(
            config().decide(&protocol, 1, now, None, 0.5),
            Decision::Fail
        );
    }

    #[test]
    fn transient_errors_back_off_within_bounds() {
        let c = config();
        let now = Instant::now();
        for (status, code) in [
            (500, None),
            (502, None),
            (503, None),
            (504, None),
            (308, None),
            (408, None),
            (429, None),
            (400, Some(FLOW_EXCEEDED_CODE)),
        ] {
            let e = service(status, code);
            for attempt in 1..c.max_attempts {
                let nominal = c.nominal_backoff(attempt);
                match c.decide(&e, attempt, now, None, 0.0) {
                    Decision::RetryAfter(d) => assert_eq!(d, nominal / 2),
                    other => panic!("{status} attempt {attempt}: {other:?}"),
                }
                match c.decide(&e, attempt, now, None, 0.999_999) {
                    Decision::RetryAfter(d) => assert!(d > nominal / 2 && d <= nominal),
                    other => panic!("{status} attempt {attempt}: {other:?}"),
                }
            }
        }
        assert_eq!(c.nominal_backoff(1), Duration::from_millis(100));
        assert_eq!(c.nominal_backoff(5), Duration::from_millis(1600));
        assert_eq!(c.nominal_backoff(6), Duration::from_secs(2));
    }

    #[test]
    fn stops_at_max_attempts_and_before_the_deadline() {
        let c = config();
        let now = Instant::now();
        let e = service(503, None);
        assert_eq!(c.decide(&e, 5, now, None, 0.5), Decision::Exhausted);
        // Attempt 3: wait in [200ms, 400ms]; a deadline 100ms away cannot be met.
        let deadline = now + Duration::from_millis(100);
        assert_eq!(
            c.decide(&e, 3, now, Some(deadline), 0.0),
            Decision::DeadlinePassed
        );
        // A far deadline does not interfere.
        let far = now + Duration::from_secs(60);
        assert!(matches!(
            c.decide(&e, 3, now, Some(far), 0.0),
            Decision::RetryAfter(_)
        ));
    }

    /// Counts how often the client asked for credentials and invalidated them.
    #[derive(Debug, Default)]
    struct CountingProvider {
        calls: AtomicU32,
        invalidations: AtomicU32,
    }

    impl CredentialProvider for CountingProvider {
        fn credentials(&self) -> BoxFuture<'_, Result<Arc<Credentials>, CredentialError>> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            Box::pin(async { Ok(Arc::new(Credentials::new("id", "secret"))) })
        }

        fn invalidate(&self) {
            self.invalidations.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// An address on which nothing listens: bind an ephemeral port, then free it.
    fn closed_local_endpoint() -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        format!("http://127.0.0.1:{port}")
    }

    /// A client of a closed port whose waits are `base` doubling to `cap`, `max_attempts` times.
    fn unreachable_client(
        (base, cap, max_attempts): (Duration, Duration, u32),
        provider: Arc<CountingProvider>,
    ) -> TunnelClient {
        let retry = RetryConfig {
            base,
            cap,
            max_attempts,
        };
        let endpoint = closed_local_endpoint();
        let config = ClientConfig::new(format!("{endpoint}/api"), "proj", provider)
            .with_tunnel_endpoint(endpoint)
            .with_retry(retry);
        TunnelClient::new(config).unwrap()
    }

    #[tokio::test]
    async fn gives_up_after_max_attempts_with_the_last_error() {
        let provider = Arc::new(CountingProvider::default());
        let waits = (Duration::from_millis(1), Duration::from_millis(2), 3);
        let client = unreachable_client(waits, provider.clone());
        let err = client.table_schema("events", None).await.unwrap_err();
        match &err {
            Error::RetriesExhausted { attempts, last, .. } => {
                assert_eq!(*attempts, 3);
                assert!(
                    matches!(
                        **last,
                        Error::Transport {
                            kind: TransportKind::Connect,
                            ..
                        }
                    ),
                    "{last:?}"
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(
            err.to_string().contains("gave up after 3 attempts"),
            "{err}"
        );
        // Fresh credentials are asked for on every attempt, so a refreshed token is picked up.
        assert_eq!(provider.calls.load(Ordering::SeqCst), 3);
        assert_eq!(provider.invalidations.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn never_sleeps_past_the_deadline_and_says_so() {
        let provider = Arc::new(CountingProvider::default());
        let hour = Duration::from_secs(3600);
        let client = unreachable_client((hour, hour, 100), provider);
        let deadline = Instant::now() + Duration::from_secs(60);
        // With an hour-long backoff the first retry would pass the deadline: the call must return
        // (rather than sleep an hour) with the deadline error.
        let err = client
            .table_schema("events", Some(deadline))
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(
            matches!(err, Error::DeadlineExceeded { attempts: 1, .. }),
            "{err:?}"
        );
        assert!(
            text.contains(
                "gave up after 1 attempts, next retry would pass the deadline; last error:"
            ),
            "{text}"
        );
        assert!(text.contains("connection failed"), "{text}");
        assert!(!err.is_retryable());
    }

    #[test]
    fn auth_expired_code_is_recognised() {
        assert!(service(401, Some(AUTH_EXPIRED_CODE)).is_auth_expired());
        assert!(!service(401, Some("Unauthorized")).is_auth_expired());
        assert_eq!(AUTH_EXPIRED_CODE, "AuthenticationRequestExpired");
    }
}
