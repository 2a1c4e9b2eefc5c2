//! A [`CredentialProvider`] that keeps STS temporary credentials for as long as they are good
//! and fetches new ones shortly before they expire.
//!
//! Shape after object_store's `TokenCache` (`src/client/token.rs`): one value plus its expiry
//! behind a `tokio::sync::Mutex`. Every caller takes the lock, so when a refresh is due the first
//! caller performs it while the others wait on the same lock and then find the fresh value: one
//! AssumeRole however many requests are in flight. Build the provider once per process (in a
//! Lambda, at cold start) and share it; the cache then spans invocations.
//!
//! When a refresh is due:
//! * `margin` before the expiry STS announced (default 5 minutes, as the connector's v2.1.1
//!   provider), but never in the first half of a token's life, so a token shorter than twice
//!   the margin is not refreshed on every call;
//! * when the credentials are `max_age` old, if set (the connector's `client_timeout_ms`);
//! * on the next call after [`CredentialProvider::invalidate`], which the client calls when
//!   MaxCompute answers that the token expired (e.g. because the clocks disagree).
//!
//! A failed refresh while the cached token is still within its lifetime (and not invalidated)
//! keeps serving it and tries STS again after a short pause, so an STS hiccup costs nothing
//! while the old token lasts, and a STS outage does not put an AssumeRole in front of every
//! request.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use futures::future::BoxFuture;
use tokio::sync::Mutex;

use super::clock::{Clock, SystemClock};
use super::credential::{CredentialError, CredentialProvider, Credentials};
use super::sts::{StsClient, StsError, TemporaryCredentialSource, TemporaryCredentials};

/// Refresh this long before the announced expiry.
const DEFAULT_REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);
/// After a failed refresh with a still-usable token, wait this long before asking STS again.
const RETRY_PAUSE: Duration = Duration::from_secs(10);
/// Clock differences below this are normal (the HTTP `Date` header has one-second resolution).
const SKEW_WORTH_A_WARNING: TimeDelta = TimeDelta::seconds(30);

struct Cached {
    credentials: Arc<Credentials>,
    /// The expiry by the local clock (see [`StsCredentialProvider::cached_expiration`]).
    expiration: DateTime<Utc>,
    refresh_at: DateTime<Utc>,
    /// Set after a failed refresh: keep serving until then.
    retry_at: Option<DateTime<Utc>>,
}

/// STS credentials cached process-wide and refreshed ahead of expiry. See the module docs.
pub struct StsCredentialProvider {
    source: Arc<dyn TemporaryCredentialSource>,
    clock: Arc<dyn Clock>,
    max_age: Option<Duration>,
    cache: Mutex<Option<Cached>>,
    invalidated: AtomicBool,
}

impl fmt::Debug for StsCredentialProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The cache itself is left out: it is behind an async lock, and holds the token.
        f.debug_struct("StsCredentialProvider")
            .field("source", &self.source)
            .field("max_age", &self.max_age)
            .finish_non_exhaustive()
    }
}

impl StsCredentialProvider {
    /// A provider that calls AssumeRole through `client`.
    pub fn new(client: StsClient) -> Self {
        Self::from_source(Arc::new(client))
    }

    /// A provider over any source of temporary credentials.
    pub(crate) fn from_source(source: Arc<dyn TemporaryCredentialSource>) -> Self {
        StsCredentialProvider {
            source,
            clock: Arc::new(SystemClock),
            max_age: None,
            cache: Mutex::new(None),
            invalidated: AtomicBool::new(false),
        }
    }

    /// Refresh credentials once they are this old, whatever their expiry (the connector's
    /// `client_timeout_ms`).
    pub fn with_max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }

    /// The clock expiries are measured on; tests use it to move past an expiry.
    #[cfg(any(test, feature = "testing"))]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// When the cached credentials expire by this provider's clock, if there are any. When STS
    /// sent its time, this is the fetch time plus the lifetime measured on STS's clock, so a
    /// local clock that is off by an hour neither refreshes on every call nor serves expired
    /// tokens for an hour.
    #[cfg(any(test, feature = "testing"))]
    pub async fn cached_expiration(&self) -> Option<DateTime<Utc>> {
        self.cache.lock().await.as_ref().map(|c| c.expiration)
    }

    /// The current credentials, refreshed first if due. The typed form of
    /// [`CredentialProvider::credentials`].
    async fn current(&self) -> Result<Arc<Credentials>, StsError> {
        let mut cache = self.cache.lock().await;
        // Consumed under the lock, so one invalidation causes one refresh, however many
        // callers are waiting.
        let invalidated = self.invalidated.swap(false, Ordering::SeqCst);
        let now = self.clock.now();
        if invalidated {
            tracing::info!("STS credentials rejected as expired; refreshing");
            *cache = None;
        } else if let Some(cached) = cache.as_ref() {
            let paused = cached.retry_at.is_some_and(|t| now < t) && now < cached.expiration;
            if now < cached.refresh_at || paused {
                return Ok(Arc::clone(&cached.credentials));
            }
        }

        match self.source.fetch().await {
            Ok(fresh) => {
                let fetched_at = self.clock.now();
                let entry = self.entry(fresh, fetched_at);
                tracing::info!(
                    expiration = %entry.expiration,
                    refresh_at = %entry.refresh_at,
                    "STS credentials refreshed"
                );
                let credentials = Arc::clone(&entry.credentials);
                *cache = Some(entry);
                Ok(credentials)
            }
            Err(error) => match cache.as_mut() {
                Some(cached) if now < cached.expiration && !error_is_final(&error) => {
                    tracing::warn!(
                        %error,
                        expiration = %cached.expiration,
                        "STS refresh failed; the current credentials are still valid and stay in use"
                    );
                    cached.retry_at = Some(now + delta(RETRY_PAUSE));
                    Ok(Arc::clone(&cached.credentials))
                }
                _ => Err(error),
            },
        }
    }

    fn entry(&self, fresh: TemporaryCredentials, fetched_at: DateTime<Utc>) -> Cached {
        let sts_now = fresh.server_time.unwrap_or(fetched_at);
        let skew = fetched_at - sts_now;
        if skew.abs() > SKEW_WORTH_A_WARNING {
            tracing::warn!(
                skew_seconds = skew.num_seconds(),
                "the local clock differs from STS's; token lifetimes are measured on STS's clock"
            );
        }
        let lifetime = fresh.expiration - sts_now;
        if lifetime <= TimeDelta::zero() {
            tracing::warn!(
                expiration = %fresh.expiration,
                "STS credentials arrived already expired"
            );
        }
        let expiration = fetched_at + lifetime;
        let margin = delta(DEFAULT_REFRESH_MARGIN)
            .min(lifetime / 2)
            .max(TimeDelta::zero());
        let mut refresh_at = expiration - margin;
        if let Some(max_age) = self.max_age {
            refresh_at = refresh_at.min(fetched_at + delta(max_age));
        }
        Cached {
            credentials: Arc::new(fresh.credentials),
            expiration,
            refresh_at,
            retry_at: None,
        }
    }
}

/// A refusal that will not pass by itself (revoked permission, deleted role, bad key): stop
/// using the old token's remaining life to hide it, so the operator hears about it now.
fn error_is_final(error: &StsError) -> bool {
    matches!(error, StsError::Refused { .. } | StsError::Config(_)) && !error.is_retryable()
}

fn delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

impl CredentialProvider for StsCredentialProvider {
    fn credentials(&self) -> BoxFuture<'_, Result<Arc<Credentials>, CredentialError>> {
        Box::pin(async move {
            self.current().await.map_err(|error| {
                let message = error.to_string();
                let wrapped = if error.is_retryable() {
                    CredentialError::transient(message)
                } else {
                    CredentialError::new(message)
                };
                wrapped.with_source(error)
            })
        })
    }

    fn invalidate(&self) {
        self.invalidated.store(true, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::sts::StsFailure;
    use std::collections::VecDeque;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Mutex as StdMutex;

    #[derive(Debug)]
    struct ManualClock(StdMutex<DateTime<Utc>>);

    impl ManualClock {
        fn advance(&self, by: Duration) {
            *self.0.lock().unwrap() += delta(by);
        }
    }

    impl Clock for ManualClock {
        fn now(&self) -> DateTime<Utc> {
            *self.0.lock().unwrap()
        }
    }

    /// Issues numbered credentials valid for `lifetime` from the manual clock's now, or the
    /// queued failures first.
    #[derive(Debug)]
    struct FakeSts {
        clock: Arc<ManualClock>,
        lifetime: Duration,
        /// STS's clock minus the local one, when STS reports its time.
        sts_ahead: Option<TimeDelta>,
        calls: AtomicUsize,
        failures: StdMutex<VecDeque<StsError>>,
    }

    impl TemporaryCredentialSource for FakeSts {
        fn fetch(&self) -> BoxFuture<'_, Result<TemporaryCredentials, StsError>> {
            Box::pin(async move {
                let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
                // Yield so concurrent callers really pile up on the lock during a refresh.
                tokio::task::yield_now().await;
                if let Some(e) = self.failures.lock().unwrap().pop_front() {
                    return Err(e);
                }
                let sts_now = self.clock.now() + self.sts_ahead.unwrap_or_default();
                Ok(TemporaryCredentials {
                    credentials: Credentials::new(format!("STS.{n}"), format!("secret-{n}"))
                        .with_security_token(format!("token-{n}")),
                    expiration: sts_now + delta(self.lifetime),
                    server_time: self.sts_ahead.map(|_| sts_now),
                })
            })
        }
    }

    fn setup(lifetime_s: u64) -> (Arc<ManualClock>, Arc<FakeSts>, StsCredentialProvider) {
        setup_skewed(lifetime_s, None)
    }

    fn setup_skewed(
        lifetime_s: u64,
        sts_ahead: Option<TimeDelta>,
    ) -> (Arc<ManualClock>, Arc<FakeSts>, StsCredentialProvider) {
        let clock = Arc::new(ManualClock(StdMutex::new(Utc::now())));
        let sts = Arc::new(FakeSts {
            clock: Arc::clone(&clock),
            lifetime: Duration::from_secs(lifetime_s),
            sts_ahead,
            calls: AtomicUsize::new(0),
            failures: StdMutex::new(VecDeque::new()),
        });
        let provider = StsCredentialProvider::from_source(sts.clone()).with_clock(clock.clone());
        (clock, sts, provider)
    }

    fn refused(code: &str, status: u16) -> StsError {
        StsError::Refused {
            failure: StsFailure::from_code(code, status),
            role_arn: "acs:ram::1:role/r".into(),
            status,
            code: code.into(),
            message: "m".into(),
            request_id: Some("R".into()),
        }
    }

    impl FakeSts {
        fn fail_next(&self, code: &str, status: u16) {
            self.failures
                .lock()
                .unwrap()
                .push_back(refused(code, status));
        }

        fn calls(&self) -> usize {
            self.calls.load(Ordering::SeqCst)
        }
    }

    async fn id(p: &StsCredentialProvider) -> String {
        p.credentials().await.unwrap().access_id().to_owned()
    }

    /// Asserts that `p` serves `STS.1` until `secs` from now and `STS.2` from then on.
    async fn refreshes_after(clock: &ManualClock, p: &StsCredentialProvider, secs: u64, why: &str) {
        clock.advance(Duration::from_secs(secs - 1));
        assert_eq!(id(p).await, "STS.1", "{why}");
        clock.advance(Duration::from_secs(1));
        assert_eq!(id(p).await, "STS.2", "{why}");
    }

    #[tokio::test]
    async fn refreshes_margin_before_expiry_and_not_earlier() {
        let (clock, sts, p) = setup(3600);
        assert_eq!(id(&p).await, "STS.1");
        refreshes_after(&clock, &p, 3600 - 300, "margin").await;
        assert_eq!(id(&p).await, "STS.2");
        assert_eq!(sts.calls(), 2);
    }

    #[tokio::test]
    async fn lifetime_is_measured_on_the_sts_clock() {
        for hours in [-2, 2] {
            let (clock, sts, p) = setup_skewed(3600, Some(TimeDelta::hours(hours)));
            assert_eq!(id(&p).await, "STS.1");
            let local_expiry = p.cached_expiration().await.unwrap();
            assert_eq!(local_expiry, clock.now() + TimeDelta::seconds(3600));
            let why = format!("STS {hours} h ahead");
            refreshes_after(&clock, &p, 3600 - 300, &why).await;
            assert_eq!(id(&p).await, "STS.2", "{why}");
            assert_eq!(sts.calls(), 2);
        }
    }

    #[tokio::test]
    async fn short_tokens_live_at_least_half_their_life() {
        let (clock, sts, p) = setup(60);
        assert_eq!(id(&p).await, "STS.1");
        refreshes_after(&clock, &p, 30, "half of 60 s").await;
        assert_eq!(sts.calls(), 2);
    }

    #[tokio::test]
    async fn max_age_caps_the_age() {
        let (clock, _sts, p) = setup(3600);
        let p = p.with_max_age(Duration::from_secs(600));
        assert_eq!(id(&p).await, "STS.1");
        refreshes_after(&clock, &p, 600, "max age").await;
    }

    #[tokio::test]
    async fn invalidate_forces_exactly_one_refresh() {
        let (_clock, sts, p) = setup(3600);
        assert_eq!(id(&p).await, "STS.1");
        p.invalidate();
        p.invalidate();
        assert_eq!(id(&p).await, "STS.2");
        assert_eq!(id(&p).await, "STS.2");
        assert_eq!(sts.calls(), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_callers_share_one_refresh() {
        let (clock, sts, p) = setup(3600);
        let p = Arc::new(p);
        assert_eq!(id(&p).await, "STS.1");
        clock.advance(Duration::from_secs(3600));
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let p = Arc::clone(&p);
                tokio::spawn(async move { id(&p).await })
            })
            .collect();
        for t in tasks {
            assert_eq!(t.await.unwrap(), "STS.2");
        }
        assert_eq!(sts.calls(), 2);
    }

    #[tokio::test]
    async fn transient_failure_keeps_a_valid_token_and_pauses() {
        let (clock, sts, p) = setup(3600);
        assert_eq!(id(&p).await, "STS.1");
        clock.advance(Duration::from_secs(3400));
        sts.fail_next("ServiceUnavailable", 503);
        assert_eq!(id(&p).await, "STS.1");
        assert_eq!(sts.calls(), 2);
        // Within the pause: no new attempt.
        assert_eq!(id(&p).await, "STS.1");
        assert_eq!(sts.calls(), 2);
        clock.advance(RETRY_PAUSE);
        assert_eq!(id(&p).await, "STS.3");
    }

    #[tokio::test]
    async fn final_failure_or_expired_token_is_an_error() {
        let (clock, sts, p) = setup(3600);
        assert_eq!(id(&p).await, "STS.1");
        clock.advance(Duration::from_secs(3400));
        sts.fail_next("NoPermission", 403);
        let err = p.credentials().await.unwrap_err();
        assert!(!err.is_retryable());
        assert!(err.to_string().contains("no permission"), "{err}");

        clock.advance(Duration::from_secs(3600));
        sts.fail_next("ServiceUnavailable", 503);
        let err = p.credentials().await.unwrap_err();
        assert!(err.is_retryable(), "{err}");
        let source = std::error::Error::source(&err).unwrap();
        let sts_error = source.downcast_ref::<StsError>().unwrap();
        assert_eq!(sts_error.code(), Some("ServiceUnavailable"));
    }

    #[tokio::test]
    async fn invalidated_token_is_not_served_when_refresh_fails() {
        let (_clock, sts, p) = setup(3600);
        assert_eq!(id(&p).await, "STS.1");
        p.invalidate();
        sts.fail_next("ServiceUnavailable", 503);
        assert!(p.credentials().await.is_err());
        assert_eq!(id(&p).await, "STS.3");
    }

    #[tokio::test]
    async fn debug_shows_no_secret_or_token() {
        let (_clock, _sts, p) = setup(3600);
        let creds = p.credentials().await.unwrap();
        let shown = format!("{p:?} {creds:?} {creds}");
        assert!(
            !shown.contains("secret-1") && !shown.contains("token-1"),
            "{shown}"
        );
    }
}
