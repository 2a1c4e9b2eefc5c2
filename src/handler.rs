//! Process-wide state built once per cold start, and the invocation handler that tests call
//! directly.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use lambda_runtime::{Diagnostic, LambdaEvent};
use maxcompute_tunnel::auth::CredentialProvider;
use maxcompute_tunnel::{ClientConfig, RetryConfig, TunnelClient};
use tokio::time::Instant;

use crate::config::SinkConfig;
use crate::convert::{Converter, SchemaMismatch};
use crate::event::KafkaEvent;
use crate::sink::{ErrorSink, InvocationError, Sink, Summary};

pub const USER_AGENT: &str = concat!("maxcompute-kafka-sink/", env!("CARGO_PKG_VERSION"));

/// Time kept back from the invocation deadline so that a failure is reported cleanly instead
/// of the runtime killing the function mid-write.
const MIN_MARGIN: Duration = Duration::from_secs(1);
const MAX_MARGIN: Duration = Duration::from_secs(5);

/// Time the start-up checks may take. Lambda gives the init phase 10 s; an unreachable endpoint
/// or a refused AssumeRole must fail within it with its own message, not a platform timeout.
pub const STARTUP_BUDGET: Duration = Duration::from_secs(8);

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot build the MaxCompute client: {0}")]
    Client(#[source] maxcompute_tunnel::Error),
    #[error("cannot read the schema of table {table} in project {project} (check project, table, endpoint and credentials): {source}")]
    Schema {
        project: String,
        table: String,
        #[source]
        source: maxcompute_tunnel::Error,
    },
    #[error(transparent)]
    Mismatch(#[from] SchemaMismatch),
    #[error("the error topic `{topic}` is configured but no error-topic producer was provided; remove runtime.error.topic.* or use a build with the producer")]
    NoErrorSink { topic: String },
}

/// What every invocation of this process shares.
#[derive(Debug)]
pub struct Shared {
    pub sink: Sink,
}

impl Shared {
    /// Connects, loads the table schema and checks it against the format; every problem here
    /// is a start-up error, never a per-record one.
    pub async fn build(
        config: &SinkConfig,
        credentials: Arc<dyn CredentialProvider>,
        error_sink: Option<Arc<dyn ErrorSink>>,
    ) -> Result<Shared, StartupError> {
        if let (Some(topic), None) = (&config.error_topic, &error_sink) {
            return Err(StartupError::NoErrorSink {
                topic: topic.topic.clone(),
            });
        }
        let mut client_config =
            ClientConfig::new(&config.target.endpoint, &config.target.project, credentials)
                .with_user_agent(USER_AGENT)
                .with_retry(RetryConfig {
                    max_attempts: config.retry_times + 1,
                    ..RetryConfig::default()
                });
        if let Some(tunnel) = &config.target.tunnel_endpoint {
            client_config = client_config.with_tunnel_endpoint(tunnel);
        }
        if let Some(schema) = &config.target.schema {
            client_config = client_config.with_schema(schema);
        }
        let client = TunnelClient::new(client_config).map_err(StartupError::Client)?;
        let schema = client
            .table_schema(&config.target.table, Some(Instant::now() + STARTUP_BUDGET))
            .await
            .map_err(|source| StartupError::Schema {
                project: config.target.project.clone(),
                table: config.target.table.clone(),
                source,
            })?;
        let converter = Converter::new(config, &schema)?;
        tracing::info!(
            project = %config.target.project,
            table = %config.target.table,
            format = config.format.name(),
            mode = config.mode.name(),
            streaming = config.use_streaming,
            "table schema loaded and checked"
        );
        Ok(Shared {
            sink: Sink::new(config, client, Arc::new(schema), converter, error_sink),
        })
    }
}

/// One invocation: the trigger's batch in, a summary out. An error makes the trigger retry
/// the whole batch.
pub async fn handler(
    shared: &Shared,
    event: LambdaEvent<KafkaEvent>,
) -> Result<Summary, InvocationError> {
    let started: DateTime<Utc> = Utc::now();
    let deadline = budget(event.context.deadline, SystemTime::now()).map(|b| Instant::now() + b);
    shared.sink.process(&event.payload, started, deadline).await
}

/// Lambda's longest timeout. A deadline no later than this after the Unix epoch cannot be an
/// epoch time: local runtime emulators (cargo-lambda 1.9 sends `600000`) send the remaining
/// time instead, and reading it as 1970 would make every write give up at once.
const MAX_RELATIVE_DEADLINE_MS: u64 = 15 * 60 * 1000;

/// Time this invocation may spend: until the Lambda deadline (epoch ms) less a margin; `None`
/// when the context carries no deadline (0), as in direct calls.
fn budget(deadline_ms: u64, now: SystemTime) -> Option<Duration> {
    if deadline_ms == 0 {
        return None;
    }
    let remaining = if deadline_ms <= MAX_RELATIVE_DEADLINE_MS {
        Duration::from_millis(deadline_ms)
    } else {
        let end = SystemTime::UNIX_EPOCH + Duration::from_millis(deadline_ms);
        end.duration_since(now).unwrap_or(Duration::ZERO)
    };
    let margin = (remaining / 10).clamp(MIN_MARGIN, MAX_MARGIN);
    Some(remaining.saturating_sub(margin))
}

impl From<InvocationError> for Diagnostic {
    fn from(error: InvocationError) -> Diagnostic {
        let kind = match &error {
            InvocationError::RecordRejected { .. } => "RecordRejected",
            InvocationError::Tunnel { .. } => "TunnelError",
            InvocationError::PartitionValue { .. } => "PartitionValue",
            InvocationError::ErrorTopic(_) => "ErrorTopic",
            InvocationError::SchemaChanged { .. } => "SchemaChanged",
        };
        Diagnostic {
            error_type: kind.to_string(),
            error_message: error.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_keeps_a_margin() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        assert_eq!(budget(0, now), None);
        // 60 s left: a tenth, capped at 5 s, is kept back.
        assert_eq!(budget(1_060_000, now), Some(Duration::from_secs(55)));
        // 8 s left: 0.8 s is under the 1 s floor.
        assert_eq!(budget(1_008_000, now), Some(Duration::from_secs(7)));
        // 20 s left: 2 s.
        assert_eq!(budget(1_020_000, now), Some(Duration::from_secs(18)));
        // Already past: nothing left, so the next call gives up at once.
        assert_eq!(budget(999_000, now), Some(Duration::ZERO));
    }

    #[test]
    fn a_deadline_within_fifteen_minutes_of_the_epoch_is_the_remaining_time() {
        let now = SystemTime::now();
        // cargo-lambda's runtime API: 600 s remaining, less the 5 s margin.
        assert_eq!(budget(600_000, now), Some(Duration::from_secs(595)));
        assert_eq!(budget(900_000, now), Some(Duration::from_secs(895)));
    }
}
