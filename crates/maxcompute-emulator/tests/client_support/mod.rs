//! Shared setup of the `client_*` tests: the `maxcompute_tunnel` client against an in-process
//! emulator over HTTP on 127.0.0.1:0.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use maxcompute_emulator::config::{DEFAULT_ACCESS_ID, DEFAULT_ACCESS_KEY, DEFAULT_PROJECT};
use maxcompute_emulator::faults::PendingFault;
use maxcompute_emulator::{start, EmulatorConfig, EmulatorHandle};
use maxcompute_tunnel::auth::{
    role_arn, AssumeRoleConfig, CredentialProvider, Credentials, StaticCredentialProvider,
};
use maxcompute_tunnel::codec::RecordEncoder;
use maxcompute_tunnel::{
    ClientConfig, Compression, Error, RetryConfig, TableSchema, TransportKind, TunnelClient,
    UploadOptions, Value,
};

pub const PROJECT: &str = DEFAULT_PROJECT;
pub const ACCOUNT_ID: &str = "1234567890";
pub const ROLE_NAME: &str = "sink-role";

/// Four attempts with waits of 5..40 ms: retries are exercised without slowing the tests.
pub const MAX_ATTEMPTS: u32 = 4;

pub fn retry() -> RetryConfig {
    RetryConfig {
        base: Duration::from_millis(10),
        cap: Duration::from_millis(40),
        max_attempts: MAX_ATTEMPTS,
    }
}

pub struct Env {
    pub handle: EmulatorHandle,
    _dir: tempfile::TempDir,
}

impl Env {
    /// An emulator whose STS knows [`ROLE_NAME`], with the tables of `ddl` created.
    pub async fn start(ddl: &[&str]) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let mut config = EmulatorConfig::new(dir.path());
        config.sts.role_arns = vec![role_arn(ACCOUNT_ID, ROLE_NAME)];
        let handle = start(config).await.unwrap();
        for sql in ddl {
            handle.catalog().create_table_ddl(PROJECT, sql).unwrap();
        }
        Env { handle, _dir: dir }
    }

    /// The default AccessKey, no tunnel endpoint configured (so it is discovered), short retries.
    pub fn config(&self) -> ClientConfig {
        self.config_with(Arc::new(StaticCredentialProvider::new(Credentials::new(
            DEFAULT_ACCESS_ID,
            DEFAULT_ACCESS_KEY,
        ))))
    }

    pub fn config_with(&self, credentials: Arc<dyn CredentialProvider>) -> ClientConfig {
        ClientConfig::new(self.handle.api_endpoint(), PROJECT, credentials).with_retry(retry())
    }

    pub fn client(&self) -> TunnelClient {
        TunnelClient::new(self.config()).unwrap()
    }

    /// AssumeRole of [`ROLE_NAME`] with the default AccessKey at the emulator's STS.
    pub fn assume_role(&self) -> AssumeRoleConfig {
        AssumeRoleConfig::new(
            Credentials::new(DEFAULT_ACCESS_ID, DEFAULT_ACCESS_KEY),
            ACCOUNT_ID,
            ROLE_NAME,
        )
        .with_endpoint(self.handle.sts_endpoint())
    }

    /// The committed rows of `table` (partition `partition`, e.g. `pt=a`), as the catalog reads
    /// them from disk.
    pub fn rows(&self, table: &str, partition: Option<&str>) -> Vec<Vec<Value>> {
        let catalog = self.handle.catalog();
        let spec = catalog
            .resolve_partition(PROJECT, table, partition)
            .unwrap();
        catalog.rows(PROJECT, table, &spec).unwrap()
    }

    pub fn partition_exists(&self, table: &str, partition: &str) -> bool {
        let catalog = self.handle.catalog();
        let spec = catalog
            .resolve_partition(PROJECT, table, Some(partition))
            .unwrap();
        catalog.partition(PROJECT, table, &spec).unwrap().is_some()
    }

    pub fn pending_faults(&self) -> Vec<PendingFault> {
        self.handle.faults().pending()
    }
}

/// A complete record stream (footer included) of `rows`.
pub fn encode(schema: &Arc<TableSchema>, rows: &[Vec<Value>]) -> Bytes {
    let mut encoder = RecordEncoder::new(Arc::clone(schema));
    for row in rows {
        encoder.append(row).unwrap();
    }
    Bytes::from(encoder.finish())
}

/// One batch upload of `rows` into `table`: a session with `options`, block 0 (deflate), then
/// the commit of block 0.
pub async fn upload_and_commit(
    client: &TunnelClient,
    table: &str,
    options: &UploadOptions,
    rows: &[Vec<Value>],
) {
    let mut session = client
        .create_upload_session(table, options, None)
        .await
        .unwrap();
    session
        .upload_block(
            0,
            encode(session.schema(), rows),
            Compression::Deflate,
            None,
        )
        .await
        .unwrap();
    session.commit(&[0], None).await.unwrap();
}

/// The `events` table of the function: `(topic STRING, offset BIGINT)` partitioned by `pt`.
pub const EVENTS_DDL: &str =
    "CREATE TABLE events (topic STRING, `offset` BIGINT) PARTITIONED BY (pt STRING);";
/// The same without partitions.
pub const FLAT_DDL: &str = "CREATE TABLE flat (topic STRING, `offset` BIGINT);";

/// Rows of `events`/`flat` with offsets `range`.
pub fn event_rows(topic: &str, range: std::ops::Range<i64>) -> Vec<Vec<Value>> {
    range
        .map(|o| vec![Value::from(topic), Value::Int(o)])
        .collect()
}

/// The service error inside `err` (looking through the retry wrappers), or a panic naming `err`.
#[track_caller]
pub fn service_error(err: &Error) -> &maxcompute_tunnel::ServiceError {
    match err {
        Error::Service { error, .. } => error,
        other => panic!("expected a service error, got {other:?}"),
    }
}

/// Asserts a transport error of `kind`.
#[track_caller]
pub fn assert_transport(err: &Error, kind: TransportKind) {
    match err {
        Error::Transport { kind: got, .. } => assert_eq!(*got, kind, "{err}"),
        other => panic!("expected a transport error ({kind:?}), got {other:?}"),
    }
}
