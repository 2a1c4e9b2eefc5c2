//! One invocation, in the order the README's "How it works" tells it: the event's records are
//! converted, partitioned and encoded (`encode`), the records that did not become rows go to
//! the error policy (`policy`), then each partition value's rows go to the table writer
//! (`batch` or `stream`), and a summary is returned. `startup` builds all of it once.
//!
//! Order matters for "nothing lost": records that cannot become rows are handled first (error
//! topic acknowledged, or skipped, or the invocation fails before anything is written); only
//! then are rows written, and the invocation succeeds only after every partition's rows are
//! durable (batch: committed; stream: packs acknowledged). Any tunnel failure fails the
//! invocation and the trigger retries the whole batch: at-least-once, never a gap.

mod batch;
mod encode;
mod error;
mod policy;
mod startup;
mod stream;
mod summary;
mod table;
mod writer;

use encode::Encoder;

pub use encode::{Block, PartitionBatch};
pub use error::InvocationError;
pub use policy::ErrorPolicy;
pub use startup::StartupError;
pub use summary::Summary;
pub use writer::{Durable, DynTableWriter, TableWriter, WriteFailure, Written};

use std::sync::Arc;

use chrono::{DateTime, Utc};
use maxcompute_tunnel::auth::CredentialProvider;
use tokio::time::Instant;

use crate::config::SinkConfig;
use crate::event::KafkaEvent;

/// Everything an invocation needs, built once per process (`Sink::build`).
#[derive(Debug)]
pub struct Sink {
    encoder: Encoder,
    errors: ErrorPolicy,
    writer: Box<dyn DynTableWriter>,
}

impl Sink {
    /// Connects, loads the table schema and checks it against the format and the partition
    /// column; `errors` is what happens to the records that do not become rows.
    pub async fn build(
        config: &SinkConfig,
        credentials: Arc<dyn CredentialProvider>,
        errors: ErrorPolicy,
    ) -> Result<Sink, StartupError> {
        let (encoder, writer) = startup::connect(config, credentials).await?;
        Ok(Sink {
            encoder,
            errors,
            writer,
        })
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
        let prepared = self.encoder.prepare(event, started);
        // Before any row is written, so that a failure here leaves nothing to duplicate.
        self.errors
            .handle(&prepared.failed, summary, deadline)
            .await?;
        for batch in prepared.partitions {
            let value = batch.value.clone();
            let durable = self.writer.write_boxed(batch, deadline).await?;
            summary.rows_written.insert(value, durable.rows());
        }
        Ok(())
    }
}
