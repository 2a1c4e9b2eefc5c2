//! The error-topic tests' side of the shared Tansu broker (`kafka_trigger::testing`): an
//! `assign()`-based reader for what the function produced.
//!
//! Topics are created explicitly with one partition (`create_topic(name, 1)`): auto-creation
//! differs between Tansu builds, and one partition keeps the read-back order equal to the
//! produce order.

#![allow(dead_code, unused_imports)] // each test binary uses its own subset

use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

pub use kafka_trigger::testing::{free_port, Tansu};

/// Reading gives up after this long: a safety net against a hung test, not an assertion.
const READ_GIVE_UP: Duration = Duration::from_secs(60);

/// One record as read back from the broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadRecord {
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    /// In wire order; a null header value reads as `None`.
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    pub timestamp: Option<i64>,
    pub offset: i64,
}

impl ReadRecord {
    /// The value of the only header called `name`, as text.
    pub fn header_text(&self, name: &str) -> String {
        let found: Vec<_> = self.headers.iter().filter(|(k, _)| k == name).collect();
        assert_eq!(found.len(), 1, "header {name} once in {:?}", self.headers);
        String::from_utf8(found[0].1.clone().expect("a header value")).expect("UTF-8 header")
    }
}

/// Reading records back from the broker.
pub trait ReadBack {
    /// Reads partition 0 of `topic` from the beginning until `count` records arrived, then
    /// checks briefly that no more follow (so a test also sees duplicates).
    fn read(&self, topic: &str, count: usize) -> Vec<ReadRecord>;
}

impl ReadBack for Tansu {
    fn read(&self, topic: &str, count: usize) -> Vec<ReadRecord> {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &self.bootstrap)
            .set("group.id", "error-topic-tests")
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "true")
            .create()
            .expect("consumer");
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(topic, 0, Offset::Beginning)
            .expect("partition 0");
        consumer.assign(&tpl).expect("assign");
        let mut out = Vec::new();
        let started = std::time::Instant::now();
        let mut at_end = false;
        while !(at_end && out.len() >= count) {
            assert!(
                started.elapsed() < READ_GIVE_UP,
                "read {} of {count} records from {topic} before giving up",
                out.len()
            );
            match consumer.poll(Duration::from_millis(200)) {
                None => {}
                Some(Err(rdkafka::error::KafkaError::PartitionEOF(_))) => at_end = true,
                Some(Err(e)) => panic!("consume {topic}: {e}"),
                Some(Ok(m)) => {
                    at_end = false;
                    let headers = m
                        .headers()
                        .map(|hs| {
                            hs.iter()
                                .map(|h| (h.key.to_string(), h.value.map(<[u8]>::to_vec)))
                                .collect()
                        })
                        .unwrap_or_default();
                    out.push(ReadRecord {
                        key: m.key().map(<[u8]>::to_vec),
                        value: m.payload().map(<[u8]>::to_vec),
                        headers,
                        timestamp: m.timestamp().to_millis(),
                        offset: m.offset(),
                    });
                }
            }
        }
        out
    }
}
