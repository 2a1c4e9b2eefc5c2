//! Batch and stream requests of the `maxcompute_tunnel` client signed with temporary
//! credentials issued by the emulator's STS (AssumeRole over HTTP), and the typed errors for a
//! wrong, missing or expired security token.

mod client_support;

use std::sync::Arc;
use std::time::Duration;

use client_support::{encode, event_rows, upload_and_commit, Env, EVENTS_DDL};
use http::StatusCode;
use maxcompute_tunnel::auth::{
    Credentials, StaticCredentialProvider, StsClient, StsCredentialProvider,
};
use maxcompute_tunnel::{Compression, Error, StreamOptions, TunnelClient, UploadOptions};

#[tokio::test]
async fn sts_credentials_sign_rest_batch_and_stream_requests() {
    let env = Env::start(&[EVENTS_DDL]).await;
    let provider = Arc::new(StsCredentialProvider::new(
        StsClient::new(env.assume_role()).unwrap(),
    ));
    let client = TunnelClient::new(env.config_with(provider)).unwrap();

    let schema = client.table_schema("events", None).await.unwrap();
    assert_eq!(schema.columns.len(), 2);

    let options = UploadOptions {
        partition: Some("pt=sts".parse().unwrap()),
        create_partition: true,
        overwrite: false,
    };
    let batch = event_rows("batch", 0..4);
    upload_and_commit(&client, "events", &options, &batch).await;

    let stream = client
        .create_stream_session(
            "events",
            &StreamOptions {
                partition: Some("pt=sts".parse().unwrap()),
                create_partition: false,
                slot_num: Some(2),
            },
            None,
        )
        .await
        .unwrap();
    let packed = event_rows("stream", 10..13);
    stream
        .write_pack(
            encode(&stream.schema(), &packed),
            Compression::None,
            Some(3),
            None,
        )
        .await
        .unwrap();

    let expected: Vec<_> = batch.into_iter().chain(packed).collect();
    assert_eq!(env.rows("events", Some("pt=sts")), expected);
    // One AssumeRole served every request.
    assert_eq!(env.handle.sts().assume_role_calls(), 1);
    assert_eq!(env.handle.sts().credentials_issued(), 1);
}

/// A client signing with `credentials` as they are (no refresh).
fn static_client(env: &Env, credentials: Credentials) -> TunnelClient {
    TunnelClient::new(env.config_with(Arc::new(StaticCredentialProvider::new(credentials))))
        .unwrap()
}

#[track_caller]
fn assert_refused(err: &Error, status: StatusCode, code: &str) {
    // Not wrapped in RetriesExhausted / DeadlineExceeded: refused at the first attempt.
    let Error::Service { error, .. } = err else {
        panic!("expected a service error, got {err:?}");
    };
    assert_eq!(error.status, status, "{err}");
    assert_eq!(error.code.as_deref(), Some(code), "{err}");
    assert!(!error.message.is_empty());
    assert!(error.request_id.as_deref().is_some_and(|id| !id.is_empty()));
}

#[tokio::test]
async fn wrong_missing_and_expired_tokens_are_typed_errors() {
    let env = Env::start(&[EVENTS_DDL]).await;
    let issued = StsClient::new(env.assume_role())
        .unwrap()
        .assume_role()
        .await
        .unwrap()
        .credentials;
    let id = issued.access_id().to_owned();
    let secret = issued.access_key_secret().to_owned();
    let options = UploadOptions {
        partition: Some("pt=t".parse().unwrap()),
        create_partition: true,
        overwrite: false,
    };

    for (what, credentials) in [
        (
            "wrong token",
            Credentials::new(&id, &secret).with_security_token("not-the-token"),
        ),
        ("no token", Credentials::new(&id, &secret)),
    ] {
        let client = static_client(&env, credentials);
        let err = client.table_schema("events", None).await.unwrap_err();
        assert_refused(&err, StatusCode::UNAUTHORIZED, "Unauthorized");
        let err = client
            .create_upload_session("events", &options, None)
            .await
            .unwrap_err();
        assert_refused(&err, StatusCode::UNAUTHORIZED, "Unauthorized");
        let err = client
            .create_stream_session("events", &StreamOptions::default(), None)
            .await
            .unwrap_err();
        // The stream create of a partitioned table without a partition would be a 400; the
        // signature check comes first.
        assert_refused(&err, StatusCode::UNAUTHORIZED, "Unauthorized");
        assert!(!env.partition_exists("events", "pt=t"), "{what}");
    }

    // The right token works, for batch and stream.
    let client = static_client(&env, issued.clone());
    let mut session = client
        .create_upload_session("events", &options, None)
        .await
        .unwrap();
    let rows = event_rows("ok", 0..2);
    session
        .upload_block(0, encode(session.schema(), &rows), Compression::None, None)
        .await
        .unwrap();
    let stream = client
        .create_stream_session(
            "events",
            &StreamOptions {
                partition: Some("pt=t".parse().unwrap()),
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap();

    // Past its expiry (the emulator's STS clock moved two hours) the token is refused with
    // AuthenticationRequestExpired. The client invalidates its credentials and tries once
    // more; a static provider hands out the same token, so the typed error comes back.
    env.handle
        .sts()
        .advance_clock(Duration::from_secs(2 * 3600));
    let err = session.commit(&[0], None).await.unwrap_err();
    assert_refused(&err, StatusCode::FORBIDDEN, "AuthenticationRequestExpired");
    assert!(err.is_auth_expired());
    let err = stream
        .write_pack(
            encode(&stream.schema(), &rows),
            Compression::None,
            None,
            None,
        )
        .await
        .unwrap_err();
    assert_refused(&err, StatusCode::FORBIDDEN, "AuthenticationRequestExpired");
    assert_eq!(env.rows("events", Some("pt=t")), Vec::<Vec<_>>::new());
}
