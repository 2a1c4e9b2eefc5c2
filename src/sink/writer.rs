//! What the sink needs of a table writer: one partition value's blocks in, and what became
//! durable out. Batch and stream sessions are the two writers; choosing one is a start-up
//! decision (`startup::writer`), so a new write mode is one more implementation.

use std::future::Future;

use futures::future::BoxFuture;
use tokio::time::Instant;

use super::encode::PartitionBatch;
use super::error::InvocationError;
use crate::event::KafkaRecord;

/// Writes rows into the table, one partition value at a time.
pub trait TableWriter: Send + Sync + std::fmt::Debug {
    /// Writes every block of `batch`, never waiting past `deadline`. `Ok` means every row of
    /// the batch is durable in MaxCompute; a failure says which rows were durable before it.
    fn write<'e>(
        &self,
        batch: PartitionBatch<'e>,
        deadline: Option<Instant>,
    ) -> impl Future<Output = Written<'e>> + Send;
}

/// What a write made durable, or why it stopped and what was durable by then.
pub type Written<'e> = Result<Durable<'e>, WriteFailure<'e>>;

/// Any [`TableWriter`], boxed, so that the sink holds whichever one start-up chose.
pub trait DynTableWriter: Send + Sync + std::fmt::Debug {
    fn write_boxed<'a, 'e: 'a>(
        &'a self,
        batch: PartitionBatch<'e>,
        deadline: Option<Instant>,
    ) -> BoxFuture<'a, Written<'e>>;
}

impl<W: TableWriter> DynTableWriter for W {
    fn write_boxed<'a, 'e: 'a>(
        &'a self,
        batch: PartitionBatch<'e>,
        deadline: Option<Instant>,
    ) -> BoxFuture<'a, Written<'e>> {
        Box::pin(self.write(batch, deadline))
    }
}

/// The records whose rows a write made durable, in write order: each keeps its topic,
/// partition and offset.
#[derive(Debug, Default)]
pub struct Durable<'e> {
    pub records: Vec<&'e KafkaRecord>,
}

impl<'e> Durable<'e> {
    pub fn rows(&self) -> u64 {
        self.records.len() as u64
    }

    /// Counts the rows of these records as durable.
    pub fn add(&mut self, records: Vec<&'e KafkaRecord>) {
        self.records.extend(records);
    }
}

/// A write that stopped: why, and what was already durable.
#[derive(Debug)]
pub struct WriteFailure<'e> {
    pub durable: Durable<'e>,
    pub error: InvocationError,
}

impl From<WriteFailure<'_>> for InvocationError {
    fn from(failure: WriteFailure<'_>) -> Self {
        failure.error
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use maxcompute_emulator::config::{DEFAULT_ACCESS_ID, DEFAULT_ACCESS_KEY, DEFAULT_PROJECT};
    use maxcompute_emulator::{start, EmulatorConfig, EmulatorHandle, FaultAction, FaultKind};

    use super::*;
    use crate::config::SinkConfig;
    use crate::event::KafkaEvent;
    use crate::sink::startup;

    const EVENT: &str = include_str!("../../events/msk-text.json");

    fn config(emulator: &EmulatorHandle, streaming: &str) -> SinkConfig {
        SinkConfig::from_vars([
            ("MC_ENDPOINT", emulator.api_endpoint()),
            ("MC_TUNNEL_ENDPOINT", emulator.tunnel_endpoint()),
            ("MC_PROJECT", DEFAULT_PROJECT.to_string()),
            ("MC_TABLE", "t".to_string()),
            ("MC_ACCESS_ID", DEFAULT_ACCESS_ID.to_string()),
            ("MC_ACCESS_KEY", DEFAULT_ACCESS_KEY.to_string()),
            ("MC_MODE", "VALUE".to_string()),
            ("MC_RETRY_TIMES", "0".to_string()),
            ("MC_USE_STREAMING", streaming.to_string()),
        ])
        .unwrap()
    }

    fn offsets(records: &[&KafkaRecord]) -> Vec<i64> {
        records.iter().map(|r| r.offset).collect()
    }

    /// Each writer reports the records it made durable, with their coordinates, and nothing
    /// when its first call fails.
    #[tokio::test]
    async fn writers_report_what_is_durable() {
        let event: KafkaEvent = serde_json::from_str(EVENT).unwrap();
        for (streaming, fault) in [
            ("false", FaultKind::Commit),
            ("true", FaultKind::StreamWrite),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let emulator = start(EmulatorConfig::new(dir.path())).await.unwrap();
            emulator
                .catalog()
                .create_table_ddl(DEFAULT_PROJECT, "CREATE TABLE t(topic STRING, `partition` BIGINT, `offset` BIGINT, value STRING) PARTITIONED BY (pt STRING);")
                .unwrap();
            let config = config(&emulator, streaming);
            let provider = crate::credentials::provider(&config.credentials, |_| None).unwrap();
            let (encoder, writer) = startup::connect(&config, provider).await.unwrap();

            let mut prepared = encoder.prepare(&event, Utc::now());
            let batch = prepared.partitions.remove(0);
            let durable = writer.write_boxed(batch, None).await.unwrap();
            assert_eq!(offsets(&durable.records), [0, 1], "streaming={streaming}");
            assert!(durable.records.iter().all(|r| r.topic == "topic_text"));

            emulator
                .faults()
                .inject(
                    fault,
                    FaultAction::Fail {
                        status: 500,
                        code: "InternalServerError".into(),
                        message: "injected".into(),
                    },
                    1,
                )
                .unwrap();
            let mut prepared = encoder.prepare(&event, Utc::now());
            let batch = prepared.partitions.remove(0);
            let failure = writer.write_boxed(batch, None).await.unwrap_err();
            assert!(failure.durable.records.is_empty(), "streaming={streaming}");
            assert!(
                matches!(failure.error, InvocationError::Tunnel { .. }),
                "{}",
                failure.error
            );
            emulator.shutdown().await;
        }
    }
}
