//! `kafka-trigger` plays the AWS Lambda Kafka event source mapping on a laptop: it reads topics
//! from a Kafka broker, builds invocation events exactly as Lambda does (records grouped by
//! `topic-partition`, base64 key and value, signed header bytes, batch size, batching window and
//! the 6 MB payload cap), invokes a local function endpoint such as `cargo lambda watch`, and
//! commits the consumer group's offsets only after the function succeeded. A failed batch is
//! retried, unchanged, with backoff.

pub mod batch;
pub mod config;
pub mod error;
pub mod event;
pub mod invoke;
pub mod source;
#[cfg(feature = "testing")]
pub mod testing;
pub mod trigger;

pub use config::{EventSource, StartingPosition, TriggerConfig};
pub use error::TriggerError;
pub use trigger::{Delivered, Trigger};
