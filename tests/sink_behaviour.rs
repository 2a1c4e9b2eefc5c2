//! The function's delivery behaviour against the emulator: stream sessions reused across
//! invocations, tunnel failures failing the invocation with nothing committed and a clean
//! retry, several topic-partitions in one event, the error-policy order, start-up checks.

mod sink_support;

use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use maxcompute_emulator::{FaultAction, FaultKind};
use maxcompute_kafka_sink::error_topic::{ErrorSink, ErrorTopicError};
use maxcompute_kafka_sink::event::KafkaEvent;
use maxcompute_kafka_sink::failed::FailedRecord;
use maxcompute_kafka_sink::handler::handler;
use maxcompute_kafka_sink::sink::{ErrorPolicy, InvocationError, Sink, StartupError};
use maxcompute_tunnel::Value;
use sink_support::{event, int, invocation, s, Emulator};
use tokio::time::Instant;

const TEXT_DDL: &str = "CREATE TABLE t(topic STRING, `partition` BIGINT, `offset` BIGINT, key STRING, value STRING, insert_time BIGINT) PARTITIONED BY (pt STRING);";

fn offsets(emu: &Emulator, table: &str) -> Vec<i64> {
    emu.rows(table)
        .into_iter()
        .map(|(_, r)| match r[2] {
            Value::Int(o) => o,
            ref other => panic!("offset {other:?}"),
        })
        .collect()
}

fn refuse_session_creation(emu: &Emulator) {
    emu.handle
        .faults()
        .inject(
            FaultKind::CreateSession,
            FaultAction::Fail {
                status: 500,
                code: "InternalServerError".into(),
                message: "no new sessions".into(),
            },
            100,
        )
        .unwrap();
}

#[tokio::test]
async fn stream_mode_keeps_the_session_across_invocations() {
    let emu = Emulator::start().await;
    emu.create_table(TEXT_DDL);
    let config = emu.config(
        "t",
        &[("MC_USE_STREAMING", "true"), ("MC_RETRY_TIMES", "0")],
    );
    let sink = emu.sink(&config).await;
    let summary = handler(&sink, event("msk-text")).await.unwrap();
    assert_eq!(summary.rows_total(), 2);
    // From now on no session can be created: the second invocation must reuse the first's.
    refuse_session_creation(&emu);
    let summary = handler(&sink, event("msk-text")).await.unwrap();
    assert_eq!(summary.rows_total(), 2);
    let rows = emu.rows("t");
    assert_eq!(offsets(&emu, "t"), vec![0, 1, 0, 1]);
    assert_eq!(
        rows[0].1,
        vec![
            s("topic_text"),
            int(0),
            int(0),
            s("123"),
            s("abc"),
            int(1_689_253_980_000)
        ]
    );
    let partitions = emu.handle.catalog().partitions("emulator", "t").unwrap();
    assert_eq!(partitions.len(), 1);
}

#[tokio::test]
async fn batch_mode_opens_a_session_per_invocation() {
    let emu = Emulator::start().await;
    emu.create_table(TEXT_DDL);
    let config = emu.config("t", &[("MC_RETRY_TIMES", "0")]);
    let sink = emu.sink(&config).await;
    handler(&sink, event("msk-text")).await.unwrap();
    refuse_session_creation(&emu);
    let err = handler(&sink, event("msk-text")).await.unwrap_err();
    assert!(err.to_string().contains("no new sessions"), "{err}");
    assert_eq!(offsets(&emu, "t"), vec![0, 1]);
}

#[tokio::test]
async fn commit_failure_fails_the_invocation_and_the_retry_writes_once() {
    let emu = Emulator::start().await;
    emu.create_table(TEXT_DDL);
    let config = emu.config("t", &[("MC_RETRY_TIMES", "1")]);
    let sink = emu.sink(&config).await;
    emu.handle
        .faults()
        .inject(
            FaultKind::Commit,
            FaultAction::Fail {
                status: 500,
                code: "InternalServerError".into(),
                message: "injected".into(),
            },
            2,
        )
        .unwrap();
    let err = handler(&sink, event("msk-text")).await.unwrap_err();
    assert!(matches!(err, InvocationError::Tunnel { .. }), "{err}");
    assert!(err.to_string().contains("of table t"), "{err}");
    assert!(
        emu.rows("t").is_empty(),
        "a failed commit must leave nothing visible"
    );

    // The trigger retries the same batch: it lands exactly once.
    handler(&sink, event("msk-text")).await.unwrap();
    assert_eq!(offsets(&emu, "t"), vec![0, 1]);
}

#[tokio::test]
async fn stream_write_failure_fails_the_invocation_and_the_retry_succeeds() {
    let emu = Emulator::start().await;
    emu.create_table(TEXT_DDL);
    let config = emu.config(
        "t",
        &[("MC_USE_STREAMING", "true"), ("MC_RETRY_TIMES", "0")],
    );
    let sink = emu.sink(&config).await;
    emu.handle
        .faults()
        .inject(
            FaultKind::StreamWrite,
            FaultAction::Fail {
                status: 500,
                code: "InternalServerError".into(),
                message: "injected".into(),
            },
            1,
        )
        .unwrap();
    let err = handler(&sink, event("msk-text")).await.unwrap_err();
    assert!(matches!(err, InvocationError::Tunnel { .. }), "{err}");
    handler(&sink, event("msk-text")).await.unwrap();
    assert_eq!(offsets(&emu, "t"), vec![0, 1]);
}

const MULTI: &str = r#"{"eventSource":"SelfManagedKafka","bootstrapServers":"k:9092","records":{
  "orders-eu-1":[
    {"topic":"orders-eu","partition":1,"offset":7,"timestamp":1764000001000,"timestampType":"LOG_APPEND_TIME","key":null,"value":"dGhpcmQ=","headers":[{"h":[-61,-85]}]},
    {"topic":"orders-eu","partition":1,"offset":8,"timestamp":1764000001001,"timestampType":"LOG_APPEND_TIME","value":"Zm91cnRo"}],
  "orders-eu-0":[
    {"topic":"orders-eu","partition":0,"offset":15,"timestamp":1764000000000,"timestampType":"CREATE_TIME","key":"b3JkZXItMQ==","value":"Zmlyc3Q=","headers":[]},
    {"topic":"orders-eu","partition":0,"offset":16,"timestamp":1764000000500,"timestampType":"CREATE_TIME","key":"b3JkZXItMg==","value":"c2Vjb25k"}]}}"#;

#[tokio::test]
async fn several_topic_partitions_keep_their_order_and_coordinates() {
    let emu = Emulator::start().await;
    emu.create_table(TEXT_DDL);
    let config = emu.config("t", &[]);
    let sink = emu.sink(&config).await;
    let payload: KafkaEvent = serde_json::from_str(MULTI).unwrap();
    handler(&sink, invocation(payload)).await.unwrap();
    let rows: Vec<Vec<Value>> = emu.rows("t").into_iter().map(|(_, r)| r).collect();
    assert_eq!(
        rows,
        vec![
            vec![
                s("orders-eu"),
                int(1),
                int(7),
                Value::Null,
                s("third"),
                int(1_764_000_001_000)
            ],
            vec![
                s("orders-eu"),
                int(1),
                int(8),
                Value::Null,
                s("fourth"),
                int(1_764_000_001_001)
            ],
            vec![
                s("orders-eu"),
                int(0),
                int(15),
                s("order-1"),
                s("first"),
                int(1_764_000_000_000)
            ],
            vec![
                s("orders-eu"),
                int(0),
                int(16),
                s("order-2"),
                s("second"),
                int(1_764_000_000_500)
            ],
        ]
    );
}

#[tokio::test]
async fn invalid_base64_is_one_records_error() {
    let emu = Emulator::start().await;
    emu.create_table(TEXT_DDL);
    let config = emu.config("t", &[("MC_SKIP_ERROR", "true")]);
    let sink = emu.sink(&config).await;
    let bad = MULTI.replace("Zm91cnRo", "not*base64");
    let summary = handler(&sink, invocation(serde_json::from_str(&bad).unwrap()))
        .await
        .unwrap();
    assert_eq!((summary.rows_total(), summary.skipped), (3, 1));
    assert_eq!(offsets(&emu, "t"), vec![7, 15, 16]);
}

/// Stands in for the error-topic producer at the `ErrorSink` seam: it records what it is
/// given, or refuses, so the policy order can be checked without a broker.
#[derive(Debug, Default)]
struct RecordingErrorSink {
    seen: Mutex<Vec<(i64, String)>>,
    refuse: bool,
}

impl ErrorSink for RecordingErrorSink {
    fn publish<'a>(
        &'a self,
        records: &'a [FailedRecord<'a>],
        _deadline: Option<Instant>,
    ) -> BoxFuture<'a, Result<(), ErrorTopicError>> {
        Box::pin(async move {
            if self.refuse {
                return Err(ErrorTopicError::Unavailable {
                    topic: "runtime_error".into(),
                    reason: "broker down".into(),
                });
            }
            let mut seen = self.seen.lock().unwrap();
            seen.extend(
                records
                    .iter()
                    .map(|f| (f.record.offset, f.kind().to_string())),
            );
            Ok(())
        })
    }
}

const FLATTEN_DDL: &str = "CREATE TABLE f(topic STRING, `partition` BIGINT, `offset` BIGINT, id BIGINT, name STRING, extendinfo JSON) PARTITIONED BY (pt STRING);";

#[tokio::test]
async fn error_topic_wins_over_skip_error_false() {
    let emu = Emulator::start().await;
    emu.create_table(FLATTEN_DDL);
    let config = emu.config(
        "f",
        &[
            ("MC_FORMAT", "FLATTEN"),
            ("MC_MODE", "VALUE"),
            ("MC_SKIP_ERROR", "false"),
            ("MC_RUNTIME_ERROR_TOPIC_NAME", "runtime_error"),
            ("MC_RUNTIME_ERROR_TOPIC_BOOTSTRAP_SERVERS", "127.0.0.1:9"),
        ],
    );
    let recorder = Arc::new(RecordingErrorSink::default());
    let errors = ErrorPolicy::Republish(recorder.clone());
    let sink = emu.sink_with(&config, errors).await;
    let summary = handler(&sink, event("msk-abnormal")).await.unwrap();
    assert_eq!(
        (summary.republished, summary.skipped, summary.rows_total()),
        (1, 0, 2)
    );
    assert_eq!(
        *recorder.seen.lock().unwrap(),
        vec![(3, "FlattenUnknownKey".to_string())]
    );
    assert_eq!(offsets(&emu, "f"), vec![2, 4]);
}

#[tokio::test]
async fn error_topic_failure_fails_the_invocation_before_writing() {
    let emu = Emulator::start().await;
    emu.create_table(FLATTEN_DDL);
    let config = emu.config(
        "f",
        &[
            ("MC_FORMAT", "FLATTEN"),
            ("MC_MODE", "VALUE"),
            ("MC_RUNTIME_ERROR_TOPIC_NAME", "runtime_error"),
            ("MC_RUNTIME_ERROR_TOPIC_BOOTSTRAP_SERVERS", "127.0.0.1:9"),
        ],
    );
    let recorder = Arc::new(RecordingErrorSink {
        refuse: true,
        ..Default::default()
    });
    let sink = emu
        .sink_with(&config, ErrorPolicy::Republish(recorder))
        .await;
    let err = handler(&sink, event("msk-abnormal")).await.unwrap_err();
    assert_eq!(err.to_string(), "error topic `runtime_error`: broker down");
    assert!(emu.rows("f").is_empty());
}

async fn startup_error(emu: &Emulator, table: &str, extra: &[(&str, &str)]) -> String {
    let config = emu.config(table, extra);
    let provider =
        maxcompute_kafka_sink::credentials::provider(&config.credentials, |_| None).unwrap();
    let errors = ErrorPolicy::from_config(&config, "tests").unwrap();
    Sink::build(&config, provider, errors)
        .await
        .unwrap_err()
        .to_string()
}

#[tokio::test]
async fn startup_checks_the_table() {
    let emu = Emulator::start().await;
    emu.create_table(TEXT_DDL);
    let msg = startup_error(&emu, "missing", &[]).await;
    assert!(
        msg.starts_with("cannot read the schema of table missing in project emulator"),
        "{msg}"
    );
    let msg = startup_error(&emu, "t", &[("MC_FORMAT", "BINARY")]).await;
    assert_eq!(msg, "table `t` does not fit format=BINARY mode=DEFAULT: column `key` is STRING, expected BINARY; change `key` to BINARY");
    let err = {
        let config = emu.config("t", &[("MC_ACCESS_KEY", "wrong-secret")]);
        let provider =
            maxcompute_kafka_sink::credentials::provider(&config.credentials, |_| None).unwrap();
        Sink::build(&config, provider, ErrorPolicy::Fail)
            .await
            .unwrap_err()
    };
    assert!(matches!(err, StartupError::Schema { .. }), "{err}");
    assert!(!err.to_string().contains("wrong-secret"), "{err}");
}

#[tokio::test]
async fn binary_default_mode_writes_bytes_and_null_keys() {
    let emu = Emulator::start().await;
    emu.create_table(
        "CREATE TABLE b(topic STRING, `partition` BIGINT, `offset` BIGINT, key BINARY, value BINARY) PARTITIONED BY (pt STRING);",
    );
    let config = emu.config("b", &[("MC_FORMAT", "BINARY")]);
    let sink = emu.sink(&config).await;
    // Value bytes 00 ff 80 7f; the second record has a null key and no value at all.
    let json = r#"{"eventSource":"aws:kafka","records":{"bin-0":[
        {"topic":"bin","partition":0,"offset":0,"timestamp":1,"key":"aw==","value":"AP+Afw=="},
        {"topic":"bin","partition":0,"offset":1,"timestamp":2,"key":null}]}}"#;
    handler(&sink, invocation(serde_json::from_str(json).unwrap()))
        .await
        .unwrap();
    let rows: Vec<Vec<Value>> = emu.rows("b").into_iter().map(|(_, r)| r).collect();
    assert_eq!(
        rows,
        vec![
            vec![
                s("bin"),
                int(0),
                int(0),
                Value::Binary(b"k".to_vec()),
                Value::Binary(vec![0x00, 0xff, 0x80, 0x7f])
            ],
            vec![s("bin"), int(0), int(1), Value::Null, Value::Null],
        ]
    );
}

#[tokio::test]
async fn retries_stop_at_the_invocation_deadline() {
    let emu = Emulator::start().await;
    emu.create_table(TEXT_DDL);
    let config = emu.config("t", &[("MC_RETRY_TIMES", "100")]);
    let sink = emu.sink(&config).await;
    emu.handle
        .faults()
        .inject(
            FaultKind::Commit,
            FaultAction::Fail {
                status: 503,
                code: "ServiceUnavailable".into(),
                message: "injected".into(),
            },
            1000,
        )
        .unwrap();
    let mut invocation = event("msk-text");
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    invocation.context.deadline = now_ms + 3_000;
    let err = handler(&sink, invocation).await.unwrap_err();
    let InvocationError::Tunnel { source, .. } = &err else {
        panic!("unexpected error {err}");
    };
    assert!(
        matches!(**source, maxcompute_tunnel::Error::DeadlineExceeded { .. }),
        "{err}"
    );
    assert!(emu.rows("t").is_empty());
}

#[tokio::test]
async fn record_time_spreads_one_batch_over_windows_of_a_custom_partition_column() {
    let emu = Emulator::start().await;
    emu.create_table(
        "CREATE TABLE d(topic STRING, `partition` BIGINT, `offset` BIGINT, value STRING) PARTITIONED BY (ds STRING);",
    );
    let config = emu.config(
        "d",
        &[
            ("MC_MODE", "VALUE"),
            ("MC_PARTITION_COLUMN", "ds"),
            ("MC_PARTITION_TIME_SOURCE", "record"),
            ("MC_USE_NEW_PARTITION_FORMAT", "true"),
        ],
    );
    let sink = emu.sink(&config).await;
    // 2023-07-13 21:13:59.999 and 21:14:00.000 in Shanghai, then back in the first minute.
    let json = r#"{"eventSource":"aws:kafka","records":{"w-0":[
        {"topic":"w","partition":0,"offset":0,"timestamp":1689254039999,"value":"YQ=="},
        {"topic":"w","partition":0,"offset":1,"timestamp":1689254040000,"value":"Yg=="},
        {"topic":"w","partition":0,"offset":2,"timestamp":1689254000000,"value":"Yw=="}]}}"#;
    let summary = handler(&sink, invocation(serde_json::from_str(json).unwrap()))
        .await
        .unwrap();
    let per_partition: Vec<(&str, u64)> = summary
        .rows_written
        .iter()
        .map(|(k, v)| (k.as_str(), *v))
        .collect();
    assert_eq!(
        per_partition,
        vec![("2023-07-13 21:13", 2), ("2023-07-13 21:14", 1)]
    );
    let rows: Vec<(String, Value)> = emu
        .rows("d")
        .into_iter()
        .map(|(pt, r)| (pt, r[3].clone()))
        .collect();
    assert_eq!(
        rows,
        vec![
            ("2023-07-13 21:13".to_string(), s("a")),
            ("2023-07-13 21:13".to_string(), s("c")),
            ("2023-07-13 21:14".to_string(), s("b")),
        ]
    );
}
