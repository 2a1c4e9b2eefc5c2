//! What can go wrong with the error topic. Start-up variants name the offending
//! `runtime.error.topic.producer.<property>`; their texts never carry a secret-ish property's
//! value (see `properties::redact`).

use crate::event::RecordId;

#[derive(Debug, thiserror::Error)]
pub enum ErrorTopicError {
    /// A pass-through property that librdkafka rejects, or one that would undo what the error
    /// topic guarantees (idempotence, acks=all, the configured servers).
    #[error("runtime.error.topic.producer.{property}: {reason}")]
    Property { property: String, reason: String },

    /// librdkafka refused the configuration as a whole (e.g. SASL settings without a mechanism).
    #[error("the error-topic producer for `{topic}` cannot be created: {reason}")]
    Create { topic: String, reason: String },

    /// The producer hit a fatal error and no new one could be made; nothing was sent. The
    /// invocation fails, and a later one tries again.
    #[error("error topic `{topic}`: {reason}")]
    Unavailable { topic: String, reason: String },

    /// Some error records were not acknowledged by the broker. Nothing of the batch may be
    /// acknowledged to the trigger: it retries, so no record is lost.
    #[error("error topic `{topic}`: {unacknowledged} of {total} error record(s) not acknowledged by the broker; first: {first}: {cause}")]
    NotAcknowledged {
        topic: String,
        total: usize,
        unacknowledged: usize,
        /// The first record (in batch order) without an acknowledgement.
        first: RecordId,
        cause: String,
    },
}
