//! `kafka-trigger`: the Lambda Kafka trigger for local runs. See the crate docs.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use kafka_trigger::config::{RetryPolicy, LAMBDA_MAX_PAYLOAD_BYTES};
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

/// Plays the AWS Lambda Kafka trigger against a local function endpoint.
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
    /// Retries of a failing batch before the trigger stops (offsets stay uncommitted). Unlimited
    /// when absent, as with Lambda's default.
    #[arg(long)]
    max_retries: Option<u32>,
    /// Extra librdkafka consumer property, key=value (repeatable), e.g. security.protocol=SSL.
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
            function_url: self.function_url,
            batch_size: self.batch_size,
            batching_window: Duration::from_millis(self.batching_window_ms),
            max_payload_bytes: self.max_payload_bytes,
            retry: RetryPolicy {
                initial_backoff: Duration::from_millis(self.retry_backoff_ms),
                max_backoff: Duration::from_millis(self.retry_max_backoff_ms),
                max_retries: self.max_retries,
            },
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
