//! The on-failure destination as a Kafka topic of the source cluster (`kafka://<topic>`). Lambda
//! acts as a producer and writes every failed record as one message: keyed with the record's own
//! key (so the destination's partition follows it; without a key the producer spreads them), and
//! whose value is the failure metadata with the record itself as a one-record event under
//! `payload`. The shape is the "Record format for a Kafka destination" of
//! https://docs.aws.amazon.com/lambda/latest/dg/kafka-on-failure-destination.html, field for
//! field and in that order:
//!
//! ```json
//! {"requestContext": {"requestId": "…", "functionArn": "…", "condition": "RetriesExhausted",
//!                     "approximateInvokeCount": 3},
//!  "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
//!  "version": "1.0", "timestamp": "2019-11-14T18:16:05.568Z",
//!  "KafkaBatchInfo": {"batchSize": 1, "eventSourceArn": "…", "bootstrapServers": "…",
//!                     "payloadSize": 1162, "recordInfo": {"offset": "100", "timestamp": "…"}},
//!  "payload": {"bootstrapServers": "…", "eventSource": "aws:kafka", "eventSourceArn": "…",
//!              "records": {"my-topic-0": [{…}]}}}
//! ```
//!
//! Where that page is silent, this crate chooses (and says so here): records that exceeded the
//! maximum age carry the condition `RecordAgeExceeded`, the name Lambda's stream destinations
//! use, and a `null` `responseContext` when they were never sent to the function; a batch whose
//! retries ran out through partial batch responses has no `functionError`; self-managed Kafka
//! has no `eventSourceArn`. The SNS/SQS/S3 invocation record of
//! https://docs.aws.amazon.com/lambda/latest/dg/kafka-on-failure.html spells the retry condition
//! `RetryAttemptsExhausted`; the Kafka page's `RetriesExhausted` is used here.

use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, SecondsFormat, Utc};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::ClientConfig;
use serde::Serialize;

use crate::config::TriggerConfig;
use crate::error::TriggerError;
use crate::event::{EventRecord, KafkaEvent};

/// How long the destination may take to acknowledge one record before the step fails (and the
/// record, not committed, is delivered again after a restart).
const SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// Why records went to the destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Condition {
    /// Their batch still failed after the maximum retry attempts.
    RetriesExhausted,
    /// They were older than the maximum record age when their batch was due.
    RecordAgeExceeded,
}

/// The last response of the function to the failed records, `None` if they never reached it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastResponse {
    pub status_code: u16,
    /// The runtime's error type; `None` when the function succeeded but reported the records in
    /// `batchItemFailures`.
    pub function_error: Option<String>,
}

/// What the failure records of one give-up share.
#[derive(Debug, Clone)]
pub struct Failure {
    pub request_id: String,
    pub condition: Condition,
    /// Invocations that carried the records.
    pub invocations: u32,
    pub last_response: Option<LastResponse>,
    pub at: DateTime<Utc>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RequestContext<'a> {
    request_id: &'a str,
    function_arn: &'a str,
    condition: Condition,
    approximate_invoke_count: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResponseContext<'a> {
    status_code: u16,
    executed_version: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    function_error: Option<&'a str>,
}

#[derive(Serialize)]
struct RecordInfo {
    offset: String,
    timestamp: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BatchInfo<'a> {
    batch_size: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    event_source_arn: Option<&'a str>,
    bootstrap_servers: &'a str,
    payload_size: usize,
    record_info: RecordInfo,
}

#[derive(Serialize)]
struct FailureRecord<'a> {
    #[serde(rename = "requestContext")]
    request_context: RequestContext<'a>,
    #[serde(rename = "responseContext")]
    response_context: Option<ResponseContext<'a>>,
    version: &'static str,
    timestamp: String,
    #[serde(rename = "KafkaBatchInfo")]
    kafka_batch_info: BatchInfo<'a>,
    payload: &'a KafkaEvent,
}

fn iso_millis(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The destination message for `record`: its key and its value (the failure metadata).
pub fn failure_message(
    record: &EventRecord,
    failure: &Failure,
    config: &TriggerConfig,
) -> Result<(Option<Vec<u8>>, Vec<u8>), serde_json::Error> {
    let mut payload = KafkaEvent::empty(&config.event_source, &config.bootstrap_servers);
    payload
        .records
        .insert(record.group_key(), vec![record.clone()]);
    let payload_size = serde_json::to_vec(&payload)?.len();
    let record_time = DateTime::from_timestamp_millis(record.timestamp).unwrap_or_default();
    let value = FailureRecord {
        request_context: RequestContext {
            request_id: &failure.request_id,
            function_arn: &config.function_arn,
            condition: failure.condition,
            approximate_invoke_count: failure.invocations,
        },
        response_context: failure.last_response.as_ref().map(|r| ResponseContext {
            status_code: r.status_code,
            executed_version: "$LATEST",
            function_error: r.function_error.as_deref(),
        }),
        version: "1.0",
        timestamp: iso_millis(failure.at),
        kafka_batch_info: BatchInfo {
            batch_size: 1,
            event_source_arn: payload.event_source_arn.as_deref(),
            bootstrap_servers: &config.bootstrap_servers,
            payload_size,
            record_info: RecordInfo {
                offset: record.offset.to_string(),
                timestamp: iso_millis(record_time),
            },
        },
        payload: &payload,
    };
    // The event holds the key as base64 of the bytes read from Kafka, so it always decodes.
    let key = record.key.as_ref().and_then(|k| STANDARD.decode(k).ok());
    Ok((key, serde_json::to_vec(&value)?))
}

/// The producer writing to the destination topic.
pub struct KafkaDestination {
    producer: FutureProducer,
    topic: String,
}

impl KafkaDestination {
    pub fn connect(config: &TriggerConfig, topic: &str) -> Result<KafkaDestination, TriggerError> {
        let mut client = ClientConfig::new();
        for (key, value) in &config.consumer_properties {
            client.set(key, value);
        }
        client
            .set("bootstrap.servers", &config.bootstrap_servers)
            .set("client.id", "kafka-trigger-on-failure")
            .set("acks", "all")
            // Java's partitioner, as Lambda's producer is a Java client: a keyed failure record
            // lands where a Java producer would put that key.
            .set("partitioner", "murmur2_random")
            .set("message.timeout.ms", SEND_TIMEOUT.as_millis().to_string());
        let producer = client
            .create()
            .map_err(|source| TriggerError::DestinationProducer {
                destination: topic.to_string(),
                source,
            })?;
        Ok(KafkaDestination {
            producer,
            topic: topic.to_string(),
        })
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Writes one failure record and waits for the broker's acknowledgement.
    pub async fn send(
        &self,
        record: &EventRecord,
        key: Option<&[u8]>,
        value: &[u8],
    ) -> Result<(), TriggerError> {
        let mut message: FutureRecord<'_, [u8], [u8]> =
            FutureRecord::to(&self.topic).payload(value);
        if let Some(key) = key {
            message = message.key(key);
        }
        self.producer
            .send(message, SEND_TIMEOUT)
            .await
            .map(|_| ())
            .map_err(|(source, _)| TriggerError::DestinationWrite {
                write: format!(
                    "record {}@{} to kafka://{}",
                    record.group_key(),
                    record.offset,
                    self.topic
                ),
                source,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{EventSource, RetryPolicy, StartingPosition, LAMBDA_MAX_PAYLOAD_BYTES};
    use crate::event::Header;
    use serde_json::{json, Value};

    fn config(source: EventSource) -> TriggerConfig {
        TriggerConfig {
            bootstrap_servers: "b-1.example:9098".into(),
            topics: vec!["my-topic".into()],
            consumer_group_id: "g".into(),
            starting_position: StartingPosition::TrimHorizon,
            event_source: source,
            function_url: "http://127.0.0.1:9000/2015-03-31/functions/my-function/invocations"
                .into(),
            batch_size: 100,
            batching_window: Duration::ZERO,
            max_payload_bytes: LAMBDA_MAX_PAYLOAD_BYTES,
            retry: RetryPolicy::default(),
            report_batch_item_failures: false,
            bisect_batch_on_function_error: false,
            max_record_age: None,
            on_failure: Some("kafka://dlq".into()),
            function_arn: "arn:aws:lambda:us-east-1:123456789012:function:my-function".into(),
            consumer_properties: vec![],
        }
    }

    fn record() -> EventRecord {
        EventRecord {
            topic: "my-topic".into(),
            partition: 0,
            offset: 100,
            timestamp: 1_749_116_692_330,
            timestamp_type: "CREATE_TIME",
            key: Some(STANDARD.encode("test-key")),
            value: Some(STANDARD.encode("test-value")),
            headers: vec![Header::new("h", &[0xff])],
        }
    }

    #[test]
    fn failure_record_has_the_documented_shape_and_order() {
        let arn = "arn:aws:kafka:us-east-1:123456789012:cluster/my-cluster/abc123";
        let config = config(EventSource::Msk {
            cluster_arn: arn.into(),
        });
        let failure = Failure {
            request_id: "e4b46cbf-b738-4b2e-8880-a18cdf61200e".into(),
            condition: Condition::RetriesExhausted,
            invocations: 3,
            last_response: Some(LastResponse {
                status_code: 200,
                function_error: Some("Unhandled".into()),
            }),
            at: DateTime::from_timestamp_millis(1_573_755_365_568).unwrap(),
        };
        let (key, value) = failure_message(&record(), &failure, &config).unwrap();
        assert_eq!(key.as_deref(), Some(&b"test-key"[..]));

        let payload = json!({
            "eventSource": "aws:kafka", "eventSourceArn": arn, "bootstrapServers": "b-1.example:9098",
            "records": {"my-topic-0": [{
                "topic": "my-topic", "partition": 0, "offset": 100, "timestamp": 1_749_116_692_330i64,
                "timestampType": "CREATE_TIME", "key": "dGVzdC1rZXk=", "value": "dGVzdC12YWx1ZQ==",
                "headers": [{"h": [-1]}]}]}
        });
        let expected = json!({
            "requestContext": {
                "requestId": "e4b46cbf-b738-4b2e-8880-a18cdf61200e",
                "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:my-function",
                "condition": "RetriesExhausted", "approximateInvokeCount": 3},
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "version": "1.0",
            "timestamp": "2019-11-14T18:16:05.568Z",
            "KafkaBatchInfo": {
                "batchSize": 1, "eventSourceArn": arn, "bootstrapServers": "b-1.example:9098",
                "payloadSize": serde_json::to_vec(&payload).unwrap().len(),
                "recordInfo": {"offset": "100", "timestamp": "2025-06-05T09:44:52.330Z"}},
            "payload": payload,
        });
        let got: Value = serde_json::from_slice(&value).unwrap();
        assert_eq!(got, expected);
        let text = String::from_utf8(value).unwrap();
        let at = |needle: &str| {
            text.find(needle)
                .unwrap_or_else(|| panic!("{needle} in {text}"))
        };
        let order = [
            at(r#"{"requestContext":{"requestId""#),
            at(r#","responseContext":{"statusCode""#),
            at(r#","version":"1.0","timestamp":"#),
            at(r#","KafkaBatchInfo":{"batchSize":1,"#),
            at(r#","payload":{"eventSource""#),
        ];
        assert!(
            order.windows(2).all(|w| w[0] < w[1]),
            "the documented field order: {text}"
        );
    }

    #[test]
    fn expired_records_never_invoked_have_no_response_and_self_managed_has_no_arn() {
        let failure = Failure {
            request_id: "r".into(),
            condition: Condition::RecordAgeExceeded,
            invocations: 0,
            last_response: None,
            at: Utc::now(),
        };
        let mut unkeyed = record();
        unkeyed.key = None;
        let (key, value) =
            failure_message(&unkeyed, &failure, &config(EventSource::SelfManaged)).unwrap();
        assert_eq!(key, None);
        let got: Value = serde_json::from_slice(&value).unwrap();
        assert_eq!(got["requestContext"]["condition"], "RecordAgeExceeded");
        assert_eq!(got["requestContext"]["approximateInvokeCount"], 0);
        assert_eq!(got["responseContext"], Value::Null);
        assert!(got["KafkaBatchInfo"].get("eventSourceArn").is_none());
        assert_eq!(got["payload"]["eventSource"], "SelfManagedKafka");
    }
}
