//! The invocation event, field for field as the Lambda Kafka trigger sends it (see
//! https://docs.aws.amazon.com/lambda/latest/dg/with-msk.html): key and value as base64 (null
//! stays null), headers as an ordered list of one-entry objects whose values are Java's signed
//! bytes, records grouped under `"<topic>-<partition>"`.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rdkafka::message::{Headers, Message, Timestamp};
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use crate::config::EventSource;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KafkaEvent {
    pub event_source: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_source_arn: Option<String>,
    pub bootstrap_servers: String,
    pub records: BTreeMap<String, Vec<EventRecord>>,
}

impl KafkaEvent {
    /// An event without records, for the given source.
    pub fn empty(source: &EventSource, bootstrap_servers: &str) -> KafkaEvent {
        let (event_source, event_source_arn) = match source {
            EventSource::Msk { cluster_arn } => ("aws:kafka", Some(cluster_arn.clone())),
            EventSource::SelfManaged => ("SelfManagedKafka", None),
        };
        KafkaEvent {
            event_source,
            event_source_arn,
            bootstrap_servers: bootstrap_servers.to_string(),
            records: BTreeMap::new(),
        }
    }

    /// An event holding `records`, grouped under their `"<topic>-<partition>"` in the order given.
    pub fn with_records(
        source: &EventSource,
        bootstrap_servers: &str,
        records: impl IntoIterator<Item = EventRecord>,
    ) -> KafkaEvent {
        let mut event = KafkaEvent::empty(source, bootstrap_servers);
        for record in records {
            event
                .records
                .entry(record.group_key())
                .or_default()
                .push(record);
        }
        event
    }

    pub fn record_count(&self) -> usize {
        self.records.values().map(Vec::len).sum()
    }

    /// The records, partition by partition in key order, each partition's in offset order.
    pub fn into_records(self) -> Vec<EventRecord> {
        self.records.into_values().flatten().collect()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventRecord {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub timestamp: i64,
    pub timestamp_type: &'static str,
    pub key: Option<String>,
    pub value: Option<String>,
    pub headers: Vec<Header>,
}

impl EventRecord {
    /// Converts a consumed message. Lambda's pollers are Java consumers, so the timestamp type
    /// uses Java's `TimestampType` names and an absent timestamp is `-1`.
    pub fn from_message<M: Message>(message: &M) -> EventRecord {
        let (timestamp, timestamp_type) = match message.timestamp() {
            Timestamp::CreateTime(ms) => (ms, "CREATE_TIME"),
            Timestamp::LogAppendTime(ms) => (ms, "LOG_APPEND_TIME"),
            Timestamp::NotAvailable => (-1, "NO_TIMESTAMP_TYPE"),
        };
        let headers = message
            .headers()
            .map(|headers| {
                headers
                    .iter()
                    .map(|h| Header::new(h.key, h.value.unwrap_or_default()))
                    .collect()
            })
            .unwrap_or_default();
        EventRecord {
            topic: message.topic().to_string(),
            partition: message.partition(),
            offset: message.offset(),
            timestamp,
            timestamp_type,
            key: message.key().map(|k| STANDARD.encode(k)),
            value: message.payload().map(|v| STANDARD.encode(v)),
            headers,
        }
    }

    /// The `records` key this record is grouped under.
    pub fn group_key(&self) -> String {
        group_key(&self.topic, self.partition)
    }
}

pub fn group_key(topic: &str, partition: i32) -> String {
    format!("{topic}-{partition}")
}

/// One header as `{"<name>": [signed bytes]}`. A header whose value is null is sent as an empty
/// array: the event format has no null byte array, and consumers (e.g. `aws_lambda_events`)
/// reject null there.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    pub name: String,
    pub value: Vec<i8>,
}

impl Header {
    pub fn new(name: &str, bytes: &[u8]) -> Header {
        Header {
            name: name.to_string(),
            // Java bytes are signed: 0x80..=0xFF arrive as -128..=-1.
            value: bytes.iter().map(|b| *b as i8).collect(),
        }
    }
}

impl Serialize for Header {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry(&self.name, &self.value)?;
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdkafka::message::{Header as KafkaHeader, OwnedHeaders, OwnedMessage};
    use serde_json::json;

    fn message(key: Option<&[u8]>, value: Option<&[u8]>, ts: Timestamp) -> OwnedMessage {
        let headers = OwnedHeaders::new()
            .insert(KafkaHeader {
                key: "bin",
                value: Some(&[0x00u8, 0x7f, 0x80, 0xff][..]),
            })
            .insert(KafkaHeader {
                key: "bin",
                value: Some(&b"again"[..]),
            })
            .insert(KafkaHeader::<&[u8]> {
                key: "empty",
                value: None,
            });
        OwnedMessage::new(
            value.map(<[u8]>::to_vec),
            key.map(<[u8]>::to_vec),
            "orders-eu".to_string(),
            ts,
            3,
            42,
            Some(headers),
        )
    }

    #[test]
    fn record_matches_lambda_shape() {
        let msg = message(
            Some(&[0xde, 0xad, 0xbe, 0xef]),
            Some(b"{\"id\":1}"),
            Timestamp::CreateTime(1_764_000_000_000),
        );
        let got = serde_json::to_value(EventRecord::from_message(&msg)).unwrap();
        assert_eq!(
            got,
            json!({
                "topic": "orders-eu", "partition": 3, "offset": 42,
                "timestamp": 1_764_000_000_000i64, "timestampType": "CREATE_TIME",
                "key": "3q2+7w==", "value": "eyJpZCI6MX0=",
                "headers": [{"bin": [0, 127, -128, -1]}, {"bin": [97, 103, 97, 105, 110]}, {"empty": []}]
            })
        );
    }

    #[test]
    fn null_key_and_value_stay_null_and_timestamp_types_follow_java() {
        let append = message(None, None, Timestamp::LogAppendTime(7));
        let got = serde_json::to_value(EventRecord::from_message(&append)).unwrap();
        assert_eq!(got["key"], serde_json::Value::Null);
        assert_eq!(got["value"], serde_json::Value::Null);
        assert_eq!(got["timestampType"], "LOG_APPEND_TIME");
        assert_eq!(got["timestamp"], 7);

        let none = message(None, Some(b""), Timestamp::NotAvailable);
        let got = serde_json::to_value(EventRecord::from_message(&none)).unwrap();
        assert_eq!(got["timestampType"], "NO_TIMESTAMP_TYPE");
        assert_eq!(got["timestamp"], -1);
        assert_eq!(got["value"], "", "an empty value is not a null value");
    }

    #[test]
    fn envelopes_differ_by_source() {
        let msk = KafkaEvent::empty(
            &EventSource::Msk {
                cluster_arn: "arn:aws:kafka:us-east-1:123456789012:cluster/c/u-1".into(),
            },
            "b-1:9098",
        );
        assert_eq!(
            serde_json::to_string(&msk).unwrap(),
            r#"{"eventSource":"aws:kafka","eventSourceArn":"arn:aws:kafka:us-east-1:123456789012:cluster/c/u-1","bootstrapServers":"b-1:9098","records":{}}"#
        );
        let smk = KafkaEvent::empty(&EventSource::SelfManaged, "a:1,b:2");
        assert_eq!(
            serde_json::to_string(&smk).unwrap(),
            r#"{"eventSource":"SelfManagedKafka","bootstrapServers":"a:1,b:2","records":{}}"#
        );
    }
}
