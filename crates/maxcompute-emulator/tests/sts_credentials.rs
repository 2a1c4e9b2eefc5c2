//! STS credentials end to end: the tunnel crate's AssumeRole client and credential cache against
//! the emulator's real STS endpoint, and MaxCompute requests signed with what they hand out.
//!
//! Each flow is one function, run by its own test and once more by
//! `no_secret_or_token_in_any_log_or_message`, which records every log line at every level
//! while all flows run and then looks for the secrets and tokens in them.

use std::collections::BTreeSet;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, TimeDelta, Utc};
use maxcompute_emulator::config::{DEFAULT_ACCESS_ID, DEFAULT_ACCESS_KEY, DEFAULT_PROJECT};
use maxcompute_emulator::{start, EmulatorConfig, EmulatorHandle, FaultAction, FaultKind};
use maxcompute_tunnel::auth::{
    role_arn, AssumeRoleConfig, Clock, CredentialProvider, Credentials, StsClient,
    StsCredentialProvider, StsError, StsFailure,
};
use maxcompute_tunnel::codec::RecordEncoder;
use maxcompute_tunnel::{ClientConfig, Compression, TunnelClient, UploadOptions, Value};
use tracing_subscriber::fmt::MakeWriter;

const ACCOUNT_ID: &str = "1234567890";
const ROLE_NAME: &str = "sink-role";
const TABLE: &str = "events";
const MARGIN: TimeDelta = TimeDelta::minutes(5);

/// The tests run one at a time: `tracing` caches each call site's interest, and a call site
/// first reached on two threads at once while thread-local subscribers come and go can miss an
/// event, which would make the log test look at an incomplete capture.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Wall-clock time the test moves by hand.
#[derive(Debug)]
struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    fn new() -> Arc<ManualClock> {
        Arc::new(ManualClock(Mutex::new(Utc::now())))
    }

    fn set(&self, to: DateTime<Utc>) {
        *self.0.lock().unwrap() = to;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

/// Every string that must never be shown: the permanent secrets and every temporary secret and
/// token handed out.
#[derive(Default)]
struct Secrets(Mutex<BTreeSet<String>>);

impl Secrets {
    fn add(&self, secret: &str) {
        self.0.lock().unwrap().insert(secret.to_owned());
    }

    fn note(&self, credentials: &Credentials) {
        self.add(credentials.access_key_secret());
        if let Some(token) = credentials.security_token() {
            self.add(token);
        }
    }

    /// Panics (without quoting the secret) if `text` shows any of them.
    #[track_caller]
    fn assert_absent(&self, what: &str, text: &str) {
        let secrets = self.0.lock().unwrap();
        assert!(!secrets.is_empty());
        for (i, secret) in secrets.iter().enumerate() {
            assert!(
                !text.contains(secret.as_str()),
                "{what} shows secret #{i} (of {} kept)",
                secrets.len()
            );
        }
    }
}

struct Env {
    handle: EmulatorHandle,
    _dir: tempfile::TempDir,
}

impl Env {
    /// An emulator whose STS knows the role; `lifetime` overrides the tokens' lifetime.
    async fn start(lifetime: Option<Duration>) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let mut config = EmulatorConfig::new(dir.path());
        config.sts.role_arns = vec![role_arn(ACCOUNT_ID, ROLE_NAME)];
        config.sts.lifetime_override = lifetime;
        let handle = start(config).await.unwrap();
        handle
            .catalog()
            .create_table_ddl(
                DEFAULT_PROJECT,
                "CREATE TABLE events (topic STRING, `offset` BIGINT);",
            )
            .unwrap();
        Env { handle, _dir: dir }
    }

    fn assume_role(&self, id: &str, secret: &str, role: &str) -> AssumeRoleConfig {
        AssumeRoleConfig::new(Credentials::new(id, secret), ACCOUNT_ID, role)
            .with_endpoint(self.handle.sts_endpoint())
            .with_region_id("cn-hangzhou")
    }

    fn provider(&self, clock: Arc<ManualClock>) -> Arc<StsCredentialProvider> {
        let client =
            StsClient::new(self.assume_role(DEFAULT_ACCESS_ID, DEFAULT_ACCESS_KEY, ROLE_NAME))
                .unwrap();
        Arc::new(StsCredentialProvider::new(client).with_clock(clock))
    }

    fn client(&self, provider: Arc<StsCredentialProvider>) -> TunnelClient {
        let config = ClientConfig::new(self.handle.api_endpoint(), DEFAULT_PROJECT, provider)
            .with_tunnel_endpoint(self.handle.tunnel_endpoint());
        TunnelClient::new(config).unwrap()
    }

    fn assume_role_calls(&self) -> u64 {
        self.handle.sts().assume_role_calls()
    }
}

async fn credentials(provider: &StsCredentialProvider, secrets: &Secrets) -> Arc<Credentials> {
    let credentials = provider.credentials().await.unwrap();
    secrets.note(&credentials);
    credentials
}

/// A signed MaxCompute REST call that only succeeds with valid credentials.
async fn read_schema(client: &TunnelClient) {
    let schema = client.table_schema(TABLE, None).await.unwrap();
    assert_eq!(schema.columns.len(), 2);
}

async fn many_invocations_one_assume_role(secrets: &Secrets) {
    let env = Env::start(None).await;
    let provider = env.provider(ManualClock::new());
    let client = env.client(provider.clone());
    let mut ids = BTreeSet::new();
    for _ in 0..25 {
        ids.insert(credentials(&provider, secrets).await.access_id().to_owned());
        read_schema(&client).await;
    }
    assert_eq!(ids.len(), 1);
    assert!(ids.iter().all(|id| id.starts_with("STS.")), "{ids:?}");
    assert_eq!(env.assume_role_calls(), 1);
    assert_eq!(env.handle.sts().credentials_issued(), 1);
}

async fn refresh_past_the_margin_exactly_once(secrets: &Secrets) {
    let env = Env::start(None).await;
    let clock = ManualClock::new();
    let provider = env.provider(clock.clone());
    let client = env.client(provider.clone());
    let first = credentials(&provider, secrets).await;
    let expiration = provider.cached_expiration().await.unwrap();

    clock.set(expiration - MARGIN - TimeDelta::seconds(1));
    for _ in 0..5 {
        assert_eq!(
            credentials(&provider, secrets).await.access_id(),
            first.access_id()
        );
    }
    assert_eq!(env.assume_role_calls(), 1);

    clock.set(expiration - MARGIN);
    let second = credentials(&provider, secrets).await;
    assert_ne!(second.access_id(), first.access_id());
    for _ in 0..5 {
        assert_eq!(
            credentials(&provider, secrets).await.access_id(),
            second.access_id()
        );
        read_schema(&client).await;
    }
    assert_eq!(env.assume_role_calls(), 2);
}

async fn fifty_concurrent_callers_at_expiry_one_assume_role(secrets: &Arc<Secrets>) {
    let env = Env::start(None).await;
    let clock = ManualClock::new();
    let provider = env.provider(clock.clone());
    let client = env.client(provider.clone());
    let first = credentials(&provider, secrets).await;
    clock.set(provider.cached_expiration().await.unwrap());

    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (provider, client, secrets) = (provider.clone(), client.clone(), secrets.clone());
            tokio::spawn(async move {
                let id = credentials(&provider, &secrets)
                    .await
                    .access_id()
                    .to_owned();
                read_schema(&client).await;
                id
            })
        })
        .collect();
    let mut ids = BTreeSet::new();
    for task in tasks {
        ids.insert(task.await.unwrap());
    }
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert!(!ids.contains(first.access_id()));
    assert_eq!(env.assume_role_calls(), 2);
}

fn block(schema: &Arc<maxcompute_tunnel::TableSchema>, offsets: std::ops::Range<i64>) -> Bytes {
    let mut encoder = RecordEncoder::new(schema.clone());
    for offset in offsets {
        encoder
            .append(&[Value::from("orders"), Value::Int(offset)])
            .unwrap();
    }
    Bytes::from(encoder.finish())
}

async fn token_expiring_mid_batch_is_refreshed_and_the_upload_succeeds(secrets: &Secrets) {
    // Real short-lived tokens: the emulator's clock-advance also dates new tokens by real time,
    // so a token that expires by the server's own clock is the faithful way to get there.
    let env = Env::start(Some(Duration::from_secs(5))).await;
    // Frozen: the cache never sees the token age, so only the server's answer can refresh it.
    let provider = env.provider(ManualClock::new());
    let client = env.client(provider.clone());

    let mut session = client
        .create_upload_session(TABLE, &UploadOptions::default(), None)
        .await
        .unwrap();
    let schema = session.schema().clone();
    session
        .upload_block(0, block(&schema, 0..3), Compression::Deflate, None)
        .await
        .unwrap();
    let old = credentials(&provider, secrets).await;
    assert_eq!(env.assume_role_calls(), 1);

    let sts = env.handle.sts();
    while sts
        .validate(old.access_id(), old.security_token(), sts.now())
        .is_ok()
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    session
        .upload_block(1, block(&schema, 3..5), Compression::Deflate, None)
        .await
        .unwrap();
    assert_eq!(env.assume_role_calls(), 2);
    let new = credentials(&provider, secrets).await;
    assert_ne!(new.access_id(), old.access_id());

    session.commit(&[0, 1], None).await.unwrap();
    let rows = env
        .handle
        .catalog()
        .rows(
            DEFAULT_PROJECT,
            TABLE,
            &maxcompute_emulator::ResolvedPartitionSpec::none(),
        )
        .unwrap();
    let offsets: Vec<i64> = rows
        .iter()
        .map(|r| match r[1] {
            Value::Int(o) => o,
            ref other => panic!("offset {other:?}"),
        })
        .collect();
    assert_eq!(offsets, [0, 1, 2, 3, 4]);
}

/// Asks for credentials with `config`, expecting a refusal; returns the error's texts.
async fn refused(config: AssumeRoleConfig, failure: StsFailure, words: &str) -> Vec<String> {
    let provider = StsCredentialProvider::new(StsClient::new(config).unwrap());
    let err = provider.credentials().await.unwrap_err();
    assert!(!err.is_retryable(), "{err}");
    let text = err.to_string();
    assert!(text.contains(words), "`{words}` not in: {text}");
    let source = std::error::Error::source(&err).expect("the STS error is kept as the source");
    let sts_error = source.downcast_ref::<StsError>().unwrap();
    assert_eq!(sts_error.failure(), Some(failure), "{sts_error}");
    assert!(sts_error.request_id().is_some_and(|r| !r.is_empty()));
    vec![text, format!("{err:?}"), format!("{provider:?}")]
}

async fn bad_credentials_are_clear_errors(secrets: &Secrets) -> Vec<String> {
    let env = Env::start(None).await;
    let wrong_secret = "wrong-secret-Qx81v";
    secrets.add(wrong_secret);
    secrets.add(DEFAULT_ACCESS_KEY);
    let mut texts = Vec::new();

    texts.extend(
        refused(
            env.assume_role("LTAI-nobody", wrong_secret, ROLE_NAME),
            StsFailure::BadAccessKey,
            "bad AccessKey",
        )
        .await,
    );
    texts.extend(
        refused(
            env.assume_role(DEFAULT_ACCESS_ID, wrong_secret, ROLE_NAME),
            StsFailure::SignatureMismatch,
            "SignatureDoesNotMatch",
        )
        .await,
    );
    texts.extend(
        refused(
            env.assume_role(DEFAULT_ACCESS_ID, DEFAULT_ACCESS_KEY, "no-such-role"),
            StsFailure::UnknownRole,
            "unknown role",
        )
        .await,
    );
    let skewed = ManualClock::new();
    skewed.set(Utc::now() - TimeDelta::minutes(20));
    texts.extend(
        refused(
            env.assume_role(DEFAULT_ACCESS_ID, DEFAULT_ACCESS_KEY, ROLE_NAME)
                .with_clock(skewed),
            StsFailure::ClockSkew,
            "clock skew",
        )
        .await,
    );
    // The emulator has no RAM policies; a fault answers as STS does for a missing grant.
    env.handle
        .faults()
        .inject(
            FaultKind::AssumeRole,
            FaultAction::Fail {
                status: 403,
                code: "NoPermission".into(),
                message: "You are not authorized to do this action.".into(),
            },
            1,
        )
        .unwrap();
    texts.extend(
        refused(
            env.assume_role(DEFAULT_ACCESS_ID, DEFAULT_ACCESS_KEY, ROLE_NAME),
            StsFailure::NoPermission,
            "no permission",
        )
        .await,
    );
    assert_eq!(env.handle.sts().credentials_issued(), 0);

    let address = env.handle.addr();
    env.handle.shutdown().await;
    let gone = AssumeRoleConfig::new(
        Credentials::new(DEFAULT_ACCESS_ID, DEFAULT_ACCESS_KEY),
        ACCOUNT_ID,
        ROLE_NAME,
    )
    .with_endpoint(format!("http://{address}/sts/"));
    let provider = StsCredentialProvider::new(StsClient::new(gone).unwrap());
    let err = provider.credentials().await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert!(err.to_string().contains("unreachable"), "{err}");
    texts.push(err.to_string());
    texts.push(format!("{err:?}"));
    texts
}

#[tokio::test]
async fn many_invocations_share_one_assume_role() {
    let _serial = SERIAL.lock().await;
    many_invocations_one_assume_role(&Secrets::default()).await;
}

#[tokio::test]
async fn past_the_margin_exactly_one_refresh() {
    let _serial = SERIAL.lock().await;
    refresh_past_the_margin_exactly_once(&Secrets::default()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_callers_at_expiry_share_one_assume_role() {
    let _serial = SERIAL.lock().await;
    fifty_concurrent_callers_at_expiry_one_assume_role(&Arc::new(Secrets::default())).await;
}

#[tokio::test]
async fn token_expiring_mid_batch_refreshes_and_the_upload_succeeds() {
    let _serial = SERIAL.lock().await;
    token_expiring_mid_batch_is_refreshed_and_the_upload_succeeds(&Secrets::default()).await;
}

#[tokio::test]
async fn bad_access_key_and_other_refusals_name_their_cause() {
    let _serial = SERIAL.lock().await;
    let secrets = Secrets::default();
    let texts = bad_credentials_are_clear_errors(&secrets).await;
    for text in &texts {
        secrets.assert_absent("an error message", text);
    }
}

/// Log output collected in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

// Current-thread runtime: the emulator's server tasks run on this thread too, so the
// thread-local subscriber below sees the server's logs as well as the client's.
#[tokio::test]
async fn no_secret_or_token_in_any_log_or_message() {
    let _serial = SERIAL.lock().await;
    // Libraries that log through `log` (reqwest) reach the subscriber through this bridge.
    let _ = tracing_log::LogTracer::init();
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(captured.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let secrets = Arc::new(Secrets::default());
    secrets.add(DEFAULT_ACCESS_KEY);
    many_invocations_one_assume_role(&secrets).await;
    refresh_past_the_margin_exactly_once(&secrets).await;
    fifty_concurrent_callers_at_expiry_one_assume_role(&secrets).await;
    token_expiring_mid_batch_is_refreshed_and_the_upload_succeeds(&secrets).await;
    let mut texts = bad_credentials_are_clear_errors(&secrets).await;

    // The values' own renderings.
    let env = Env::start(None).await;
    let provider = env.provider(ManualClock::new());
    let creds = credentials(&provider, &secrets).await;
    let config = env.assume_role(DEFAULT_ACCESS_ID, DEFAULT_ACCESS_KEY, ROLE_NAME);
    texts.extend([
        format!("{creds:?}"),
        format!("{creds:#?}"),
        format!("{creds}"),
        format!("{provider:?}"),
        format!("{config:?}"),
        format!("{:?}", StsClient::new(config.clone()).unwrap()),
        format!("{:?}", env.client(provider.clone())),
    ]);
    for text in &texts {
        secrets.assert_absent("a Debug/Display/error string", text);
    }

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    // The capture really saw both sides, at debug level too.
    for expected in [
        "STS credentials issued",
        "STS credentials refreshed",
        "STS credentials rejected as expired",
        "security token expired",
        "AssumeRole refused",
        "calling STS AssumeRole",
        " DEBUG ",
        " TRACE ",
    ] {
        assert!(logs.contains(expected), "`{expected}` not logged");
    }
    secrets.assert_absent("the logs", &logs);
    // Tokens issued: one per flow start, plus the refreshes.
    assert!(secrets.0.lock().unwrap().len() >= 12);
}
