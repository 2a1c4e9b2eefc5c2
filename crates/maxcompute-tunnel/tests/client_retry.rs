//! Retry decisions, backoff bounds and give-up errors. Deterministic: jitter is injected, and the
//! loop tests talk to a closed local port (connection refused), never assert on elapsed time.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use http::StatusCode;
use maxcompute_tunnel::auth::{CredentialError, CredentialProvider};
use maxcompute_tunnel::error::{TransportKind, AUTH_EXPIRED_CODE, FLOW_EXCEEDED_CODE};
use maxcompute_tunnel::retry::Decision;
use maxcompute_tunnel::{
    ClientConfig, Credentials, Error, RetryConfig, ServiceError, TunnelClient,
};
use tokio::time::Instant;

fn service(status: u16, code: Option<&str>) -> Error {
    Error::Service {
        operation: "upload block 0".into(),
        error: ServiceError {
            status: StatusCode::from_u16(status).unwrap(),
            code: code.map(str::to_owned),
            message: "m".into(),
            request_id: Some("R1".into()),
        },
    }
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

fn unreachable_client(retry: RetryConfig, provider: Arc<CountingProvider>) -> TunnelClient {
    let endpoint = closed_local_endpoint();
    let config = ClientConfig::new(format!("{endpoint}/api"), "proj", provider)
        .with_tunnel_endpoint(endpoint)
        .with_retry(retry)
        .with_connect_timeout(Duration::from_secs(2));
    TunnelClient::new(config).unwrap()
}

#[tokio::test]
async fn gives_up_after_max_attempts_with_the_last_error() {
    let provider = Arc::new(CountingProvider::default());
    let retry = RetryConfig {
        base: Duration::from_millis(1),
        cap: Duration::from_millis(2),
        max_attempts: 3,
    };
    let client = unreachable_client(retry, provider.clone());
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
    let retry = RetryConfig {
        base: Duration::from_secs(3600),
        cap: Duration::from_secs(3600),
        max_attempts: 100,
    };
    let client = unreachable_client(retry, provider);
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
        text.contains("gave up after 1 attempts, next retry would pass the deadline; last error:"),
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
