//! `kafka-trigger` plays the AWS Lambda Kafka event source mapping on a laptop: it reads topics
//! from a Kafka broker, builds invocation events exactly as Lambda does (records grouped by
//! `topic-partition`, base64 key and value, signed header bytes, batch size, batching window and
//! the 6 MB payload cap), invokes a local function endpoint such as `cargo lambda watch`, and
//! commits the consumer group's offsets only past records that are finished.
//!
//! By default a failed batch is retried, unchanged, with backoff, until it succeeds: Lambda's
//! default. The error-handling controls of a provisioned-mode mapping
//! (https://docs.aws.amazon.com/lambda/latest/dg/kafka-retry-configurations.html) are played
//! too, each as a field of [`TriggerConfig`] and a flag of the binary (`kafka-trigger --help`):
//!
//! | Lambda setting | flag | what happens |
//! |---|---|---|
//! | `FunctionResponseTypes: [ReportBatchItemFailures]` | `--report-batch-item-failures` | the response's `batchItemFailures` are read ([`response`]): each reported partition is committed up to its lowest reported offset and re-delivered from it, the others are done; an empty list or `null` is success, an identifier not in the event fails the whole batch; without the flag any successful response is complete success |
//! | `MaximumRetryAttempts` | `--maximum-retry-attempts` | retries of a failing batch (-1: unlimited, which becomes 10 with an on-failure destination); then its records go to the destination, or are discarded, and the partitions move on |
//! | `MaximumRecordAgeInSeconds` | `--maximum-record-age-in-seconds` | records older than this are not sent to the function but to the destination, or discarded |
//! | `BisectBatchOnFunctionError` | `--bisect-batch-on-function-error` | a failing batch is split in two and each half retried, down to single records; a split costs no retry |
//! | `DestinationConfig.OnFailure.Destination: kafka://<topic>` | `--on-failure-destination` | each record given up is written to that topic of the same cluster, keyed like the original, as the failure record Lambda writes ([`destination`]) |
//!
//! The invariant under all of them: at every invocation, each partition of the event is
//! committed exactly up to its first record there; nothing at or after a record still in flight
//! (or reported in `batchItemFailures`) is committed ([`progress`]). How a batch is taken apart
//! is described in [`trigger`].

pub mod batch;
pub mod config;
pub mod destination;
pub mod error;
pub mod event;
pub mod invoke;
pub mod progress;
pub mod response;
pub mod source;
#[cfg(feature = "testing")]
pub mod testing;
pub mod trigger;

pub use config::{EventSource, StartingPosition, TriggerConfig};
pub use error::TriggerError;
pub use trigger::{Delivered, Trigger};
