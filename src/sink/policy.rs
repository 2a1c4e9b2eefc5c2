//! The connector's order for records that do not become rows: (1) the error topic when one is
//! configured, even with skip_error=false; (2) otherwise skip when skip_error=true, logging each
//! record's coordinates; (3) otherwise fail the invocation naming the first record.

use std::sync::Arc;

use tokio::time::Instant;

use super::error::InvocationError;
use super::summary::Summary;
use crate::config::SinkConfig;
use crate::error_topic::{ErrorSink, ErrorTopicError, ErrorTopicProducer};
use crate::failed::FailedRecord;

/// What happens to the records that do not become rows, from whichever step refused them.
#[derive(Debug, Clone)]
pub enum ErrorPolicy {
    /// Republished, and acknowledged, before any row is written.
    Republish(Arc<dyn ErrorSink>),
    /// Logged and dropped.
    Skip,
    /// The invocation fails, naming the first record.
    Fail,
}

impl ErrorPolicy {
    /// The policy the configuration asks for. With an error topic its producer is built here
    /// (nothing connects yet), so an error topic cannot be configured without one.
    /// `connector_name` goes into `__connect.errors.connector.name`.
    pub fn from_config(
        config: &SinkConfig,
        connector_name: impl Into<String>,
    ) -> Result<ErrorPolicy, ErrorTopicError> {
        Ok(match &config.error_topic {
            Some(topic) => {
                ErrorPolicy::Republish(Arc::new(ErrorTopicProducer::new(topic, connector_name)?))
            }
            None if config.skip_error => ErrorPolicy::Skip,
            None => ErrorPolicy::Fail,
        })
    }

    /// Applies the policy to all of `failed` at once, counting them in `summary`; no call waits
    /// past `deadline`.
    pub async fn handle(
        &self,
        failed: &[FailedRecord<'_>],
        summary: &mut Summary,
        deadline: Option<Instant>,
    ) -> Result<(), InvocationError> {
        let Some(first) = failed.first() else {
            return Ok(());
        };
        match self {
            ErrorPolicy::Republish(sink) => {
                sink.publish(failed, deadline).await?;
                warn_each(failed, "record republished to the error topic");
                summary.republished += failed.len() as u64;
                Ok(())
            }
            ErrorPolicy::Skip => {
                warn_each(failed, "record skipped (skip_error=true)");
                summary.skipped += failed.len() as u64;
                Ok(())
            }
            ErrorPolicy::Fail => {
                summary.failed += failed.len() as u64;
                Err(InvocationError::RecordRejected {
                    first: first.id(),
                    first_message: first.to_string(),
                    count: failed.len(),
                })
            }
        }
    }
}

/// One warning per record not written, with its coordinates and why, so that each can be found
/// again in Kafka; `outcome` says where it went instead.
fn warn_each(failed: &[FailedRecord<'_>], outcome: &str) {
    for f in failed {
        tracing::warn!(
            topic = %f.record.topic,
            partition = f.record.partition,
            offset = f.record.offset,
            stage = f.step(),
            kind = f.kind(),
            reason = %f,
            "{outcome}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(extra: &[(&str, &str)]) -> SinkConfig {
        let base = [
            ("MC_ENDPOINT", "http://127.0.0.1:1/api"),
            ("MC_PROJECT", "p"),
            ("MC_TABLE", "t"),
            ("MC_ACCESS_ID", "id"),
            ("MC_ACCESS_KEY", "key"),
        ];
        SinkConfig::from_vars(base.iter().chain(extra).copied()).unwrap()
    }

    #[test]
    fn the_configuration_chooses_the_policy() {
        let topic = [
            ("MC_RUNTIME_ERROR_TOPIC_NAME", "errors"),
            ("MC_RUNTIME_ERROR_TOPIC_BOOTSTRAP_SERVERS", "127.0.0.1:1"),
        ];
        let with_topic = ErrorPolicy::from_config(&config(&topic), "fn").unwrap();
        assert!(matches!(with_topic, ErrorPolicy::Republish(_)));
        let skip_too = [topic.as_slice(), &[("MC_SKIP_ERROR", "true")]].concat();
        let topic_wins = ErrorPolicy::from_config(&config(&skip_too), "fn").unwrap();
        assert!(matches!(topic_wins, ErrorPolicy::Republish(_)));
        let skip = ErrorPolicy::from_config(&config(&[("MC_SKIP_ERROR", "true")]), "fn").unwrap();
        assert!(matches!(skip, ErrorPolicy::Skip));
        let fail = ErrorPolicy::from_config(&config(&[]), "fn").unwrap();
        assert!(matches!(fail, ErrorPolicy::Fail));
    }
}
