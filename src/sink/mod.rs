//! One invocation, end to end: decode -> convert -> group by partition value -> encode blocks
//! -> error policy -> tunnel writes -> summary.
//!
//! Order matters for "nothing lost": records that cannot become rows are handled first (error
//! topic acknowledged, or skipped, or the invocation fails before anything is written); only
//! then are rows written, and the invocation succeeds only after every partition's rows are
//! durable (batch: committed; stream: packs acknowledged). Any tunnel failure fails the
//! invocation and the trigger retries the whole batch: at-least-once, never a gap.

mod batch;
mod encode;
mod error;
mod error_sink;
mod policy;
mod stream;
mod summary;

pub use encode::{prepare, Block, PartitionBatch, Prepared};
pub use error::InvocationError;
pub use error_sink::{BoxFuture, ErrorSink, ErrorSinkError, FailedRecord};
pub use summary::Summary;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use maxcompute_tunnel::{PartitionSpec, TableSchema, TunnelClient};
use tokio::time::Instant;

use crate::config::SinkConfig;
use crate::convert::Converter;
use crate::event::KafkaEvent;
use crate::partition::Partitioner;

/// Everything an invocation needs, built once per process.
#[derive(Debug)]
pub struct Sink {
    client: TunnelClient,
    table: String,
    schema: Arc<TableSchema>,
    converter: Converter,
    partitioner: Partitioner,
    partition_column: String,
    block_bytes: usize,
    use_streaming: bool,
    skip_error: bool,
    error_sink: Option<Arc<dyn ErrorSink>>,
    streams: stream::StreamSessions,
}

impl Sink {
    /// `schema` is the table's schema as loaded at start-up; `converter` was checked against it.
    pub fn new(
        config: &SinkConfig,
        client: TunnelClient,
        schema: Arc<TableSchema>,
        converter: Converter,
        error_sink: Option<Arc<dyn ErrorSink>>,
    ) -> Sink {
        Sink {
            client,
            table: config.target.table.clone(),
            schema,
            converter,
            partitioner: Partitioner::new(&config.partition),
            partition_column: config.partition.column.clone(),
            block_bytes: config.buffer_size_kb as usize * 1024,
            use_streaming: config.use_streaming,
            skip_error: config.skip_error,
            error_sink,
            streams: stream::StreamSessions::default(),
        }
    }

    /// Runs one invocation. `started` is the invocation's start (the processing-time partition
    /// clock); no call waits past `deadline`. The summary is logged either way.
    pub async fn process(
        &self,
        event: &KafkaEvent,
        started: DateTime<Utc>,
        deadline: Option<Instant>,
    ) -> Result<Summary, InvocationError> {
        if !matches!(
            event.event_source.as_str(),
            "aws:kafka" | "SelfManagedKafka"
        ) {
            tracing::warn!(
                event_source = %event.event_source,
                "unexpected eventSource; expected aws:kafka or SelfManagedKafka, processing the records anyway"
            );
        }
        let mut summary = Summary {
            records_in: event.record_count() as u64,
            ..Summary::default()
        };
        let result = self.run(event, started, deadline, &mut summary).await;
        match &result {
            Ok(()) => summary.log("success"),
            Err(e) => {
                summary.log("failure");
                tracing::error!(error = %e, "invocation failed; the trigger will retry the batch");
            }
        }
        result.map(|()| summary)
    }

    async fn run(
        &self,
        event: &KafkaEvent,
        started: DateTime<Utc>,
        deadline: Option<Instant>,
        summary: &mut Summary,
    ) -> Result<(), InvocationError> {
        let prepared = prepare(
            event,
            &self.converter,
            &self.partitioner,
            &self.schema,
            self.block_bytes,
            started,
        );
        policy::apply(
            &prepared.failed,
            self.error_sink.as_deref(),
            self.skip_error,
            summary,
            deadline,
        )
        .await?;

        for batch in prepared.partitions {
            let spec = PartitionSpec::new([(self.partition_column.as_str(), batch.value.as_str())])
                .map_err(|e| InvocationError::PartitionValue {
                    value: batch.value.clone(),
                    reason: e.to_string(),
                })?;
            let (value, rows) = (batch.value.clone(), batch.rows());
            if self.use_streaming {
                self.streams
                    .write(
                        &self.client,
                        &self.table,
                        &self.schema,
                        spec,
                        batch,
                        deadline,
                    )
                    .await?;
            } else {
                batch::write(
                    &self.client,
                    &self.table,
                    &self.schema,
                    spec,
                    batch,
                    deadline,
                )
                .await?;
            }
            summary.rows_written.insert(value, rows);
        }
        Ok(())
    }
}

/// Rows are encoded against the start-up schema; a session over a changed table would
/// misplace or reject them, so that is an error rather than a guess.
fn check_schema(
    table: &str,
    expected: &TableSchema,
    session: &TableSchema,
) -> Result<(), InvocationError> {
    if expected.same_data_columns(session) {
        return Ok(());
    }
    Err(InvocationError::SchemaChanged {
        table: table.to_string(),
        detail: format!(
            "start-up: [{}]; now: [{}]",
            expected.describe_data_columns(),
            session.describe_data_columns()
        ),
    })
}
