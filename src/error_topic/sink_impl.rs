//! The error-topic producer as the sink's `ErrorSink`.

use tokio::time::Instant;

use crate::sink::{BoxFuture, ErrorSink, ErrorSinkError, FailedRecord};

use super::error::ErrorTopicError;
use super::producer::ErrorTopicProducer;
use super::record::DeadLetter;

impl ErrorSink for ErrorTopicProducer {
    fn publish<'a>(
        &'a self,
        records: &'a [FailedRecord<'a>],
        deadline: Option<Instant>,
    ) -> BoxFuture<'a, Result<(), ErrorSinkError>> {
        Box::pin(async move {
            let letters: Vec<DeadLetter<'_>> = records
                .iter()
                .map(|f| DeadLetter::new(f.record, f.kind, &f.message))
                .collect();
            let report = ErrorTopicProducer::publish(self, &letters, deadline)
                .await
                .map_err(|e| ErrorSinkError {
                    topic: self.topic().to_string(),
                    message: without_topic(e),
                })?;
            tracing::debug!(
                topic = self.topic(),
                acknowledged = report.delivered.len(),
                "error records acknowledged"
            );
            Ok(())
        })
    }
}

/// `ErrorSinkError` names the topic itself.
fn without_topic(e: ErrorTopicError) -> String {
    match e {
        ErrorTopicError::NotAcknowledged {
            total,
            unacknowledged,
            first,
            cause,
            ..
        } => format!(
            "{unacknowledged} of {total} error record(s) not acknowledged by the broker; first: {first}: {cause}"
        ),
        other => other.to_string(),
    }
}
