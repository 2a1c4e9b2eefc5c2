//! The Kafka side: one consumer in the trigger's consumer group, manually assigned every
//! partition of the topics (no group join: it takes about 24 s on some brokers and a local
//! trigger is the group's only member). Committed offsets of the group win over the starting
//! position, as with Lambda.

use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

use crate::config::{StartingPosition, TriggerConfig};
use crate::error::TriggerError;
use crate::event::EventRecord;

const METADATA_TIMEOUT: Duration = Duration::from_secs(30);

pub struct KafkaSource {
    consumer: Arc<StreamConsumer>,
    group: String,
}

impl KafkaSource {
    pub fn connect(config: &TriggerConfig) -> Result<KafkaSource, TriggerError> {
        let reset = match config.starting_position {
            StartingPosition::TrimHorizon => "earliest",
            StartingPosition::Latest => "latest",
        };
        let mut client = ClientConfig::new();
        // User properties first, so the ones the trigger's guarantees rest on cannot be overridden.
        for (key, value) in &config.consumer_properties {
            client.set(key, value);
        }
        client
            .set("bootstrap.servers", &config.bootstrap_servers)
            .set("group.id", &config.consumer_group_id)
            .set("client.id", "kafka-trigger")
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("enable.partition.eof", "false")
            .set("auto.offset.reset", reset);
        let consumer: StreamConsumer =
            client.create().map_err(|source| TriggerError::Consumer {
                bootstrap_servers: config.bootstrap_servers.clone(),
                source,
            })?;

        let mut assignment = TopicPartitionList::new();
        for topic in &config.topics {
            let metadata = consumer
                .fetch_metadata(Some(topic), METADATA_TIMEOUT)
                .map_err(|source| TriggerError::Metadata {
                    topic: topic.clone(),
                    source,
                })?;
            let partitions: Vec<i32> = metadata
                .topics()
                .iter()
                .filter(|t| t.name() == topic && t.error().is_none())
                .flat_map(|t| t.partitions().iter().map(|p| p.id()))
                .collect();
            if partitions.is_empty() {
                return Err(TriggerError::UnknownTopic {
                    topic: topic.clone(),
                });
            }
            for partition in partitions {
                // `Stored` makes librdkafka fetch the group's committed offset, falling back to
                // `auto.offset.reset` (the starting position) when there is none.
                assignment
                    .add_partition_offset(topic, partition, Offset::Stored)
                    .map_err(|source| TriggerError::Assign {
                        topics: config.topics.clone(),
                        source,
                    })?;
            }
        }
        consumer
            .assign(&assignment)
            .map_err(|source| TriggerError::Assign {
                topics: config.topics.clone(),
                source,
            })?;
        tracing::info!(
            partitions = assignment.count(),
            group = %config.consumer_group_id,
            "assigned all partitions of {:?}",
            config.topics
        );
        Ok(KafkaSource {
            consumer: Arc::new(consumer),
            group: config.consumer_group_id.clone(),
        })
    }

    /// The next record. Broker errors are logged and retried by librdkafka, as a Lambda poller
    /// keeps polling through them.
    pub async fn next(&self) -> EventRecord {
        loop {
            match self.consumer.recv().await {
                Ok(message) => return EventRecord::from_message(&message),
                Err(error) => {
                    tracing::warn!(%error, "Kafka consume error; still polling");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    }

    /// Commits `offsets` (topic, partition, next offset to read) for the group, synchronously:
    /// the batch counts as delivered only once the broker has the offsets.
    pub async fn commit(&self, offsets: &[(String, i32, i64)]) -> Result<(), TriggerError> {
        let mut list = TopicPartitionList::new();
        let commit_error = |source| TriggerError::Commit {
            group: self.group.clone(),
            source,
        };
        for (topic, partition, next) in offsets {
            list.add_partition_offset(topic, *partition, Offset::Offset(*next))
                .map_err(commit_error)?;
        }
        let consumer = Arc::clone(&self.consumer);
        tokio::task::spawn_blocking(move || consumer.commit(&list, CommitMode::Sync))
            .await
            .map_err(TriggerError::CommitTask)?
            .map_err(commit_error)
    }
}
