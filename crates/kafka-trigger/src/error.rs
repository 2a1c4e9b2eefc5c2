//! Errors that stop the trigger. A failed invocation is not one of them: it is retried, split,
//! or given up to the on-failure destination, as the mapping's error-handling controls say.

use rdkafka::error::KafkaError;

use crate::config::ConfigError;

#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    #[error("invalid trigger configuration: {0}")]
    Config(#[from] ConfigError),
    #[error("cannot create the Kafka consumer for {bootstrap_servers}: {source}")]
    Consumer {
        bootstrap_servers: String,
        source: KafkaError,
    },
    #[error("cannot read metadata of topic `{topic}`: {source}")]
    Metadata { topic: String, source: KafkaError },
    #[error("topic `{topic}` does not exist or has no partitions")]
    UnknownTopic { topic: String },
    #[error("cannot assign partitions of {topics:?}: {source}")]
    Assign {
        topics: Vec<String>,
        source: KafkaError,
    },
    #[error("record {topic}-{partition}@{offset} alone makes a {size}-byte event, above the {cap}-byte payload cap; it can never be delivered")]
    RecordTooLarge {
        topic: String,
        partition: i32,
        offset: i64,
        size: usize,
        cap: usize,
    },
    #[error(
        "cannot create the producer for the on-failure destination kafka://{destination}: {source}"
    )]
    DestinationProducer {
        destination: String,
        source: KafkaError,
    },
    #[error("cannot write failed {write} (the record stays uncommitted and is delivered again after a restart; check that the topic exists and accepts writes): {source}")]
    DestinationWrite {
        /// `record <topic>-<partition>@<offset> to kafka://<destination>`.
        write: String,
        source: KafkaError,
    },
    #[error("cannot commit offsets of consumer group `{group}` after a successful invocation (the batch will be redelivered): {source}")]
    Commit { group: String, source: KafkaError },
    #[error("the offset commit task did not finish: {0}")]
    CommitTask(tokio::task::JoinError),
    #[error("cannot encode the event as JSON: {0}")]
    Encode(serde_json::Error),
    #[error("cannot build the HTTP client: {0}")]
    HttpClient(reqwest::Error),
}
