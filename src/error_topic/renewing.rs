//! The librdkafka producer behind `ErrorTopicProducer`, replaced when librdkafka declares it
//! dead. An idempotent producer can hit a fatal error (e.g. an out-of-order sequence after a
//! broker lost data); every later send then fails, and a warm Lambda process may live for
//! hours, so without a replacement every invocation would fail until the process is recycled.

use std::sync::{Mutex, PoisonError};

use rdkafka::error::KafkaError;
use rdkafka::producer::{FutureProducer, Producer};
use rdkafka::ClientConfig;

use super::context::TracingContext;
use super::error::ErrorTopicError;
use super::properties::{self, Redactor};

pub type Kafka = FutureProducer<TracingContext>;

pub struct RenewingProducer {
    /// Holds secrets: never logged (no `Debug`).
    config: ClientConfig,
    redactor: Redactor,
    topic: String,
    current: Mutex<Kafka>,
}

impl RenewingProducer {
    pub fn new(
        config: ClientConfig,
        redactor: Redactor,
        topic: &str,
    ) -> Result<Self, ErrorTopicError> {
        let current = create(&config, &redactor, topic)?;
        Ok(RenewingProducer {
            config,
            redactor,
            topic: topic.to_string(),
            current: Mutex::new(current),
        })
    }

    /// The producer to send with: the current one, or a new one if the current one is dead.
    pub fn get(&self) -> Result<Kafka, ErrorTopicError> {
        // A panic cannot leave the slot half-written (it is replaced in one assignment).
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        let Some((code, reason)) = current.client().fatal_error() else {
            return Ok(current.clone());
        };
        tracing::error!(
            topic = %self.topic,
            code = ?code,
            reason = %self.redactor.redact(&reason),
            "the error-topic producer hit a fatal error; replacing it"
        );
        let fresh = create(&self.config, &self.redactor, &self.topic).map_err(|e| {
            ErrorTopicError::Unavailable {
                topic: self.topic.clone(),
                reason: format!(
                    "the producer hit a fatal error ({code:?}) and cannot be replaced: {e}"
                ),
            }
        })?;
        let dead = std::mem::replace(&mut *current, fresh.clone());
        drop(current);
        // Dropping a producer purges and joins its threads, which blocks.
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn_blocking(move || drop(dead));
            }
            Err(_) => drop(dead),
        }
        Ok(fresh)
    }

    #[cfg(test)]
    pub fn current_for_tests(&self) -> Kafka {
        self.current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

fn create(
    config: &ClientConfig,
    redactor: &Redactor,
    topic: &str,
) -> Result<Kafka, ErrorTopicError> {
    config
        .create_with_context::<_, Kafka>(TracingContext::new(redactor.clone()))
        .map_err(|e| match e {
            KafkaError::ClientConfig(_, reason, property, _) => {
                properties::rejected(&property, &reason, redactor)
            }
            other => ErrorTopicError::Create {
                topic: topic.to_string(),
                reason: redactor.redact(&other.to_string()),
            },
        })
}

#[cfg(test)]
mod tests {
    use std::ffi::CString;

    use rdkafka::error::RDKafkaErrorCode;

    use super::*;

    #[tokio::test]
    async fn a_dead_producer_is_replaced() {
        let (config, redactor) = properties::client_config(&crate::config::ErrorTopicConfig {
            topic: "errors".into(),
            bootstrap_servers: "127.0.0.1:1".into(),
            producer_properties: Vec::new(),
        })
        .unwrap();
        let renewing = RenewingProducer::new(config, redactor, "errors").unwrap();
        let first = renewing.get().unwrap();
        assert!(first.client().fatal_error().is_none());

        // librdkafka's own hook for testing fatal-error handling.
        let reason = CString::new("test: fatal").unwrap();
        let raised = unsafe {
            rdkafka::bindings::rd_kafka_test_fatal_error(
                first.client().native_ptr(),
                rdkafka::bindings::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER,
                reason.as_ptr(),
            )
        };
        assert_eq!(
            raised,
            rdkafka::bindings::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR
        );
        assert_eq!(
            first.client().fatal_error().map(|(code, _)| code),
            Some(RDKafkaErrorCode::OutOfOrderSequenceNumber)
        );

        let second = renewing.get().unwrap();
        assert!(second.client().fatal_error().is_none());
        assert!(renewing
            .current_for_tests()
            .client()
            .fatal_error()
            .is_none());
        assert_ne!(
            second.client().native_ptr(),
            first.client().native_ptr(),
            "a new librdkafka instance"
        );
    }
}
