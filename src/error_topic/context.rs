//! Routes librdkafka's own log lines and client errors into `tracing`, so that a broker that is
//! down or a failed SASL handshake shows up in the function's (JSON) logs with the reason, with
//! secret property values scrubbed.

use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::KafkaError;
use rdkafka::ClientContext;

use super::properties::Redactor;

pub struct TracingContext {
    redactor: Redactor,
}

impl TracingContext {
    pub fn new(redactor: Redactor) -> Self {
        TracingContext { redactor }
    }
}

impl ClientContext for TracingContext {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        let message = self.redactor.redact(message);
        match level {
            RDKafkaLogLevel::Emerg
            | RDKafkaLogLevel::Alert
            | RDKafkaLogLevel::Critical
            | RDKafkaLogLevel::Error => {
                tracing::error!(target: "librdkafka", facility, "{message}")
            }
            RDKafkaLogLevel::Warning => tracing::warn!(target: "librdkafka", facility, "{message}"),
            RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
                tracing::info!(target: "librdkafka", facility, "{message}")
            }
            RDKafkaLogLevel::Debug => tracing::debug!(target: "librdkafka", facility, "{message}"),
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        // Connection errors are retried by librdkafka; whether they cost a record is decided
        // by the delivery reports that `publish` waits for, so this is a warning only.
        tracing::warn!(
            target: "librdkafka",
            error = %self.redactor.redact(&error.to_string()),
            reason = %self.redactor.redact(reason),
            "error-topic producer"
        );
    }
}
