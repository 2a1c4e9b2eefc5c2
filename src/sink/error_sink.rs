//! The seam for the error topic (issue 5): records that cannot become rows are handed over
//! here, all of a batch at once, and the call returns only when the broker acknowledged them.

use std::future::Future;
use std::pin::Pin;

use tokio::time::Instant;

use crate::event::{KafkaRecord, RecordId};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One record that failed, with what went wrong.
#[derive(Debug, Clone)]
pub struct FailedRecord<'a> {
    /// The original record: key, value, headers and timestamp exactly as the trigger sent them.
    pub record: &'a KafkaRecord,
    /// Where it failed: `convert` (record to row) or `encode` (row to tunnel bytes).
    pub stage: &'static str,
    /// A short stable error name, e.g. `FlattenUnknownKey`.
    pub kind: &'static str,
    /// The full error message, naming the record and the column.
    pub message: String,
}

impl FailedRecord<'_> {
    pub fn id(&self) -> RecordId {
        self.record.id()
    }
}

/// The error topic could not take the records; the invocation fails and the trigger retries.
#[derive(Debug, thiserror::Error)]
#[error("error topic `{topic}`: {message}")]
pub struct ErrorSinkError {
    pub topic: String,
    pub message: String,
}

/// Republishes failed records to the error topic.
pub trait ErrorSink: Send + Sync + std::fmt::Debug {
    /// Produces every record and waits for every acknowledgement, never past `deadline`.
    fn publish<'a>(
        &'a self,
        records: &'a [FailedRecord<'a>],
        deadline: Option<Instant>,
    ) -> BoxFuture<'a, Result<(), ErrorSinkError>>;
}
