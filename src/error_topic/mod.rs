//! The error topic (`runtime.error.topic.*`): records that cannot become rows are republished
//! byte-exact, with Kafka Connect's dead-letter context headers, and every one is acknowledged
//! by the broker before the invocation may succeed.
//!
//! # What an error record holds
//! - key and value: the original bytes (a null key or value stays null);
//! - headers: the original ones, byte for byte and in order, then `__connect.errors.topic`,
//!   `.partition`, `.offset`, `.stage` (`KEY_CONVERTER` / `VALUE_CONVERTER` when the trigger's
//!   base64 is broken, `TASK_PUT` when the bytes do not fit the format or the table),
//!   `.exception.class.name` (our error kind, e.g. `InvalidJson`), `.exception.message` and
//!   `.connector.name` (the function's name);
//! - timestamp: the original one; partition: the default partitioner, as the connector.
//!
//! # Order against the MaxCompute write, and why nothing is lost
//! 1. The batch is converted; failed records are separated from rows.
//! 2. Failed records are published, and **all** acknowledged (idempotent producer, acks=all),
//!    before any row is written. Failure or the deadline fails the invocation; nothing has been
//!    written to MaxCompute yet.
//! 3. Rows are written and committed. A commit failure fails the invocation.
//! 4. Only then does the invocation succeed, and the trigger moves past the batch.
//!
//! Any failure makes the trigger retry the whole batch: every record is then either in
//! MaxCompute or on the error topic, possibly twice (at-least-once; `topic`/`partition`/`offset`
//! in the table and the `__connect.errors.*` headers identify duplicates). Publishing first
//! keeps a broken error topic from costing a MaxCompute commit that a retry would duplicate,
//! and keeps the error topic from being the only step after a commit.

mod context;
mod error;
mod error_sink;
mod headers;
mod producer;
mod properties;
mod record;
mod renewing;

pub use error::ErrorTopicError;
pub use error_sink::ErrorSink;
pub use headers::{
    CONNECTOR_NAME, EXCEPTION_CLASS, EXCEPTION_MESSAGE, OFFSET, PARTITION, STAGE, TOPIC,
};
pub use producer::{Delivered, ErrorTopicProducer, PublishReport};

/// The value of `__connect.errors.connector.name`: the Lambda function's name, or the crate's
/// name outside Lambda.
pub fn default_connector_name() -> String {
    std::env::var("AWS_LAMBDA_FUNCTION_NAME")
        .ok()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| env!("CARGO_PKG_NAME").to_string())
}
