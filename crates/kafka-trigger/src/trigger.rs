//! The trigger loop: gather a batch (batch size, batching window, payload cap), invoke until the
//! function succeeds, then commit. Offsets move only after success, so a crash or a failing
//! function never skips a record; delivery is at least once, as with Lambda.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::batch::{BatchBuilder, Rejected};
use crate::config::TriggerConfig;
use crate::error::TriggerError;
use crate::event::{EventRecord, KafkaEvent};
use crate::invoke::{InvokeError, Invoker};
use crate::source::KafkaSource;

/// What one successful step delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    pub records: usize,
    /// Invocations it took, 1 when the first one succeeded.
    pub attempts: u32,
    /// Committed (topic, partition, next offset), sorted.
    pub committed: Vec<(String, i32, i64)>,
}

pub struct Trigger {
    config: TriggerConfig,
    source: KafkaSource,
    invoker: Invoker,
    /// A record read but left out of the previous batch (full, or over the payload cap).
    carried: Option<EventRecord>,
}

impl Trigger {
    pub fn new(config: TriggerConfig) -> Result<Trigger, TriggerError> {
        config.validate()?;
        let source = KafkaSource::connect(&config)?;
        let invoker = Invoker::new(&config.function_url).map_err(TriggerError::HttpClient)?;
        Ok(Trigger {
            config,
            source,
            invoker,
            carried: None,
        })
    }

    /// Runs until `shutdown` resolves (returning `Ok`) or an unrecoverable error.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) -> Result<(), TriggerError> {
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => {
                    tracing::info!("shutting down; the batch in flight, if any, was not committed");
                    return Ok(());
                }
                delivered = self.step() => {
                    let delivered = delivered?;
                    tracing::info!(records = delivered.records, attempts = delivered.attempts, "batch delivered and committed");
                }
            }
        }
    }

    /// Waits for records, delivers one batch and commits its offsets.
    pub async fn step(&mut self) -> Result<Delivered, TriggerError> {
        let event = self.gather().await?;
        let records = event.record_count();
        let committed = next_offsets(&event);
        let payload = serde_json::to_vec(&event).map_err(TriggerError::Encode)?;
        let attempts = self.invoke_until_success(payload, records).await?;
        self.source.commit(&committed).await?;
        Ok(Delivered {
            records,
            attempts,
            committed,
        })
    }

    async fn gather(&mut self) -> Result<KafkaEvent, TriggerError> {
        let empty = KafkaEvent::empty(&self.config.event_source, &self.config.bootstrap_servers);
        let mut batch =
            BatchBuilder::new(empty, self.config.batch_size, self.config.max_payload_bytes);
        let first = match self.carried.take() {
            Some(record) => record,
            None => self.source.next().await,
        };
        self.add_first(&mut batch, first)?;
        // Lambda's window runs from the first record; a full batch goes out at once.
        let deadline = Instant::now() + self.config.batching_window;
        while batch.len() < self.config.batch_size {
            let Ok(record) = tokio::time::timeout_at(deadline, self.source.next()).await else {
                break;
            };
            if let Err(refused) = batch.try_add(record) {
                tracing::debug!(reason = ?refused.reason, "batch closed; record carried to the next batch");
                self.carried = Some(refused.record);
                break;
            }
        }
        Ok(batch.finish())
    }

    fn add_first(&self, batch: &mut BatchBuilder, record: EventRecord) -> Result<(), TriggerError> {
        let Err(refused) = batch.try_add(record) else {
            return Ok(());
        };
        match refused.reason {
            Rejected::TooBig {
                event_size_with_record,
            } => Err(TriggerError::RecordTooLarge {
                topic: refused.record.topic,
                partition: refused.record.partition,
                offset: refused.record.offset,
                size: event_size_with_record,
                cap: self.config.max_payload_bytes,
            }),
            // `validate` guarantees a batch size of at least 1, so an empty batch has room.
            Rejected::Full => unreachable!("an empty batch refused a record as full"),
        }
    }

    async fn invoke_until_success(
        &self,
        payload: Vec<u8>,
        records: usize,
    ) -> Result<u32, TriggerError> {
        let policy = self.config.retry;
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let error: InvokeError = match self.invoker.invoke(payload.clone()).await {
                Ok(()) => return Ok(attempts),
                Err(error) => error,
            };
            let retries_done = attempts - 1;
            if policy.max_retries.is_some_and(|max| retries_done >= max) {
                return Err(TriggerError::RetriesExhausted {
                    records,
                    attempts,
                    last: error,
                });
            }
            let backoff: Duration = policy.backoff(attempts);
            tracing::warn!(%error, attempts, ?backoff, records, "invocation failed; retrying the same batch");
            tokio::time::sleep(backoff).await;
        }
    }
}

/// For each topic-partition of the event, the offset after its last record.
fn next_offsets(event: &KafkaEvent) -> Vec<(String, i32, i64)> {
    let mut offsets: Vec<(String, i32, i64)> = event
        .records
        .values()
        .filter_map(|group| group.iter().max_by_key(|r| r.offset))
        .map(|last| (last.topic.clone(), last.partition, last.offset + 1))
        .collect();
    offsets.sort();
    offsets
}
