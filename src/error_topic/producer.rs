//! The error-topic producer: one librdkafka producer per process, reused by every invocation.

use std::time::Duration;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::DeliveryFuture;
use tokio::time::Instant;

use crate::config::ErrorTopicConfig;
use crate::failed::FailedRecord;

use super::error::ErrorTopicError;
use super::properties::{self, Redactor};
use super::record::ErrorRecord;
use super::renewing::{Kafka, RenewingProducer};

/// How long to wait before offering a record again when librdkafka's local queue is full.
const QUEUE_FULL_BACKOFF: Duration = Duration::from_millis(10);

/// Where the broker put one error record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivered {
    pub partition: i32,
    pub offset: i64,
}

/// Every record of a `publish` call, acknowledged; in the order they were given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublishReport {
    pub delivered: Vec<Delivered>,
}

pub struct ErrorTopicProducer {
    producers: RenewingProducer,
    topic: String,
    /// For error texts: the first thing to check when nothing is acknowledged.
    bootstrap_servers: String,
    connector_name: String,
    redactor: Redactor,
}

impl std::fmt::Debug for ErrorTopicProducer {
    // The client configuration holds SASL/SSL secrets, so only the non-secret parts show.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ErrorTopicProducer")
            .field("topic", &self.topic)
            .field("connector_name", &self.connector_name)
            .finish_non_exhaustive()
    }
}

impl ErrorTopicProducer {
    /// Builds the producer once per process. Nothing connects yet; every configuration problem
    /// librdkafka can detect offline is reported here, naming the property.
    /// `connector_name` goes into `__connect.errors.connector.name` (the function's name).
    pub fn new(
        config: &ErrorTopicConfig,
        connector_name: impl Into<String>,
    ) -> Result<Self, ErrorTopicError> {
        let (client, redactor) = properties::client_config(config)?;
        let producers = RenewingProducer::new(client, redactor.clone(), &config.topic)?;
        Ok(ErrorTopicProducer {
            producers,
            topic: config.topic.clone(),
            bootstrap_servers: config.bootstrap_servers.clone(),
            connector_name: connector_name.into(),
            redactor,
        })
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Produces every record and returns once the broker acknowledged all of them (acks=all).
    ///
    /// All records are handed to librdkafka before the first acknowledgement is awaited, so a
    /// batch costs about one round trip, not one per record. Without a `deadline` the wait is
    /// bounded by librdkafka's `message.timeout.ms`. Any record without an acknowledgement
    /// (refused, timed out, or still in flight at the deadline) makes the whole call fail; the
    /// records that were acknowledged stay on the topic, and the retry of the batch produces
    /// them again (at-least-once, identified by the `__connect.errors.*` coordinates).
    pub async fn publish(
        &self,
        records: &[FailedRecord<'_>],
        deadline: Option<Instant>,
    ) -> Result<PublishReport, ErrorTopicError> {
        let producer = self.producers.get()?;
        let mut pending: Vec<(usize, Result<DeliveryFuture, String>)> =
            Vec::with_capacity(records.len());
        for (index, failed) in records.iter().enumerate() {
            let record = ErrorRecord::new(failed, &self.connector_name);
            pending.push((index, self.enqueue(&producer, &record, deadline).await));
        }

        let mut delivered = Vec::with_capacity(records.len());
        let mut failures: Vec<(usize, String)> = Vec::new();
        for (index, sent) in pending {
            let outcome = match sent {
                Ok(future) => self.await_ack(future, deadline).await,
                Err(cause) => Err(cause),
            };
            match outcome {
                Ok(d) => delivered.push(d),
                Err(cause) => failures.push((index, cause)),
            }
        }

        if let Some((index, cause)) = failures.first() {
            return Err(ErrorTopicError::NotAcknowledged {
                topic: self.topic.clone(),
                total: records.len(),
                unacknowledged: failures.len(),
                first: records[*index].id(),
                cause: cause.clone(),
            });
        }
        Ok(PublishReport { delivered })
    }

    /// Hands one record to librdkafka, waiting (never past the deadline) while its local queue
    /// is full.
    async fn enqueue(
        &self,
        producer: &Kafka,
        error_record: &ErrorRecord,
        deadline: Option<Instant>,
    ) -> Result<DeliveryFuture, String> {
        let mut record = error_record.to_send(&self.topic);
        loop {
            match producer.send_result(record) {
                Ok(future) => return Ok(future),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    if deadline.is_some_and(|d| Instant::now() + QUEUE_FULL_BACKOFF >= d) {
                        return Err(
                            "the producer's local queue stayed full until the deadline".into()
                        );
                    }
                    record = back;
                    tokio::time::sleep(QUEUE_FULL_BACKOFF).await;
                }
                Err((e, _)) => return Err(self.describe(&e)),
            }
        }
    }

    fn describe(&self, e: &KafkaError) -> String {
        let text = self.redactor.redact(&e.to_string());
        if e.rdkafka_error_code() == Some(RDKafkaErrorCode::MessageSizeTooLarge) {
            format!(
                "{text}: the record is larger than the error topic accepts; raise the topic's max.message.bytes and runtime.error.topic.producer.message.max.bytes"
            )
        } else {
            text
        }
    }

    async fn await_ack(
        &self,
        future: DeliveryFuture,
        deadline: Option<Instant>,
    ) -> Result<Delivered, String> {
        let result = match deadline {
            // `timeout_at` polls the future before looking at the clock, so acknowledgements
            // that already arrived still count once the deadline has passed.
            Some(deadline) => match tokio::time::timeout_at(deadline, future).await {
                Ok(result) => result,
                Err(_) => {
                    return Err(format!(
                        "no acknowledgement from {} before the invocation's deadline (the librdkafka warnings in the log say why)",
                        self.bootstrap_servers
                    ))
                }
            },
            None => future.await,
        };
        match result {
            Ok(Ok(delivery)) => Ok(Delivered {
                partition: delivery.partition,
                offset: delivery.offset,
            }),
            Ok(Err((e, _))) => Err(self.describe(&e)),
            Err(_canceled) => Err("the producer was shut down before the broker answered".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::CString;

    use kafka_trigger::testing::Tansu;
    use rdkafka::bindings::{rd_kafka_resp_err_t, rd_kafka_test_fatal_error};
    use rdkafka::producer::Producer;

    use super::*;
    use crate::event::KafkaRecord;
    use crate::failed::invalid_json;

    /// A fatal librdkafka error in one invocation does not make the next ones fail.
    #[tokio::test]
    async fn publishes_again_after_a_fatal_producer_error() {
        let broker = Tansu::start();
        broker.create_topic("errors", 1).await;
        let producer = ErrorTopicProducer::new(
            &ErrorTopicConfig {
                topic: "errors".into(),
                bootstrap_servers: broker.bootstrap.clone(),
                producer_properties: Vec::new(),
            },
            "fn",
        )
        .unwrap();
        let record = KafkaRecord {
            topic: "orders".into(),
            partition: 0,
            offset: 1,
            timestamp: None,
            timestamp_type: None,
            key: None,
            value: Some("eA==".into()),
            headers: Vec::new(),
        };
        let records = [invalid_json(&record)];
        let deadline = || Some(Instant::now() + Duration::from_secs(30));
        producer.publish(&records, deadline()).await.unwrap();

        let dead = producer.producers.get().unwrap();
        let reason = CString::new("test: fatal").unwrap();
        // librdkafka's own hook for testing fatal-error handling.
        unsafe {
            rd_kafka_test_fatal_error(
                dead.client().native_ptr(),
                rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER,
                reason.as_ptr(),
            );
        }
        assert!(dead.client().fatal_error().is_some());

        producer.publish(&records, deadline()).await.unwrap();
        assert_eq!(broker.read("errors", 2).len(), 2);
    }
}
