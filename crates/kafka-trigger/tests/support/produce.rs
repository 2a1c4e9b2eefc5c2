//! Produces records with explicit partitions, timestamps, keys and headers, and reports where
//! each one landed.

use std::time::Duration;

use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::ClientConfig;

pub struct ToProduce {
    topic: String,
    partition: i32,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    headers: Vec<(String, Vec<u8>)>,
    timestamp: Option<i64>,
}

impl ToProduce {
    pub fn new(topic: &str, partition: i32, key: Option<&[u8]>, value: Option<&[u8]>) -> ToProduce {
        ToProduce {
            topic: topic.to_string(),
            partition,
            key: key.map(<[u8]>::to_vec),
            value: value.map(<[u8]>::to_vec),
            headers: vec![],
            timestamp: None,
        }
    }

    /// The record's CreateTime in epoch milliseconds, instead of the fixed test clock.
    pub fn at(mut self, timestamp: i64) -> ToProduce {
        self.timestamp = Some(timestamp);
        self
    }

    pub fn header(mut self, name: &str, value: &[u8]) -> ToProduce {
        self.headers.push((name.to_string(), value.to_vec()));
        self
    }
}

#[derive(Debug, Clone)]
pub struct Produced {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub timestamp: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Vec<u8>)>,
}

pub async fn produce(bootstrap: &str, records: Vec<ToProduce>) -> Vec<Produced> {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("acks", "all")
        .create()
        .expect("producer");
    let mut produced = Vec::new();
    for (i, r) in records.into_iter().enumerate() {
        let timestamp = r.timestamp.unwrap_or(1_764_000_000_000 + i as i64 * 1000);
        let mut headers = OwnedHeaders::new();
        for (name, value) in &r.headers {
            headers = headers.insert(Header {
                key: name,
                value: Some(value),
            });
        }
        let mut record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(&r.topic)
            .partition(r.partition)
            .timestamp(timestamp)
            .headers(headers);
        if let Some(key) = &r.key {
            record = record.key(key.as_slice());
        }
        if let Some(value) = &r.value {
            record = record.payload(value.as_slice());
        }
        let delivery = producer
            .send(record, Duration::from_secs(30))
            .await
            .unwrap_or_else(|(err, _)| panic!("produce to {}: {err}", r.topic));
        assert_eq!(delivery.partition, r.partition);
        produced.push(Produced {
            topic: r.topic,
            partition: r.partition,
            offset: delivery.offset,
            timestamp,
            key: r.key,
            value: r.value,
            headers: r.headers,
        });
    }
    produced
}
