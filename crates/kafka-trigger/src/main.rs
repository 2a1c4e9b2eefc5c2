//! `kafka-trigger`: the Lambda Kafka trigger for local runs. See the crate docs.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use kafka_trigger::config::{function_arn_for, RetryPolicy, LAMBDA_MAX_PAYLOAD_BYTES};
use kafka_trigger::{EventSource, StartingPosition, Trigger, TriggerConfig};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Source {
    /// `eventSource` `aws:kafka` with `eventSourceArn`.
    Msk,
    /// `eventSource` `SelfManagedKafka`.
    SelfManaged,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Position {
    TrimHorizon,
    Latest,
}

/// Plays the AWS Lambda Kafka trigger against a local function endpoint: batches as Lambda
/// builds them, offsets committed only past finished records, and the error-handling controls of
/// a provisioned-mode mapping (retries, record age, split batch on error, partial batch
/// responses, a Kafka on-failure destination).
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Kafka brokers, host:port[,host:port].
    #[arg(long)]
    bootstrap_servers: String,
    /// Topics to consume (comma-separated or repeated).
    #[arg(long = "topic", required = true, value_delimiter = ',')]
    topics: Vec<String>,
    /// Consumer group whose committed offsets mark delivered records.
    #[arg(long, default_value = "kafka-trigger")]
    consumer_group_id: String,
    #[arg(long, value_enum, default_value = "trim-horizon")]
    starting_position: Position,
    #[arg(long, value_enum, default_value = "self-managed")]
    event_source: Source,
    /// `eventSourceArn` of MSK events.
    #[arg(
        long,
        default_value = "arn:aws:kafka:us-east-1:123456789012:cluster/local/00000000-0000-0000-0000-000000000000-1"
    )]
    event_source_arn: String,
    /// Lambda Invoke API URL of the function (cargo lambda watch's by default).
    #[arg(
        long,
        default_value = "http://127.0.0.1:9000/2015-03-31/functions/maxcompute-kafka-sink/invocations"
    )]
    function_url: String,
    /// Most records per invocation (Lambda: 1..=10000, default 100).
    #[arg(long, default_value_t = 100)]
    batch_size: usize,
    /// Milliseconds to gather records after the first one (Lambda's default is 500).
    #[arg(long, default_value_t = 500)]
    batching_window_ms: u64,
    /// Largest event in bytes (Lambda: 6 MB).
    #[arg(long, default_value_t = LAMBDA_MAX_PAYLOAD_BYTES)]
    max_payload_bytes: usize,
    /// First retry backoff in milliseconds; doubles per retry.
    #[arg(long, default_value_t = 200)]
    retry_backoff_ms: u64,
    /// Longest retry backoff in milliseconds.
    #[arg(long, default_value_t = 30_000)]
    retry_max_backoff_ms: u64,
    /// MaximumRetryAttempts: retries of a failing batch (0-10000, or -1 for unlimited, Lambda's
    /// default; unlimited becomes 10 with an on-failure destination). Then its records go to the
    /// on-failure destination, or are discarded without one, and the partitions move on.
    #[arg(long, alias = "max-retries", default_value_t = -1, allow_negative_numbers = true,
          value_parser = clap::value_parser!(i64).range(-1..=10_000))]
    maximum_retry_attempts: i64,
    /// MaximumRecordAgeInSeconds: records older than this (by their Kafka timestamp) are not
    /// sent to the function but to the on-failure destination, or discarded (60-604800, or -1
    /// for no limit, Lambda's default).
    #[arg(long, default_value_t = -1, allow_negative_numbers = true,
          value_parser = clap::value_parser!(i64).range(-1..=604_800))]
    maximum_record_age_in_seconds: i64,
    /// BisectBatchOnFunctionError: a batch that fails is split in two and each half retried
    /// (a split costs no retry), down to single records.
    #[arg(long)]
    bisect_batch_on_function_error: bool,
    /// FunctionResponseTypes ReportBatchItemFailures: read the function's
    /// {"batchItemFailures":[{"itemIdentifier":{"partition":"<topic>-<p>","offset":N}}]}; each
    /// reported partition is committed up to its lowest reported offset and re-delivered from
    /// it, the others are done. Without the flag such a response counts as complete success.
    #[arg(long)]
    report_batch_item_failures: bool,
    /// DestinationConfig OnFailure: kafka://<topic> on the same cluster (not a source topic).
    /// Each failed record is written there as Lambda writes it: its own key, and the failure
    /// metadata with the record under "payload".
    #[arg(long, value_name = "kafka://TOPIC")]
    on_failure_destination: Option<String>,
    /// requestContext.functionArn of failure records; derived from the function URL's name.
    #[arg(long)]
    function_arn: Option<String>,
    /// Extra librdkafka client property, key=value (repeatable), e.g. security.protocol=SSL;
    /// also used by the on-failure destination's producer.
    #[arg(short = 'X', long = "consumer-property", value_parser = parse_property)]
    consumer_properties: Vec<(String, String)>,
}

fn parse_property(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.to_string()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("`{text}` is not key=value"))
}

impl Args {
    fn into_config(self) -> TriggerConfig {
        TriggerConfig {
            bootstrap_servers: self.bootstrap_servers,
            topics: self.topics,
            consumer_group_id: self.consumer_group_id,
            starting_position: match self.starting_position {
                Position::TrimHorizon => StartingPosition::TrimHorizon,
                Position::Latest => StartingPosition::Latest,
            },
            event_source: match self.event_source {
                Source::Msk => EventSource::Msk {
                    cluster_arn: self.event_source_arn,
                },
                Source::SelfManaged => EventSource::SelfManaged,
            },
            function_arn: self
                .function_arn
                .unwrap_or_else(|| function_arn_for(&self.function_url)),
            function_url: self.function_url,
            batch_size: self.batch_size,
            batching_window: Duration::from_millis(self.batching_window_ms),
            max_payload_bytes: self.max_payload_bytes,
            retry: RetryPolicy {
                initial_backoff: Duration::from_millis(self.retry_backoff_ms),
                max_backoff: Duration::from_millis(self.retry_max_backoff_ms),
                // -1 is Lambda's "unlimited"; the parser allows nothing below it.
                max_retries: u32::try_from(self.maximum_retry_attempts).ok(),
            },
            report_batch_item_failures: self.report_batch_item_failures,
            bisect_batch_on_function_error: self.bisect_batch_on_function_error,
            max_record_age: u64::try_from(self.maximum_record_age_in_seconds)
                .ok()
                .map(Duration::from_secs),
            on_failure: self.on_failure_destination,
            consumer_properties: self.consumer_properties,
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "kafka_trigger=info".into()),
        )
        .init();
    let config = Args::parse().into_config();
    let shutdown = async {
        // If the signal handler cannot be installed, run until killed.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let result = match Trigger::new(config) {
        Ok(trigger) => trigger.run(shutdown).await,
        Err(error) => Err(error),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "kafka-trigger stopped");
            ExitCode::FAILURE
        }
    }
}
