//! What the trigger needs to know: the same knobs as a Lambda Kafka event source mapping, plus
//! the local function URL and the retry policy.

use std::time::Duration;

/// Lambda's synchronous invocation payload limit: 6 MB, counted as 6 MiB of JSON.
pub const LAMBDA_MAX_PAYLOAD_BYTES: usize = 6 * 1024 * 1024;
/// Lambda's limits for `BatchSize` on Kafka mappings.
pub const MAX_BATCH_SIZE: usize = 10_000;
/// Lambda's limit for `MaximumBatchingWindowInSeconds`.
pub const MAX_BATCHING_WINDOW: Duration = Duration::from_secs(300);

/// Which `eventSource` the events carry, and so which envelope fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventSource {
    /// `aws:kafka`, with the cluster ARN in `eventSourceArn`.
    Msk { cluster_arn: String },
    /// `SelfManagedKafka`, without `eventSourceArn`.
    SelfManaged,
}

/// Where a consumer group without committed offsets starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartingPosition {
    TrimHorizon,
    Latest,
}

#[derive(Debug, Clone)]
pub struct TriggerConfig {
    /// `bootstrap.servers`, also reported in the event's `bootstrapServers`.
    pub bootstrap_servers: String,
    pub topics: Vec<String>,
    pub consumer_group_id: String,
    pub starting_position: StartingPosition,
    pub event_source: EventSource,
    /// `POST` target, e.g. `http://127.0.0.1:9000/2015-03-31/functions/<name>/invocations`.
    pub function_url: String,
    pub batch_size: usize,
    /// Time to gather more records once the first record of a batch has arrived.
    pub batching_window: Duration,
    pub max_payload_bytes: usize,
    pub retry: RetryPolicy,
    /// Extra librdkafka consumer properties (e.g. `security.protocol`, `sasl.*`).
    pub consumer_properties: Vec<(String, String)>,
}

/// How a failed invocation is retried. Lambda's default is to retry forever; the partition
/// makes no progress until the batch succeeds.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// Retries after the first attempt; `None` retries until the batch succeeds.
    pub max_retries: Option<u32>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(30),
            max_retries: None,
        }
    }
}

impl RetryPolicy {
    /// Backoff before retry number `retry` (1-based): doubling from `initial_backoff`, capped.
    pub fn backoff(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.saturating_sub(1));
        self.initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("no topic to consume: give at least one topic")]
    NoTopics,
    #[error("batch size {0} is outside Lambda's range 1..={MAX_BATCH_SIZE}")]
    BatchSize(usize),
    #[error("batching window {0:?} exceeds Lambda's maximum of 300 s")]
    BatchingWindow(Duration),
    #[error("maximum payload of {0} bytes is too small to hold any event")]
    PayloadCap(usize),
    #[error("function URL `{0}` is not an http(s) URL")]
    FunctionUrl(String),
    #[error("consumer group id is empty")]
    GroupId,
}

impl TriggerConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.topics.is_empty() || self.topics.iter().any(|t| t.trim().is_empty()) {
            return Err(ConfigError::NoTopics);
        }
        if !(1..=MAX_BATCH_SIZE).contains(&self.batch_size) {
            return Err(ConfigError::BatchSize(self.batch_size));
        }
        if self.batching_window > MAX_BATCHING_WINDOW {
            return Err(ConfigError::BatchingWindow(self.batching_window));
        }
        if self.max_payload_bytes < 256 {
            return Err(ConfigError::PayloadCap(self.max_payload_bytes));
        }
        if !(self.function_url.starts_with("http://") || self.function_url.starts_with("https://"))
        {
            return Err(ConfigError::FunctionUrl(self.function_url.clone()));
        }
        if self.consumer_group_id.trim().is_empty() {
            return Err(ConfigError::GroupId);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let policy = RetryPolicy {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(500),
            max_retries: None,
        };
        let got: Vec<u128> = (1..=5).map(|n| policy.backoff(n).as_millis()).collect();
        assert_eq!(got, vec![100, 200, 400, 500, 500]);
        assert_eq!(policy.backoff(u32::MAX), Duration::from_millis(500));
    }
}
