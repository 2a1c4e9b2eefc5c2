//! The seed document's abnormal-data example end to end: the handler with the error-topic
//! producer against a real broker (Tansu) and the MaxCompute emulator in-process. Also the
//! order of error-topic delivery and MaxCompute commit: whichever fails, the invocation fails
//! and its retry loses nothing.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kafka_trigger::testing::{free_port, ReadRecord, Tansu};
use lambda_runtime::{Context, LambdaEvent};
use maxcompute_emulator::{start, EmulatorConfig, EmulatorHandle, FaultAction, FaultKind};
use maxcompute_kafka_sink::config::SinkConfig;
use maxcompute_kafka_sink::credentials;
use maxcompute_kafka_sink::error_topic::{
    CONNECTOR_NAME, EXCEPTION_CLASS, OFFSET, PARTITION, STAGE, TOPIC,
};
use maxcompute_kafka_sink::event::KafkaEvent;
use maxcompute_kafka_sink::handler::handler;
use maxcompute_kafka_sink::sink::{ErrorPolicy, InvocationError, Sink};
use maxcompute_tunnel::Value;

const PROJECT: &str = "emulator";
const TABLE: &str = "table_flatten";
const ERROR_TOPIC: &str = "runtime_error";
const CONNECTOR: &str = "odps-test-runtime-error";

/// The seed's table, verbatim.
const DDL: &str = "CREATE TABLE IF NOT EXISTS table_flatten(
  topic STRING,
  `partition` BIGINT,
  `offset` BIGINT,
  id BIGINT,
  name STRING,
  extendinfo JSON
) PARTITIONED BY (pt STRING);";

const EVENT: &str = include_str!("../events/msk-abnormal.json");

/// The seed's `odps-sink-connector.json`, with the endpoints, credentials and error-topic
/// servers of this test.
fn connector_document(emulator: &EmulatorHandle, error_servers: &str, retry_times: u32) -> String {
    serde_json::json!({
        "name": CONNECTOR,
        "config": {
            "connector.class": "com.aliyun.odps.kafka.connect.MaxComputeSinkConnector",
            "tasks.max": "3",
            "topics": "topic_abnormal",
            "endpoint": emulator.api_endpoint(),
            "tunnel_endpoint": emulator.tunnel_endpoint(),
            "project": PROJECT,
            "table": TABLE,
            "account_type": "ALIYUN",
            "access_id": maxcompute_emulator::config::DEFAULT_ACCESS_ID,
            "access_key": maxcompute_emulator::config::DEFAULT_ACCESS_KEY,
            "partition_window_type": "MINUTE",
            "mode": "VALUE",
            "format": "FLATTEN",
            "sink_pool_size": "150",
            "record_batch_size": "9000",
            "buffer_size_kb": "600000",
            "retry_times": retry_times.to_string(),
            "runtime.error.topic.name": ERROR_TOPIC,
            "runtime.error.topic.bootstrap.servers": error_servers,
            "skip_error": "false"
        }
    })
    .to_string()
}

struct Setup {
    emulator: EmulatorHandle,
    sink: Sink,
    _dir: tempfile::TempDir,
}

async fn setup(error_servers: &str, retry_times: u32) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let emulator = start(EmulatorConfig::new(dir.path())).await.unwrap();
    emulator.catalog().create_table_ddl(PROJECT, DDL).unwrap();
    let document = connector_document(&emulator, error_servers, retry_times);
    let config = SinkConfig::from_vars([("MC_SINK_CONFIG", document)]).unwrap();
    let provider = credentials::provider(&config.credentials, |_| None).unwrap();
    let errors = ErrorPolicy::from_config(&config, CONNECTOR).unwrap();
    assert!(matches!(errors, ErrorPolicy::Republish(_)));
    let sink = Sink::build(&config, provider, errors).await.unwrap();
    Setup {
        emulator,
        sink,
        _dir: dir,
    }
}

fn event_with_deadline(in_: Duration) -> LambdaEvent<KafkaEvent> {
    let event: KafkaEvent = serde_json::from_str(EVENT).unwrap();
    let mut context = Context::default();
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    context.deadline = now_ms + in_.as_millis() as u64;
    LambdaEvent::new(event, context)
}

/// Every committed row of the table, with the JSON column parsed so that key order does not
/// matter.
fn table_rows(emulator: &EmulatorHandle) -> Vec<(i64, i64, String, serde_json::Value)> {
    let catalog = emulator.catalog();
    let mut out = Vec::new();
    for partition in catalog.partitions(PROJECT, TABLE).unwrap() {
        for row in catalog.rows(PROJECT, TABLE, &partition.spec).unwrap() {
            match row.as_slice() {
                [Value::String(topic), Value::Int(0), Value::Int(offset), Value::Int(id), Value::String(name), Value::Json(info)] =>
                {
                    assert_eq!(topic, "flatten_test");
                    out.push((
                        *offset,
                        *id,
                        name.clone(),
                        serde_json::from_str(info).unwrap(),
                    ));
                }
                other => panic!("unexpected row {other:?}"),
            }
        }
    }
    out
}

fn expected_rows() -> Vec<(i64, i64, String, serde_json::Value)> {
    let info = serde_json::json!({"region": "beijing", "gender": "M"});
    vec![
        (2, 100, "json-3".into(), info.clone()),
        (4, 102, "json-5".into(), info),
    ]
}

/// Record 101 exactly as the trigger delivered it, plus the context headers.
fn assert_is_record_101(got: &ReadRecord) {
    assert_eq!(got.key.as_deref(), Some(&b"101"[..]));
    assert_eq!(
        got.value.as_deref(),
        Some(&br#"{"id":101,"name":"json-4","extendinfos":"null"}"#[..])
    );
    assert_eq!(got.timestamp, Some(1_689_253_981_000));
    assert_eq!(
        got.headers[0],
        ("producer".to_string(), Some(b"kafka-console".to_vec()))
    );
    assert_eq!(got.header_text(TOPIC), "flatten_test");
    assert_eq!(got.header_text(PARTITION), "0");
    assert_eq!(got.header_text(OFFSET), "3");
    assert_eq!(got.header_text(STAGE), "TASK_PUT");
    assert_eq!(got.header_text(EXCEPTION_CLASS), "FlattenUnknownKey");
    assert_eq!(got.header_text(CONNECTOR_NAME), CONNECTOR);
}

#[tokio::test]
async fn seed_abnormal_example_101_to_the_error_topic_100_and_102_to_the_table() {
    let broker = Tansu::start();
    broker.create_topic(ERROR_TOPIC, 1).await;
    let s = setup(&broker.bootstrap, 3).await;

    let summary = handler(&s.sink, event_with_deadline(Duration::from_secs(60)))
        .await
        .unwrap();
    assert_eq!(summary.records_in, 3);
    assert_eq!(summary.republished, 1);
    assert_eq!(summary.rows_total(), 2);

    assert_eq!(table_rows(&s.emulator), expected_rows());
    let errors = broker.read(ERROR_TOPIC, 1);
    assert_eq!(errors.len(), 1);
    assert_is_record_101(&errors[0]);
    s.emulator.shutdown().await;
}

#[tokio::test]
async fn error_topic_down_fails_the_invocation_before_anything_is_written() {
    // Nobody listens on this port: the error records cannot be acknowledged.
    let s = setup(&format!("127.0.0.1:{}", free_port()), 3).await;

    let err = handler(&s.sink, event_with_deadline(Duration::from_secs(5)))
        .await
        .unwrap_err();
    assert!(matches!(err, InvocationError::ErrorTopic(_)), "{err}");
    let text = err.to_string();
    assert!(
        text.contains(ERROR_TOPIC) && text.contains("not acknowledged"),
        "{text}"
    );
    assert!(text.contains("offset 3"), "{text}");
    assert!(table_rows(&s.emulator).is_empty());
    s.emulator.shutdown().await;
}

#[tokio::test]
async fn commit_failure_after_acknowledged_error_records_fails_and_the_retry_loses_nothing() {
    let broker = Tansu::start();
    broker.create_topic(ERROR_TOPIC, 1).await;
    let s = setup(&broker.bootstrap, 0).await;
    s.emulator
        .faults()
        .inject(
            FaultKind::Commit,
            FaultAction::Fail {
                status: 500,
                code: "InternalServerError".into(),
                message: "injected commit failure".into(),
            },
            1,
        )
        .unwrap();

    let err = handler(&s.sink, event_with_deadline(Duration::from_secs(60)))
        .await
        .unwrap_err();
    assert!(matches!(err, InvocationError::Tunnel { .. }), "{err}");
    assert!(table_rows(&s.emulator).is_empty());
    // Published before the commit was tried, so already on the topic.
    assert_eq!(broker.read(ERROR_TOPIC, 1).len(), 1);

    // The trigger retries the same batch.
    let summary = handler(&s.sink, event_with_deadline(Duration::from_secs(60)))
        .await
        .unwrap();
    assert_eq!(summary.republished, 1);
    assert_eq!(table_rows(&s.emulator), expected_rows());
    let errors = broker.read(ERROR_TOPIC, 2);
    assert_eq!(errors.len(), 2, "at-least-once: 101 once per attempt");
    errors.iter().for_each(assert_is_record_101);
    s.emulator.shutdown().await;
}
