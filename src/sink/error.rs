//! Why an invocation failed. Every variant means "nothing of this batch may be acknowledged":
//! the trigger retries the batch, so no record is lost.

use crate::event::RecordId;

use super::error_sink::ErrorSinkError;

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
    #[error("partition value {value:?} cannot be used in a partition spec: {reason}")]
    PartitionValue { value: String, reason: String },
    #[error(transparent)]
    ErrorTopic(#[from] ErrorSinkError),
    #[error("the upload session of table {table} has a different schema than the table had at start-up ({detail}); the function reloads the schema on its next cold start: redeploy or update the function configuration to force one")]
    SchemaChanged { table: String, detail: String },
}

impl InvocationError {
    /// A Tunnel call failed while writing `partition_value` of `table`.
    pub fn tunnel(table: &str, partition_value: &str, source: maxcompute_tunnel::Error) -> Self {
        InvocationError::Tunnel {
            table: table.to_string(),
            partition_value: partition_value.to_string(),
            source: Box::new(source),
        }
    }
}
