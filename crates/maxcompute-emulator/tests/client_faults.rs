//! Every fault the emulator can inject, against the `maxcompute_tunnel` client over HTTP: each
//! ends as a successful retry (and the emulator consumed the fault, i.e. saw the extra attempt)
//! or as the right typed error, and data lands exactly once, or (stream write whose response is
//! lost) at least once.
//!
//! A test runs one operation per fault kind on a fresh emulator: reading table metadata,
//! creating a batch and a stream session, uploading a block, committing, writing a stream pack,
//! and AssumeRole (the STS credential provider, exercised through a metadata read).

mod client_support;

use std::error::Error as _;
use std::sync::Arc;
use std::time::Duration;

use client_support::{
    assert_transport, encode, event_rows, Env, EVENTS_DDL, MAX_ATTEMPTS, PROJECT,
};
use maxcompute_emulator::faults::PendingFault;
use maxcompute_emulator::{FaultAction, FaultKind};
use maxcompute_tunnel::auth::{StsClient, StsCredentialProvider, StsError};
use maxcompute_tunnel::{
    Compression, Error, SessionStatus, StreamOptions, StreamSession, TransportKind, TunnelClient,
    UploadOptions, UploadSession, Value,
};
use tokio::time::Instant;

const PARTITION: &str = "pt=f";

/// One operation, hit by the fault kind of the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    TableMetadata,
    CreateUpload,
    CreateStream,
    BlockUpload,
    Commit,
    StreamWrite,
    AssumeRole,
}

const ALL: [Target; 7] = [
    Target::TableMetadata,
    Target::CreateUpload,
    Target::CreateStream,
    Target::BlockUpload,
    Target::Commit,
    Target::StreamWrite,
    Target::AssumeRole,
];

impl Target {
    fn kind(self) -> FaultKind {
        match self {
            Target::TableMetadata => FaultKind::TableMetadata,
            Target::CreateUpload | Target::CreateStream => FaultKind::CreateSession,
            Target::BlockUpload => FaultKind::BlockUpload,
            Target::Commit => FaultKind::Commit,
            Target::StreamWrite => FaultKind::StreamWrite,
            Target::AssumeRole => FaultKind::AssumeRole,
        }
    }
}

struct Fixture {
    target: Target,
    env: Env,
    client: TunnelClient,
    upload: Option<UploadSession>,
    stream: Option<StreamSession>,
    rows: Vec<Vec<Value>>,
}

fn upload_options() -> UploadOptions {
    UploadOptions {
        partition: Some(PARTITION.parse().unwrap()),
        create_partition: true,
        overwrite: false,
    }
}

fn stream_options() -> StreamOptions {
    StreamOptions {
        partition: Some(PARTITION.parse().unwrap()),
        create_partition: true,
        slot_num: Some(2),
    }
}

impl Fixture {
    /// A fresh emulator and everything `target` needs before the faulty request (a session, a
    /// block), set up while no fault is queued.
    async fn new(target: Target) -> Fixture {
        let env = Env::start(&[EVENTS_DDL]).await;
        let client = if target == Target::AssumeRole {
            let sts = StsClient::new(env.assume_role()).unwrap();
            TunnelClient::new(env.config_with(Arc::new(StsCredentialProvider::new(sts)))).unwrap()
        } else {
            let client = env.client();
            client.tunnel_endpoint(None).await.unwrap();
            client
        };
        let mut fixture = Fixture {
            target,
            env,
            client,
            upload: None,
            stream: None,
            rows: event_rows("faulty", 0..3),
        };
        match target {
            Target::BlockUpload | Target::Commit => {
                let session = fixture
                    .client
                    .create_upload_session("events", &upload_options(), None)
                    .await
                    .unwrap();
                if target == Target::Commit {
                    session
                        .upload_block(
                            0,
                            fixture.body(session.schema()),
                            Compression::Deflate,
                            None,
                        )
                        .await
                        .unwrap();
                }
                fixture.upload = Some(session);
            }
            Target::StreamWrite => {
                fixture.stream = Some(
                    fixture
                        .client
                        .create_stream_session("events", &stream_options(), None)
                        .await
                        .unwrap(),
                );
            }
            _ => {}
        }
        assert!(fixture.env.pending_faults().is_empty());
        fixture
    }

    fn body(&self, schema: &Arc<maxcompute_tunnel::TableSchema>) -> bytes::Bytes {
        encode(schema, &self.rows)
    }

    fn inject(&self, action: FaultAction, times: u32) {
        self.env
            .handle
            .faults()
            .inject(self.target.kind(), action, times)
            .unwrap();
    }

    fn fail(&self, status: u16, code: &str, times: u32) {
        self.inject(
            FaultAction::Fail {
                status,
                code: code.to_owned(),
                message: format!("injected {code}"),
            },
            times,
        );
    }

    /// The operation under test.
    async fn run(&mut self, deadline: Option<Instant>) -> Result<(), Error> {
        match self.target {
            Target::TableMetadata | Target::AssumeRole => {
                let schema = self.client.table_schema("events", deadline).await?;
                assert_eq!(schema.columns.len(), 2);
            }
            Target::CreateUpload => {
                let session = self
                    .client
                    .create_upload_session("events", &upload_options(), deadline)
                    .await?;
                assert_eq!(session.info().status, SessionStatus::Normal);
            }
            Target::CreateStream => {
                let session = self
                    .client
                    .create_stream_session("events", &stream_options(), deadline)
                    .await?;
                assert_eq!(session.info().slots.len(), 2);
            }
            Target::BlockUpload => {
                let session = self.upload.as_ref().unwrap();
                let body = self.body(session.schema());
                session
                    .upload_block(0, body, Compression::Deflate, deadline)
                    .await?;
            }
            Target::Commit => {
                let info = self.upload.as_mut().unwrap().commit(&[0], deadline).await?;
                assert_eq!(info.status, SessionStatus::Closed);
                assert_eq!(info.uploaded_blocks, vec![0]);
            }
            Target::StreamWrite => {
                let session = self.stream.as_ref().unwrap();
                let body = self.body(&session.schema());
                session
                    .write_pack(body, Compression::Deflate, Some(3), deadline)
                    .await?;
            }
        }
        Ok(())
    }

    fn committed_rows(&self) -> Vec<Vec<Value>> {
        if self.env.partition_exists("events", PARTITION) {
            self.env.rows("events", Some(PARTITION))
        } else {
            Vec::new()
        }
    }

    /// After a successful run: the operation's effect is there, exactly once.
    async fn assert_applied_once(&mut self) {
        match self.target {
            Target::CreateUpload | Target::CreateStream => {
                assert!(self.env.partition_exists("events", PARTITION));
                assert_eq!(self.committed_rows(), Vec::<Vec<Value>>::new());
            }
            Target::BlockUpload => {
                let session = self.upload.as_mut().unwrap();
                assert_eq!(session.reload(None).await.unwrap().uploaded_blocks, vec![0]);
                session.commit(&[0], None).await.unwrap();
                assert_eq!(self.committed_rows(), self.rows);
            }
            Target::Commit | Target::StreamWrite => {
                assert_eq!(self.committed_rows(), self.rows);
            }
            Target::TableMetadata | Target::AssumeRole => {}
        }
    }

    /// After a final error: nothing changed.
    async fn assert_untouched(&mut self) {
        match self.target {
            Target::CreateUpload | Target::CreateStream => {
                assert!(!self.env.partition_exists("events", PARTITION));
            }
            Target::BlockUpload | Target::Commit => {
                let session = self.upload.as_mut().unwrap();
                let info = session.reload(None).await.unwrap();
                assert_eq!(info.status, SessionStatus::Normal);
                let blocks: Vec<u32> = if self.target == Target::Commit {
                    vec![0]
                } else {
                    vec![]
                };
                assert_eq!(info.uploaded_blocks, blocks);
                assert_eq!(self.committed_rows(), Vec::<Vec<Value>>::new());
            }
            Target::StreamWrite => {
                assert_eq!(self.committed_rows(), Vec::<Vec<Value>>::new());
            }
            Target::TableMetadata | Target::AssumeRole => {}
        }
    }

    fn pending(&self) -> Vec<PendingFault> {
        self.env.pending_faults()
    }
}

/// `(status, Code, Message, RequestId)` of a refusal: the service's answer, or for AssumeRole
/// STS's answer carried inside the credential error.
fn refusal(err: &Error) -> (u16, String, String, Option<String>) {
    match err {
        Error::Service { error, .. } => (
            error.status.as_u16(),
            error.code.clone().unwrap_or_default(),
            error.message.clone(),
            error.request_id.clone(),
        ),
        Error::Credential(e) => {
            let sts = e
                .source()
                .and_then(|s| s.downcast_ref::<StsError>())
                .unwrap_or_else(|| panic!("credential error without STS cause: {err:?}"));
            match sts {
                StsError::Refused {
                    status,
                    code,
                    message,
                    request_id,
                    ..
                } => (*status, code.clone(), message.clone(), request_id.clone()),
                other => panic!("expected an STS refusal, got {other:?}"),
            }
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn server_errors_500_and_503_are_retried_to_success() {
    for target in ALL {
        let mut f = Fixture::new(target).await;
        f.fail(500, "InternalServerError", 1);
        f.fail(503, "ServiceUnavailable", 1);
        f.run(None)
            .await
            .unwrap_or_else(|e| panic!("{target:?}: {e}"));
        // Both faults consumed: the emulator saw two failed attempts and a third that worked.
        assert_eq!(f.pending(), vec![], "{target:?}");
        if target == Target::AssumeRole {
            assert_eq!(f.env.handle.sts().assume_role_calls(), 3);
            assert_eq!(f.env.handle.sts().credentials_issued(), 1);
        }
        f.assert_applied_once().await;
    }
}

#[tokio::test]
async fn flow_exceeded_429_is_retried_to_success() {
    for target in ALL {
        let mut f = Fixture::new(target).await;
        f.fail(429, "FlowExceeded", 2);
        f.run(None)
            .await
            .unwrap_or_else(|e| panic!("{target:?}: {e}"));
        assert_eq!(f.pending(), vec![], "{target:?}");
        if target == Target::AssumeRole {
            assert_eq!(f.env.handle.sts().assume_role_calls(), 3);
        }
        f.assert_applied_once().await;
    }
}

#[tokio::test]
async fn client_errors_are_final_typed_errors_without_retry() {
    for (status, code) in [(400, "InvalidArgument"), (404, "NoSuchObject")] {
        for target in ALL {
            let mut f = Fixture::new(target).await;
            // Queued twice: a retry would consume the second one.
            f.fail(status, code, 2);
            let err = f.run(None).await.unwrap_err();
            let (got_status, got_code, message, request_id) = refusal(&err);
            assert_eq!(
                (got_status, got_code.as_str(), message.as_str()),
                (status, code, format!("injected {code}").as_str()),
                "{target:?}: {err}"
            );
            assert!(
                request_id.as_deref().is_some_and(|id| !id.is_empty()),
                "{target:?}: {err:?}"
            );
            assert!(!err.is_retryable(), "{target:?}");
            assert_eq!(
                f.pending(),
                vec![PendingFault {
                    kind: target.kind(),
                    action: FaultAction::Fail {
                        status,
                        code: code.to_owned(),
                        message: format!("injected {code}"),
                    },
                    remaining: 1,
                }],
                "{target:?}: exactly one attempt"
            );
            if target == Target::AssumeRole {
                assert_eq!(f.env.handle.sts().assume_role_calls(), 1);
            } else {
                assert_eq!(err.status().map(|s| s.as_u16()), Some(status));
                assert_eq!(err.code(), Some(code));
            }
            f.assert_untouched().await;
        }
    }
}

#[tokio::test]
async fn delay_past_the_deadline_is_the_deadline_error() {
    for target in ALL {
        if target == Target::AssumeRole {
            continue; // see assume_role_delays_are_retried_and_bounded_by_the_deadline
        }
        let mut f = Fixture::new(target).await;
        f.inject(FaultAction::Delay(Duration::from_secs(3)), 1);
        let deadline = Instant::now() + Duration::from_millis(300);
        let err = f.run(Some(deadline)).await.unwrap_err();
        match &err {
            Error::DeadlineExceeded { attempts, last, .. } => {
                assert_eq!(*attempts, 1, "{target:?}: {err}");
                assert_transport(last, TransportKind::Timeout);
            }
            other => panic!("{target:?}: expected DeadlineExceeded, got {other:?}"),
        }
        assert!(f.pending().is_empty(), "{target:?}: the delay was consumed");
        // What the delayed request does after the client gave up is deliberately not asserted:
        // it is the ambiguity a deadline leaves (the caller must re-check, as with a lost
        // response).
    }
}

#[tokio::test]
async fn assume_role_delays_are_retried_and_bounded_by_the_deadline() {
    // The STS client has its own timeout (AssumeRole runs outside the tunnel call's deadline):
    // a stalled AssumeRole times out, which is transient, and the tunnel call's retry asks again.
    let env = Env::start(&[EVENTS_DDL]).await;
    let sts = StsClient::new(env.assume_role().with_timeout(Duration::from_millis(200))).unwrap();
    let client =
        TunnelClient::new(env.config_with(Arc::new(StsCredentialProvider::new(sts)))).unwrap();
    env.handle
        .faults()
        .inject(
            FaultKind::AssumeRole,
            FaultAction::Delay(Duration::from_secs(3)),
            1,
        )
        .unwrap();
    let schema = client.table_schema("events", None).await.unwrap();
    assert_eq!(schema.columns.len(), 2);
    assert!(env.pending_faults().is_empty());
    assert_eq!(env.handle.sts().assume_role_calls(), 2);

    // Stalled past the tunnel call's deadline (and far shorter than the STS client's timeout),
    // the call stops at its deadline with the deadline error: the credential fetch is bounded
    // by the deadline too. (Before that fix the call waited out the 3 s delay and succeeded.)
    let env = Env::start(&[EVENTS_DDL]).await;
    let sts = StsClient::new(env.assume_role().with_timeout(Duration::from_secs(30))).unwrap();
    let client =
        TunnelClient::new(env.config_with(Arc::new(StsCredentialProvider::new(sts)))).unwrap();
    env.handle
        .faults()
        .inject(
            FaultKind::AssumeRole,
            FaultAction::Delay(Duration::from_secs(3)),
            MAX_ATTEMPTS,
        )
        .unwrap();
    let deadline = Instant::now() + Duration::from_millis(150);
    let err = client
        .table_schema("events", Some(deadline))
        .await
        .unwrap_err();
    match &err {
        Error::DeadlineExceeded { attempts, last, .. } => {
            assert_eq!(*attempts, 1, "{err}");
            let Error::Credential(e) = last.as_ref() else {
                panic!("expected a credential error, got {last:?}");
            };
            assert!(e.is_retryable());
            assert_eq!(
                e.to_string(),
                "cannot obtain credentials: no credentials before the call's deadline"
            );
        }
        other => panic!("expected DeadlineExceeded, got {other:?}"),
    }
}

#[tokio::test]
async fn dropped_connections_are_retried_as_connection_errors() {
    for target in ALL {
        let mut f = Fixture::new(target).await;
        f.inject(FaultAction::DropConnection, 2);
        f.run(None)
            .await
            .unwrap_or_else(|e| panic!("{target:?}: {e}"));
        assert_eq!(f.pending(), vec![], "{target:?}");
        if target == Target::AssumeRole {
            assert_eq!(f.env.handle.sts().assume_role_calls(), 3);
        }
        f.assert_applied_once().await;
    }
}

#[tokio::test]
async fn connections_dropped_every_time_exhaust_the_retries_with_the_connection_error() {
    for target in ALL {
        if target == Target::AssumeRole {
            continue;
        }
        let mut f = Fixture::new(target).await;
        f.inject(FaultAction::DropConnection, MAX_ATTEMPTS);
        let err = f.run(None).await.unwrap_err();
        match &err {
            Error::RetriesExhausted { attempts, last, .. } => {
                assert_eq!(*attempts, MAX_ATTEMPTS, "{target:?}");
                assert_transport(last, TransportKind::Io);
            }
            other => panic!("{target:?}: expected RetriesExhausted, got {other:?}"),
        }
        assert_eq!(f.pending(), vec![], "{target:?}");
        f.assert_untouched().await;
    }
}

#[tokio::test]
async fn commit_applied_then_dropped_is_reported_committed_and_lands_once() {
    let mut f = Fixture::new(Target::Commit).await;
    f.inject(FaultAction::ApplyThenDrop, 1);
    // First attempt: the emulator commits, then drops the connection. The retry gets 409
    // StatusConflict; the client reads the session, finds it CLOSED, and reports success.
    f.run(None).await.unwrap();
    assert_eq!(f.pending(), vec![]);
    assert_eq!(f.committed_rows(), f.rows);
    let session = f.upload.as_mut().unwrap();
    assert_eq!(session.info().status, SessionStatus::Closed);
    assert_eq!(
        session.reload(None).await.unwrap().status,
        SessionStatus::Closed
    );
    assert_eq!(f.committed_rows(), f.rows, "exactly once");
}

#[tokio::test]
async fn stream_write_applied_then_dropped_is_written_twice() {
    let mut f = Fixture::new(Target::StreamWrite).await;
    f.inject(FaultAction::ApplyThenDrop, 1);
    // At-least-once: the first PUT is appended (durable, visible), then its response is lost.
    // The client cannot tell a lost response from a lost request, so it re-sends the same bytes
    // (to the next slot), which the stream appends again: a stream write has no idempotency key
    // and no commit that could deduplicate. write_pack reports success and the pack's rows are
    // there twice. Consumers of stream tables must tolerate duplicates (e.g. dedupe on Kafka
    // topic/partition/offset).
    f.run(None).await.unwrap();
    assert_eq!(f.pending(), vec![]);
    let twice: Vec<Vec<Value>> = f.rows.iter().chain(f.rows.iter()).cloned().collect();
    assert_eq!(f.committed_rows(), twice);
    let stored = f.env.handle.catalog();
    let spec = stored
        .resolve_partition(PROJECT, "events", Some(PARTITION))
        .unwrap();
    assert_eq!(
        stored
            .partition(PROJECT, "events", &spec)
            .unwrap()
            .unwrap()
            .record_count,
        6
    );
}
