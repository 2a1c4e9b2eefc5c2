//! The trigger loop: gather a batch (batch size, batching window, payload cap), deliver it under
//! the mapping's error-handling controls, and commit each partition as far as its records are
//! finished. Offsets move only past finished records (delivered, written to the on-failure
//! destination, or given up), so a crash never skips a record: delivery is at least once, as
//! with Lambda.
//!
//! Delivery works through a queue of pieces of the batch, first the whole batch:
//!
//! * a piece whose records are older than the maximum record age loses them to the on-failure
//!   destination (or they are discarded) before it is sent;
//! * success finishes the piece; with partial batch responses on, the reported partitions keep
//!   their records from the lowest reported offset on, which go out again at once as the next
//!   piece (re-delivered from the committed offset, as Lambda does);
//! * a function error (or an unreadable partial batch response) splits the piece in two when
//!   split-batch-on-error is on, which costs no retry, else retries it after a backoff;
//! * a piece out of retries goes to the on-failure destination, or is discarded (Lambda
//!   discards records whose retries ran out and moves on), and its partitions move past it;
//! * an invocation that never reached the function is retried without counting, until its
//!   records expire.
//!
//! A partial response that finishes some records starts a new batch for the rest (its retry
//! count starts again, as Lambda's next poll from the committed offset would); one that finishes
//! nothing is a retry of the same batch.

use std::collections::VecDeque;
use std::future::Future;

use chrono::Utc;
use tokio::time::Instant;

use crate::batch::{BatchBuilder, Rejected};
use crate::config::TriggerConfig;
use crate::destination::{failure_message, Condition, Failure, KafkaDestination, LastResponse};
use crate::error::TriggerError;
use crate::event::{EventRecord, KafkaEvent};
use crate::invoke::Invoker;
use crate::progress::Progress;
use crate::response::{self, Verdict};
use crate::source::KafkaSource;

/// What one step did with its batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    pub records: usize,
    /// Invocations it took, 1 when the first one succeeded.
    pub attempts: u32,
    /// Committed (topic, partition, next offset), sorted.
    pub committed: Vec<(String, i32, i64)>,
    /// Records written to the on-failure destination.
    pub to_destination: usize,
    /// Records given up without a destination to keep them.
    pub discarded: usize,
}

pub struct Trigger {
    config: TriggerConfig,
    source: KafkaSource,
    invoker: Invoker,
    destination: Option<KafkaDestination>,
    /// A record read but left out of the previous batch (full, or over the payload cap).
    carried: Option<EventRecord>,
}

/// Records of the batch still to be delivered together.
#[derive(Debug)]
struct Piece {
    records: Vec<EventRecord>,
    /// Retries spent, which `MaximumRetryAttempts` caps.
    retries: u32,
    /// Failed attempts in a row, including those that never reached the function: the backoff.
    failures: u32,
    /// Invocations that carried these records.
    invocations: u32,
    last_response: Option<LastResponse>,
    /// Request id of the last invocation.
    request_id: Option<String>,
}

impl Piece {
    fn new(records: Vec<EventRecord>) -> Piece {
        Piece {
            records,
            retries: 0,
            failures: 0,
            invocations: 0,
            last_response: None,
            request_id: None,
        }
    }

    /// A new batch of some of this piece's records: fresh retries and backoff, same history.
    fn successor(&self, records: Vec<EventRecord>) -> Piece {
        Piece {
            records,
            retries: 0,
            failures: 0,
            invocations: self.invocations,
            last_response: self.last_response.clone(),
            request_id: self.request_id.clone(),
        }
    }

    fn failure(&self, condition: Condition) -> Failure {
        Failure {
            request_id: self
                .request_id
                .clone()
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            condition,
            invocations: self.invocations,
            last_response: self.last_response.clone(),
            at: Utc::now(),
        }
    }
}

impl Trigger {
    pub fn new(config: TriggerConfig) -> Result<Trigger, TriggerError> {
        config.validate()?;
        let destination = match config.destination_topic()? {
            Some(topic) => Some(KafkaDestination::connect(&config, topic)?),
            None => None,
        };
        let source = KafkaSource::connect(&config)?;
        let invoker = Invoker::new(&config.function_url).map_err(TriggerError::HttpClient)?;
        tracing::info!(
            report_batch_item_failures = config.report_batch_item_failures,
            bisect_batch_on_function_error = config.bisect_batch_on_function_error,
            max_retries = ?config.effective_max_retries(),
            max_record_age = ?config.max_record_age,
            on_failure = ?config.on_failure,
            "error-handling controls"
        );
        Ok(Trigger {
            config,
            source,
            invoker,
            destination,
            carried: None,
        })
    }

    /// Runs until `shutdown` resolves (returning `Ok`) or an unrecoverable error.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) -> Result<(), TriggerError> {
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => {
                    tracing::info!("shutting down; records of the batch in flight that were not finished stay uncommitted");
                    return Ok(());
                }
                delivered = self.step() => {
                    let d = delivered?;
                    tracing::info!(
                        records = d.records,
                        attempts = d.attempts,
                        to_destination = d.to_destination,
                        discarded = d.discarded,
                        "batch finished and committed"
                    );
                }
            }
        }
    }

    /// Waits for records, delivers one batch and commits its offsets.
    pub async fn step(&mut self) -> Result<Delivered, TriggerError> {
        let records = self.gather().await?.into_records();
        let mut progress = Progress::new(&records);
        let mut delivered = Delivered {
            records: records.len(),
            attempts: 0,
            committed: Vec::new(),
            to_destination: 0,
            discarded: 0,
        };
        let mut work = VecDeque::from([Piece::new(records)]);
        while let Some(piece) = work.pop_front() {
            let next = self.deliver(piece, &mut progress, &mut delivered).await?;
            for piece in next.into_iter().rev() {
                work.push_front(piece);
            }
            self.commit(&mut progress).await?;
        }
        debug_assert!(progress.all_finished());
        delivered.committed = progress.committed();
        Ok(delivered)
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

    /// Sends one piece and decides what becomes of its records; returns the pieces to deliver
    /// next, in order.
    async fn deliver(
        &mut self,
        mut piece: Piece,
        progress: &mut Progress,
        delivered: &mut Delivered,
    ) -> Result<Vec<Piece>, TriggerError> {
        if piece.failures > 0 {
            tokio::time::sleep(self.config.retry.backoff(piece.failures)).await;
        }
        self.expire(&mut piece, progress, delivered).await?;
        // Expired records ahead of the rest are finished: the invocation sees them committed.
        self.commit(progress).await?;
        if piece.records.is_empty() {
            return Ok(Vec::new());
        }

        let event = KafkaEvent::with_records(
            &self.config.event_source,
            &self.config.bootstrap_servers,
            piece.records.iter().cloned(),
        );
        let payload = serde_json::to_vec(&event).map_err(TriggerError::Encode)?;
        delivered.attempts += 1;
        let result = self.invoker.invoke(payload).await;
        let response = match result {
            Err(error) if error.before_invocation() => {
                piece.failures += 1;
                tracing::warn!(%error, records = piece.records.len(), "function not reached; retrying the same batch (not counted as a retry)");
                return Ok(vec![piece]);
            }
            Err(error) => {
                piece.invocations += 1;
                piece.request_id = Some(uuid::Uuid::new_v4().to_string());
                piece.last_response =
                    error
                        .response_context()
                        .map(|(status_code, kind)| LastResponse {
                            status_code,
                            function_error: Some(kind),
                        });
                return self
                    .after_error(piece, &error.to_string(), progress, delivered)
                    .await;
            }
            Ok(response) => response,
        };
        piece.invocations += 1;
        piece.request_id = Some(uuid::Uuid::new_v4().to_string());
        piece.last_response = Some(LastResponse {
            status_code: response.status,
            function_error: None,
        });
        if !self.config.report_batch_item_failures {
            piece.records.iter().for_each(|r| progress.finish(r));
            return Ok(Vec::new());
        }
        match response::read(&response.body, &event) {
            Ok(Verdict::Success) => {
                piece.records.iter().for_each(|r| progress.finish(r));
                Ok(Vec::new())
            }
            Ok(Verdict::Partial(lowest)) => {
                self.after_partial(piece, &lowest, progress, delivered)
                    .await
            }
            Err(invalid) => {
                let reason =
                    format!("invalid partial batch response, the whole batch failed: {invalid}");
                self.after_error(piece, &reason, progress, delivered).await
            }
        }
    }

    /// Commits every partition that moved since the last commit.
    async fn commit(&self, progress: &mut Progress) -> Result<(), TriggerError> {
        let moved = progress.to_commit();
        if moved.is_empty() {
            return Ok(());
        }
        self.source.commit(&moved).await
    }

    /// Takes the records older than the maximum record age out of `piece` and gives them up.
    async fn expire(
        &mut self,
        piece: &mut Piece,
        progress: &mut Progress,
        delivered: &mut Delivered,
    ) -> Result<(), TriggerError> {
        let Some(max_age) = self.config.max_record_age else {
            return Ok(());
        };
        let oldest_allowed =
            Utc::now().timestamp_millis() - i64::try_from(max_age.as_millis()).unwrap_or(i64::MAX);
        // A record without a timestamp (-1) has no age.
        let (expired, live): (Vec<EventRecord>, Vec<EventRecord>) =
            std::mem::take(&mut piece.records)
                .into_iter()
                .partition(|r| r.timestamp >= 0 && r.timestamp < oldest_allowed);
        piece.records = live;
        if !expired.is_empty() {
            let failure = piece.failure(Condition::RecordAgeExceeded);
            self.give_up(&expired, &failure, progress, delivered)
                .await?;
        }
        Ok(())
    }

    /// The function reported some records in `batchItemFailures`: everything before the lowest
    /// reported offset of each partition, and every partition not reported, is done.
    async fn after_partial(
        &mut self,
        piece: Piece,
        lowest: &std::collections::BTreeMap<String, i64>,
        progress: &mut Progress,
        delivered: &mut Delivered,
    ) -> Result<Vec<Piece>, TriggerError> {
        let (failed, done): (Vec<EventRecord>, Vec<EventRecord>) =
            piece.records.iter().cloned().partition(|r| {
                lowest
                    .get(&r.group_key())
                    .is_some_and(|low| r.offset >= *low)
            });
        done.iter().for_each(|r| progress.finish(r));
        tracing::info!(reported = ?lowest, done = done.len(), again = failed.len(), "partial batch response; re-delivering from the reported offsets");
        if !done.is_empty() {
            return Ok(vec![piece.successor(failed)]);
        }
        self.retry_or_give_up(piece, progress, delivered).await
    }

    /// The invocation failed as a whole.
    async fn after_error(
        &mut self,
        piece: Piece,
        reason: &str,
        progress: &mut Progress,
        delivered: &mut Delivered,
    ) -> Result<Vec<Piece>, TriggerError> {
        if self.config.bisect_batch_on_function_error && piece.records.len() > 1 {
            let mut first = piece.records.clone();
            let second = first.split_off(first.len() / 2);
            tracing::warn!(reason, halves = ?(first.len(), second.len()), "invocation failed; splitting the batch");
            return Ok(vec![piece.successor(first), piece.successor(second)]);
        }
        tracing::warn!(
            reason,
            records = piece.records.len(),
            retries = piece.retries,
            "invocation failed"
        );
        self.retry_or_give_up(piece, progress, delivered).await
    }

    async fn retry_or_give_up(
        &mut self,
        mut piece: Piece,
        progress: &mut Progress,
        delivered: &mut Delivered,
    ) -> Result<Vec<Piece>, TriggerError> {
        if self
            .config
            .effective_max_retries()
            .is_some_and(|max| piece.retries >= max)
        {
            let failure = piece.failure(Condition::RetriesExhausted);
            self.give_up(&piece.records, &failure, progress, delivered)
                .await?;
            return Ok(Vec::new());
        }
        piece.retries += 1;
        piece.failures += 1;
        Ok(vec![piece])
    }

    /// Writes `records` to the on-failure destination, or discards them, and counts them as
    /// finished either way.
    async fn give_up(
        &self,
        records: &[EventRecord],
        failure: &Failure,
        progress: &mut Progress,
        delivered: &mut Delivered,
    ) -> Result<(), TriggerError> {
        let Some(destination) = &self.destination else {
            for r in records {
                tracing::error!(
                    topic = %r.topic, partition = r.partition, offset = r.offset, condition = ?failure.condition,
                    "record discarded, as Lambda does without an on-failure destination (set --on-failure-destination kafka://<topic> to keep it)"
                );
                progress.finish(r);
            }
            delivered.discarded += records.len();
            return Ok(());
        };
        for r in records {
            let (key, value) =
                failure_message(r, failure, &self.config).map_err(TriggerError::Encode)?;
            destination.send(r, key.as_deref(), &value).await?;
            progress.finish(r);
        }
        delivered.to_destination += records.len();
        tracing::warn!(
            records = records.len(), condition = ?failure.condition, destination = destination.topic(),
            "records written to the on-failure destination"
        );
        Ok(())
    }
}
