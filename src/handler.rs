//! The Lambda side of an invocation: the deadline and the error type the runtime reports. The
//! handler is a plain `async fn` that tests call directly with a sink built by `Sink::build`.

use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use lambda_runtime::{Diagnostic, LambdaEvent};
use tokio::time::Instant;

use crate::event::KafkaEvent;
use crate::sink::{InvocationError, Sink, Summary};

/// Time kept back from the invocation deadline so that a failure is reported cleanly instead
/// of the runtime killing the function mid-write.
const MIN_MARGIN: Duration = Duration::from_secs(1);
const MAX_MARGIN: Duration = Duration::from_secs(5);

/// One invocation: the trigger's batch in, a summary out. An error makes the trigger retry
/// the whole batch.
pub async fn handler(
    sink: &Sink,
    event: LambdaEvent<KafkaEvent>,
) -> Result<Summary, InvocationError> {
    let started: DateTime<Utc> = Utc::now();
    let deadline = budget(event.context.deadline, SystemTime::now()).map(|b| Instant::now() + b);
    sink.process(&event.payload, started, deadline).await
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
