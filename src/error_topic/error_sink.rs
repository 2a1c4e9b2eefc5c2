//! What the error policy needs of an error topic: take failed records, and return only once
//! every one is acknowledged. The producer is the one implementation; tests stand in for it.

use futures::future::BoxFuture;
use tokio::time::Instant;

use super::error::ErrorTopicError;
use super::producer::ErrorTopicProducer;
use crate::failed::FailedRecord;

/// Republishes failed records.
pub trait ErrorSink: Send + Sync + std::fmt::Debug {
    /// Produces every record and waits for every acknowledgement, never past `deadline`.
    fn publish<'a>(
        &'a self,
        records: &'a [FailedRecord<'a>],
        deadline: Option<Instant>,
    ) -> BoxFuture<'a, Result<(), ErrorTopicError>>;
}

impl ErrorSink for ErrorTopicProducer {
    fn publish<'a>(
        &'a self,
        records: &'a [FailedRecord<'a>],
        deadline: Option<Instant>,
    ) -> BoxFuture<'a, Result<(), ErrorTopicError>> {
        Box::pin(async move {
            let report = ErrorTopicProducer::publish(self, records, deadline).await?;
            tracing::debug!(
                topic = self.topic(),
                acknowledged = report.delivered.len(),
                "error records acknowledged"
            );
            Ok(())
        })
    }
}
