//! What the trigger needs to know: the same knobs as a Lambda Kafka event source mapping
//! (batching, starting position, and the error-handling controls of provisioned mode: retries,
//! record age, split batch on error, partial batch responses, on-failure destination), plus the
//! local function URL and the retry backoff.

use std::time::Duration;

/// Lambda's synchronous invocation payload limit: 6 MB, counted as 6 MiB of JSON.
pub const LAMBDA_MAX_PAYLOAD_BYTES: usize = 6 * 1024 * 1024;
/// Lambda's limits for `BatchSize` on Kafka mappings.
pub const MAX_BATCH_SIZE: usize = 10_000;
/// Lambda's limit for `MaximumBatchingWindowInSeconds`.
pub const MAX_BATCHING_WINDOW: Duration = Duration::from_secs(300);
/// Lambda's range for `MaximumRetryAttempts` (besides -1, unlimited).
pub const MAX_RETRY_ATTEMPTS: u32 = 10_000;
/// Lambda's range for `MaximumRecordAgeInSeconds` (besides -1, unlimited).
pub const RECORD_AGE_RANGE: std::ops::RangeInclusive<u64> = 60..=604_800;
/// Retries Lambda applies when they are left unlimited but an on-failure destination is set
/// (https://docs.aws.amazon.com/lambda/latest/dg/kafka-on-failure-destination.html).
pub const RETRIES_WITH_DESTINATION: u32 = 10;
/// How a Kafka on-failure destination is written in `DestinationConfig.OnFailure.Destination`.
pub const KAFKA_DESTINATION_PREFIX: &str = "kafka://";

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
    /// `FunctionResponseTypes: [ReportBatchItemFailures]`: read the function's
    /// `batchItemFailures`. Off, any successful response means the whole batch succeeded.
    pub report_batch_item_failures: bool,
    /// `BisectBatchOnFunctionError`: a failing batch is split in two and each half retried.
    pub bisect_batch_on_function_error: bool,
    /// `MaximumRecordAgeInSeconds`: older records are not sent to the function but to the
    /// on-failure destination (or discarded). `None` is Lambda's -1, no limit.
    pub max_record_age: Option<Duration>,
    /// `DestinationConfig.OnFailure.Destination`, as `kafka://<topic>` on the same cluster.
    pub on_failure: Option<String>,
    /// `requestContext.functionArn` of the failure records written to the destination.
    pub function_arn: String,
    /// Extra librdkafka client properties (e.g. `security.protocol`, `sasl.*`), for the
    /// consumer and for the on-failure destination's producer.
    pub consumer_properties: Vec<(String, String)>,
}

/// How a failed invocation is retried. Lambda's default is to retry forever; the partition
/// makes no progress until the batch succeeds.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// `MaximumRetryAttempts`: retries after the first attempt; `None` (Lambda's -1) retries
    /// until the batch succeeds, or 10 times when an on-failure destination is set.
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
    #[error("maximum retry attempts {0} is outside Lambda's range 0..={MAX_RETRY_ATTEMPTS} (or unlimited)")]
    RetryAttempts(u32),
    #[error("maximum record age {0:?} is outside Lambda's range of 60 to 604800 s (or unlimited)")]
    RecordAge(Duration),
    #[error("on-failure destination `{0}` cannot be played locally: give kafka://<topic> (SQS, SNS and S3 destinations exist only in AWS)")]
    DestinationScheme(String),
    #[error("on-failure destination topic `{0}` is not a valid Kafka topic name (1 to 249 of a-z A-Z 0-9 . _ -)")]
    DestinationTopic(String),
    #[error("on-failure destination topic `{0}` is also a source topic; Lambda refuses this to prevent a loop: use another topic")]
    DestinationIsSource(String),
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
        if let Some(max) = self.retry.max_retries.filter(|m| *m > MAX_RETRY_ATTEMPTS) {
            return Err(ConfigError::RetryAttempts(max));
        }
        if let Some(age) = self
            .max_record_age
            .filter(|age| !RECORD_AGE_RANGE.contains(&age.as_secs()) || age.subsec_nanos() != 0)
        {
            return Err(ConfigError::RecordAge(age));
        }
        self.destination_topic()?;
        Ok(())
    }

    /// The topic of the on-failure destination, checked as Lambda checks it.
    pub fn destination_topic(&self) -> Result<Option<&str>, ConfigError> {
        let Some(destination) = &self.on_failure else {
            return Ok(None);
        };
        let topic = destination
            .strip_prefix(KAFKA_DESTINATION_PREFIX)
            .ok_or_else(|| ConfigError::DestinationScheme(destination.clone()))?;
        let valid_name = (1..=249).contains(&topic.len())
            && !topic.starts_with('.')
            && topic
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !valid_name {
            return Err(ConfigError::DestinationTopic(topic.to_string()));
        }
        if self.topics.iter().any(|t| t == topic) {
            return Err(ConfigError::DestinationIsSource(topic.to_string()));
        }
        Ok(Some(topic))
    }

    /// Retries after the first attempt, as Lambda applies them: unlimited retries become 10
    /// when an on-failure destination is set.
    pub fn effective_max_retries(&self) -> Option<u32> {
        match (self.retry.max_retries, &self.on_failure) {
            (None, Some(_)) => Some(RETRIES_WITH_DESTINATION),
            (max, _) => max,
        }
    }
}

/// `arn:aws:lambda:us-east-1:123456789012:function:<name>` for a Lambda Invoke API URL
/// (`.../functions/<name>/invocations`), the local stand-in for the function's ARN.
pub fn function_arn_for(function_url: &str) -> String {
    let name = function_url
        .split("/functions/")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .filter(|name| !name.is_empty())
        .unwrap_or("function");
    format!("arn:aws:lambda:us-east-1:123456789012:function:{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> TriggerConfig {
        TriggerConfig {
            bootstrap_servers: "127.0.0.1:9092".into(),
            topics: vec!["orders".into()],
            consumer_group_id: "g".into(),
            starting_position: StartingPosition::TrimHorizon,
            event_source: EventSource::SelfManaged,
            function_url: "http://127.0.0.1:9000/2015-03-31/functions/sink/invocations".into(),
            batch_size: 100,
            batching_window: Duration::from_millis(500),
            max_payload_bytes: LAMBDA_MAX_PAYLOAD_BYTES,
            retry: RetryPolicy::default(),
            report_batch_item_failures: false,
            bisect_batch_on_function_error: false,
            max_record_age: None,
            on_failure: None,
            function_arn: "arn:aws:lambda:us-east-1:123456789012:function:sink".into(),
            consumer_properties: vec![],
        }
    }

    #[test]
    fn error_handling_controls_are_checked_against_lambdas_ranges() {
        assert_eq!(config().validate(), Ok(()));
        let mut c = config();
        c.retry.max_retries = Some(10_001);
        assert_eq!(c.validate(), Err(ConfigError::RetryAttempts(10_001)));
        c.retry.max_retries = Some(10_000);
        assert_eq!(c.validate(), Ok(()));

        for (secs, ok) in [(59, false), (60, true), (604_800, true), (604_801, false)] {
            let mut c = config();
            c.max_record_age = Some(Duration::from_secs(secs));
            assert_eq!(c.validate().is_ok(), ok, "{secs} s");
        }
    }

    #[test]
    fn only_a_kafka_topic_other_than_the_sources_is_a_local_destination() {
        let mut c = config();
        c.on_failure = Some("kafka://orders-dlq".into());
        assert_eq!(c.destination_topic(), Ok(Some("orders-dlq")));
        c.on_failure = Some("kafka://orders".into());
        assert_eq!(
            c.validate(),
            Err(ConfigError::DestinationIsSource("orders".into()))
        );
        c.on_failure = Some("arn:aws:sqs:us-east-1:123456789012:dlq".into());
        assert!(matches!(
            c.validate(),
            Err(ConfigError::DestinationScheme(_))
        ));
        for bad in ["kafka://", "kafka://.hidden", "kafka://a b"] {
            c.on_failure = Some(bad.into());
            assert!(
                matches!(c.validate(), Err(ConfigError::DestinationTopic(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn unlimited_retries_become_ten_with_a_destination() {
        let mut c = config();
        assert_eq!(c.effective_max_retries(), None);
        c.on_failure = Some("kafka://dlq".into());
        assert_eq!(c.effective_max_retries(), Some(RETRIES_WITH_DESTINATION));
        c.retry.max_retries = Some(0);
        assert_eq!(c.effective_max_retries(), Some(0));
    }

    #[test]
    fn function_arn_comes_from_the_invoke_url() {
        assert_eq!(
            function_arn_for("http://127.0.0.1:9000/2015-03-31/functions/sink/invocations"),
            "arn:aws:lambda:us-east-1:123456789012:function:sink"
        );
        assert_eq!(
            function_arn_for("http://127.0.0.1:9000/other"),
            "arn:aws:lambda:us-east-1:123456789012:function:function"
        );
    }

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
