//! Why an invocation failed. Every variant means "nothing of this batch may be acknowledged":
//! the trigger retries the batch, so no record is lost.

use crate::error_topic::ErrorTopicError;
use crate::event::RecordId;

#[derive(Debug, thiserror::Error)]
pub enum InvocationError {
    #[error("{first_message} ({count} record(s) failed in this batch; fix the data or the table, set skip_error=true to drop such records, or configure runtime.error.topic.name and runtime.error.topic.bootstrap.servers to republish them)")]
    RecordRejected {
        first: RecordId,
        first_message: String,
        count: usize,
    },
    #[error("writing partition {partition_value:?} of table {table}: {source}")]
    Tunnel {
        table: String,
        partition_value: String,
        #[source]
        source: Box<maxcompute_tunnel::Error>,
    },
    #[error(transparent)]
    ErrorTopic(#[from] ErrorTopicError),
    #[error("the upload session of table {table} has a different schema than the table had at start-up ({detail}); the function reloads the schema on its next cold start: redeploy or update the function configuration to force one")]
    SchemaChanged { table: String, detail: String },
}
