//! The connector's order for records that cannot become rows: (1) the error topic when one is
//! configured, even with skip_error=false; (2) otherwise skip when skip_error=true, logging each
//! record's coordinates; (3) otherwise fail the invocation naming the first record.

use tokio::time::Instant;

use super::error::InvocationError;
use super::error_sink::{ErrorSink, FailedRecord};
use super::summary::Summary;

pub async fn apply(
    failed: &[FailedRecord<'_>],
    error_sink: Option<&dyn ErrorSink>,
    skip_error: bool,
    summary: &mut Summary,
    deadline: Option<Instant>,
) -> Result<(), InvocationError> {
    if failed.is_empty() {
        return Ok(());
    }
    if let Some(sink) = error_sink {
        sink.publish(failed, deadline).await?;
        warn_each(failed, "record republished to the error topic");
        summary.republished += failed.len() as u64;
        return Ok(());
    }
    if skip_error {
        warn_each(failed, "record skipped (skip_error=true)");
        summary.skipped += failed.len() as u64;
        return Ok(());
    }
    summary.failed += failed.len() as u64;
    let first = &failed[0];
    Err(InvocationError::RecordRejected {
        first: first.id(),
        first_message: first.message.clone(),
        count: failed.len(),
    })
}

/// One warning per record not written, with its coordinates and why, so that each can be found
/// again in Kafka; `outcome` says where it went instead.
fn warn_each(failed: &[FailedRecord<'_>], outcome: &str) {
    for f in failed {
        tracing::warn!(
            topic = %f.record.topic,
            partition = f.record.partition,
            offset = f.record.offset,
            stage = f.stage,
            kind = f.kind,
            reason = %f.message,
            "{outcome}"
        );
    }
}
