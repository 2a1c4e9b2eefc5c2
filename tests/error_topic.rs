//! The error-topic producer against a real Kafka-protocol broker (Tansu on a random
//! 127.0.0.1 port): byte-exact republishing, the context headers, failures, and reuse of one
//! producer across invocations.

use std::time::Duration;

use kafka_trigger::testing::{free_port, ReadRecord, Tansu};
use maxcompute_kafka_sink::config::{ErrorTopicConfig, Secret};
use maxcompute_kafka_sink::convert::types::TypeError;
use maxcompute_kafka_sink::convert::{ConvertError, Reason};
use maxcompute_kafka_sink::error_topic::{
    ErrorTopicError, ErrorTopicProducer, CONNECTOR_NAME, EXCEPTION_CLASS, EXCEPTION_MESSAGE,
    OFFSET, PARTITION, STAGE, TOPIC,
};
use maxcompute_kafka_sink::event::{Header, KafkaRecord, Part};
use maxcompute_kafka_sink::failed::{FailedRecord, Failure, Stage};
use tokio::time::Instant;

const CONTEXT_HEADERS: usize = 7;

/// A record's key and value as read back.
type KeyValue = (Option<Vec<u8>>, Option<Vec<u8>>);

fn config(bootstrap: &str, topic: &str, props: &[(&str, &str)]) -> ErrorTopicConfig {
    ErrorTopicConfig {
        topic: topic.to_string(),
        bootstrap_servers: bootstrap.to_string(),
        producer_properties: props
            .iter()
            .map(|(k, v)| (k.to_string(), Secret::new(*v)))
            .collect(),
    }
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn record(
    offset: i64,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    headers: Vec<Header>,
) -> KafkaRecord {
    KafkaRecord {
        topic: "orders".into(),
        partition: 2,
        offset,
        timestamp: Some(1_764_000_000_000 + offset),
        timestamp_type: Some("CREATE_TIME".into()),
        key: key.map(b64),
        value: value.map(b64),
        headers,
    }
}

fn header(name: &str, value: &[u8]) -> Header {
    Header {
        name: name.into(),
        value: value.to_vec(),
    }
}

/// `record` as conversion reports it when it fails for `reason`.
fn failure(record: &KafkaRecord, reason: Reason) -> FailedRecord<'_> {
    let failure = Failure::Convert(ConvertError {
        id: record.id(),
        reason,
    });
    FailedRecord::new(record, failure)
}

fn column_type<'a>(record: &'a KafkaRecord, why: &str) -> FailedRecord<'a> {
    let error = TypeError(why.to_string());
    failure(
        record,
        Reason::Column {
            column: "amount".into(),
            error,
        },
    )
}

fn invalid_json(record: &KafkaRecord) -> FailedRecord<'_> {
    let detail = "expected value at line 1 column 1".to_string();
    let part = Part::Value;
    failure(record, Reason::InvalidJson { part, detail })
}

fn soon(secs: u64) -> Option<Instant> {
    Some(Instant::now() + Duration::from_secs(secs))
}

/// The record's own headers, without the context headers appended after them.
fn original_headers(read: &ReadRecord) -> Vec<(String, Option<Vec<u8>>)> {
    read.headers[..read.headers.len() - CONTEXT_HEADERS].to_vec()
}

#[tokio::test]
async fn republishes_bytes_headers_and_timestamp_exactly_with_context() {
    let broker = Tansu::start();
    broker.create_topic("errors", 1).await;
    let producer =
        ErrorTopicProducer::new(&config(&broker.bootstrap, "errors", &[]), "orders-to-mc").unwrap();

    let every_byte: Vec<u8> = (0..=255u8).collect();
    let key: Vec<u8> = vec![0x00, 0xff, 0x80, 0x7f, 0x0a];
    let rec = record(
        101,
        Some(key.as_slice()),
        Some(every_byte.as_slice()),
        vec![
            header("trace", &[0xc3, 0xab, 0xff, 0x80]),
            header("empty", b""),
            header("trace", b"second"),
        ],
    );
    let message = "cannot convert the record at topic \"orders\" partition 2 offset 101: FLATTEN key \"extendinfos\" has no column of that name in the table; add the column or remove the key from the message";
    let unknown = Reason::FlattenUnknownKey {
        key: "extendinfos".into(),
    };
    let records = [failure(&rec, unknown)];

    let report = producer.publish(&records, soon(30)).await.unwrap();
    assert_eq!(report.delivered.len(), 1);

    let read = broker.read("errors", 1);
    assert_eq!(read.len(), 1);
    let got = &read[0];
    assert_eq!(got.offset, report.delivered[0].offset);
    assert_eq!(got.key.as_deref(), Some(&key[..]));
    assert_eq!(got.value.as_deref(), Some(&every_byte[..]));
    assert_eq!(got.timestamp, Some(1_764_000_000_101));
    assert_eq!(
        original_headers(got),
        vec![
            ("trace".to_string(), Some(vec![0xc3, 0xab, 0xff, 0x80])),
            ("empty".to_string(), Some(vec![])),
            ("trace".to_string(), Some(b"second".to_vec())),
        ]
    );
    assert_eq!(got.header_text(TOPIC), "orders");
    assert_eq!(got.header_text(PARTITION), "2");
    assert_eq!(got.header_text(OFFSET), "101");
    assert_eq!(got.header_text(STAGE), "TASK_PUT");
    assert_eq!(got.header_text(EXCEPTION_CLASS), "FlattenUnknownKey");
    assert_eq!(got.header_text(EXCEPTION_MESSAGE), message);
    assert_eq!(got.header_text(CONNECTOR_NAME), "orders-to-mc");
}

#[tokio::test]
async fn null_key_and_null_value_stay_null() {
    let broker = Tansu::start();
    broker.create_topic("errors", 1).await;
    let producer =
        ErrorTopicProducer::new(&config(&broker.bootstrap, "errors", &[]), "fn").unwrap();

    let null_key = record(1, None, Some(&b"v"[..]), vec![]);
    let null_value = record(2, Some(&b"k"[..]), None, vec![]);
    let empty_not_null = record(3, Some(&b""[..]), Some(&b""[..]), vec![]);
    let null = |part| Reason::Null {
        part,
        format: "CSV",
    };
    let records = [
        failure(&null_key, null(Part::Key)),
        failure(&null_value, null(Part::Value)),
        failure(&empty_not_null, Reason::CsvEmpty),
    ];
    producer.publish(&records, soon(30)).await.unwrap();

    let read = broker.read("errors", 3);
    let parts: Vec<KeyValue> = read
        .iter()
        .map(|r| (r.key.clone(), r.value.clone()))
        .collect();
    assert_eq!(
        parts,
        vec![
            (None, Some(b"v".to_vec())),
            (Some(b"k".to_vec()), None),
            (Some(vec![]), Some(vec![])),
        ]
    );
    assert!(read.iter().all(|r| r.headers.len() == CONTEXT_HEADERS));
    let offsets: Vec<String> = read.iter().map(|r| r.header_text(OFFSET)).collect();
    assert_eq!(offsets, ["1", "2", "3"]);
}

#[tokio::test]
async fn undecodable_base64_goes_out_verbatim_as_a_converter_failure() {
    let broker = Tansu::start();
    broker.create_topic("errors", 1).await;
    let producer =
        ErrorTopicProducer::new(&config(&broker.bootstrap, "errors", &[]), "fn").unwrap();

    let mut rec = record(9, Some(&b"k"[..]), None, vec![]);
    rec.value = Some("not base64!".into());
    let broken = rec.value_bytes().unwrap_err();
    let records = [failure(&rec, Reason::Decode(broken))];
    assert_eq!(records[0].stage(), Stage::ValueConverter);
    producer.publish(&records, soon(30)).await.unwrap();

    let read = broker.read("errors", 1);
    assert_eq!(read[0].key.as_deref(), Some(&b"k"[..]));
    assert_eq!(read[0].value.as_deref(), Some(&b"not base64!"[..]));
    assert_eq!(read[0].header_text(STAGE), "VALUE_CONVERTER");
}

#[tokio::test]
async fn one_producer_serves_several_invocations() {
    let broker = Tansu::start();
    broker.create_topic("errors", 1).await;
    let producer =
        ErrorTopicProducer::new(&config(&broker.bootstrap, "errors", &[]), "fn").unwrap();

    let batches: Vec<Vec<KafkaRecord>> = (0..3)
        .map(|i| {
            (0..4)
                .map(|j| {
                    let n = i * 10 + j;
                    record(
                        n,
                        Some(format!("k{n}").as_bytes()),
                        Some(&[n as u8, 0xfe][..]),
                        vec![],
                    )
                })
                .collect()
        })
        .collect();
    let mut offsets = Vec::new();
    for batch in &batches {
        let records: Vec<FailedRecord<'_>> = batch.iter().map(|r| column_type(r, "bad")).collect();
        let report = producer.publish(&records, soon(30)).await.unwrap();
        assert_eq!(report.delivered.len(), 4);
        offsets.extend(report.delivered.iter().map(|d| d.offset));
    }
    assert_eq!(offsets, (0..12).collect::<Vec<i64>>());

    let read = broker.read("errors", 12);
    let sources: Vec<String> = read.iter().map(|r| r.header_text(OFFSET)).collect();
    let expected: Vec<String> = batches
        .iter()
        .flatten()
        .map(|r| r.offset.to_string())
        .collect();
    assert_eq!(sources, expected);
    let keys: Vec<Vec<u8>> = read.iter().map(|r| r.key.clone().unwrap()).collect();
    let expected_keys: Vec<Vec<u8>> = batches
        .iter()
        .flatten()
        .map(|r| format!("k{}", r.offset).into_bytes())
        .collect();
    assert_eq!(keys, expected_keys);
}

#[tokio::test]
async fn broker_down_fails_at_the_deadline_naming_what_is_missing() {
    let port = free_port();
    let producer =
        ErrorTopicProducer::new(&config(&format!("127.0.0.1:{port}"), "errors", &[]), "fn")
            .unwrap();
    let recs = [
        record(7, Some(&b"a"[..]), Some(&b"b"[..]), vec![]),
        record(8, None, Some(&b"c"[..]), vec![]),
    ];
    let records: Vec<FailedRecord<'_>> = recs.iter().map(invalid_json).collect();

    let err = producer.publish(&records, soon(2)).await.unwrap_err();
    match &err {
        ErrorTopicError::NotAcknowledged {
            topic,
            total,
            unacknowledged,
            first,
            cause,
        } => {
            assert_eq!(topic, "errors");
            assert_eq!((*total, *unacknowledged), (2, 2));
            assert_eq!(first, &recs[0].id());
            assert!(cause.contains("deadline"), "{cause}");
        }
        other => panic!("expected NotAcknowledged, got {other:?}"),
    }
    let text = err.to_string();
    assert!(
        text.contains("2 of 2 error record(s) not acknowledged"),
        "{text}"
    );
    assert!(text.contains("offset 7"), "{text}");
}

#[tokio::test]
async fn broker_down_without_deadline_fails_with_librdkafkas_timeout() {
    let port = free_port();
    let producer = ErrorTopicProducer::new(
        &config(
            &format!("127.0.0.1:{port}"),
            "errors",
            &[("message.timeout.ms", "1500")],
        ),
        "fn",
    )
    .unwrap();
    let rec = record(7, Some(&b"a"[..]), Some(&b"b"[..]), vec![]);
    let err = producer
        .publish(&[invalid_json(&rec)], None)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("1 of 1 error record(s) not acknowledged"),
        "{text}"
    );
    assert!(text.to_lowercase().contains("timed out"), "{text}");
}

#[tokio::test]
async fn the_retry_after_a_failed_invocation_delivers() {
    let port = free_port();
    let producer = ErrorTopicProducer::new(
        &config(
            &format!("127.0.0.1:{port}"),
            "errors",
            &[
                ("reconnect.backoff.max.ms", "200"),
                // The topic is created by the test with one partition; the producer must not
                // race it into existence with the broker's default partition count.
                ("allow.auto.create.topics", "false"),
            ],
        ),
        "fn",
    )
    .unwrap();
    let recs = [
        record(40, Some(&b"x"[..]), Some(&[0x80][..]), vec![]),
        record(41, Some(&b"y"[..]), Some(&[0x81][..]), vec![]),
    ];
    let records: Vec<FailedRecord<'_>> = recs.iter().map(|r| column_type(r, "bad")).collect();

    producer.publish(&records, soon(1)).await.unwrap_err();

    let broker = Tansu::start_on(port);
    broker.create_topic("errors", 1).await;
    let report = producer.publish(&records, soon(60)).await.unwrap();
    assert_eq!(report.delivered.len(), 2);

    // The first attempt's records may still have gone out once the broker was up: at least
    // once, never lost. Every record on the topic is one of ours, the retry's come last.
    let read = broker.read("errors", 2);
    let sources: Vec<String> = read.iter().map(|r| r.header_text(OFFSET)).collect();
    assert!(
        sources.iter().all(|s| s == "40" || s == "41"),
        "{sources:?}"
    );
    assert_eq!(sources[sources.len() - 2..], ["40", "41"]);
    let last = &read[read.len() - 2..];
    assert_eq!(last[0].offset, report.delivered[0].offset);
    assert_eq!(last[1].value.as_deref(), Some(&[0x81u8][..]));
}

#[test]
fn invalid_property_is_a_startup_error_naming_it() {
    let err = ErrorTopicProducer::new(
        &config("127.0.0.1:1", "errors", &[("linger.ms", "soon")]),
        "fn",
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("runtime.error.topic.producer.linger.ms:"),
        "{text}"
    );

    let err = ErrorTopicProducer::new(
        &config("127.0.0.1:1", "errors", &[("no.such.property", "1")]),
        "fn",
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("runtime.error.topic.producer.no.such.property"),
        "{err}"
    );

    let err = ErrorTopicProducer::new(&config("127.0.0.1:1", "errors", &[("acks", "0")]), "fn")
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("runtime.error.topic.producer.acks"),
        "{err}"
    );
}

#[test]
fn tls_and_sasl_settings_are_accepted_and_never_shown() {
    let password = "S3cr3t-Pa55word";
    let producer = ErrorTopicProducer::new(
        &config(
            "127.0.0.1:1",
            "errors",
            &[
                ("security.protocol", "SASL_SSL"),
                ("sasl.mechanism", "SCRAM-SHA-512"),
                ("sasl.username", "alice"),
                ("sasl.password", password),
                ("ssl.endpoint.identification.algorithm", "https"),
            ],
        ),
        "fn",
    )
    .unwrap();
    assert!(!format!("{producer:?}").contains(password));

    // librdkafka echoes a rejected value in its message; for a secret-ish property the error
    // names the property but must not carry that text.
    let err = ErrorTopicProducer::new(
        &config(
            "127.0.0.1:1",
            "errors",
            &[("sasl.oauthbearer.method", password)],
        ),
        "fn",
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("runtime.error.topic.producer.sasl.oauthbearer.method"),
        "{text}"
    );
    assert!(!text.contains(password), "{text}");
}

#[tokio::test]
async fn records_above_a_megabyte_are_republished() {
    let broker = Tansu::start();
    broker.create_topic("errors", 1).await;
    let producer =
        ErrorTopicProducer::new(&config(&broker.bootstrap, "errors", &[]), "fn").unwrap();
    // The trigger delivers up to 6 MB; librdkafka alone would refuse anything above 1 MB.
    let big: Vec<u8> = (0..3 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    let rec = record(5, Some(&b"big"[..]), Some(big.as_slice()), vec![]);
    producer
        .publish(&[column_type(&rec, "too long")], soon(60))
        .await
        .unwrap();
    let read = broker.read("errors", 1);
    assert_eq!(read[0].value.as_deref(), Some(big.as_slice()));
}

#[tokio::test]
async fn a_record_over_the_size_limit_fails_with_the_fix() {
    let broker = Tansu::start();
    broker.create_topic("errors", 1).await;
    let producer = ErrorTopicProducer::new(
        &config(
            &broker.bootstrap,
            "errors",
            &[("message.max.bytes", "100000")],
        ),
        "fn",
    )
    .unwrap();
    let big = vec![0xabu8; 200_000];
    let rec = record(6, None, Some(big.as_slice()), vec![]);
    let err = producer
        .publish(&[column_type(&rec, "too long")], soon(60))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("1 of 1 error record(s) not acknowledged"),
        "{text}"
    );
    assert!(
        text.contains("runtime.error.topic.producer.message.max.bytes"),
        "{text}"
    );
}
