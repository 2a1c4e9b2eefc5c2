//! The Lambda Kafka trigger event, for Amazon MSK (`aws:kafka`) and self-managed Kafka
//! (`SelfManagedKafka`). Own serde types rather than `aws_lambda_events` because the function
//! needs what that crate drops or rejects: the document order of the topic-partition groups,
//! records without `headers`, `null` headers, and base64 kept undecoded until conversion so that
//! one bad record is that record's error and not the whole batch's.

use std::fmt;

use base64::Engine;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

/// One trigger invocation's payload.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KafkaEvent {
    /// `aws:kafka` (MSK) or `SelfManagedKafka`.
    pub event_source: String,
    #[serde(default)]
    pub event_source_arn: Option<String>,
    #[serde(default)]
    pub bootstrap_servers: Option<String>,
    /// `"<topic>-<partition>"` groups in document order. The key is only a label: topics may
    /// contain `-`, so each record's own `topic` and `partition` are authoritative.
    #[serde(deserialize_with = "ordered_groups")]
    pub records: Vec<(String, Vec<KafkaRecord>)>,
}

impl KafkaEvent {
    /// Every record, group by group, each group in its (offset) order.
    pub fn records(&self) -> impl Iterator<Item = &KafkaRecord> {
        self.records.iter().flat_map(|(_, group)| group.iter())
    }

    pub fn record_count(&self) -> usize {
        self.records.iter().map(|(_, g)| g.len()).sum()
    }
}

/// One Kafka record as the trigger delivers it; key and value still base64.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KafkaRecord {
    pub topic: String,
    pub partition: i64,
    pub offset: i64,
    /// Epoch milliseconds (CreateTime or LogAppendTime).
    #[serde(default)]
    pub timestamp: Option<i64>,
    #[serde(default)]
    pub timestamp_type: Option<String>,
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub value: Option<String>,
    #[serde(default, deserialize_with = "headers")]
    pub headers: Vec<Header>,
}

/// One record header; names may repeat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub name: String,
    pub value: Vec<u8>,
}

/// Which part of a record failed to decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Key,
    Value,
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Part::Key => "key",
            Part::Value => "value",
        })
    }
}

/// A key or value that is not valid base64.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the record's {part} is not valid base64 ({reason})")]
pub struct DecodeError {
    pub part: Part,
    pub reason: String,
}

/// Where a record comes from; every per-record error and log line carries it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RecordId {
    pub topic: String,
    pub partition: i64,
    pub offset: i64,
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "topic {:?} partition {} offset {}",
            self.topic, self.partition, self.offset
        )
    }
}

impl KafkaRecord {
    pub fn id(&self) -> RecordId {
        RecordId {
            topic: self.topic.clone(),
            partition: self.partition,
            offset: self.offset,
        }
    }

    /// The key bytes; `None` for a null or absent key.
    pub fn key_bytes(&self) -> Result<Option<Vec<u8>>, DecodeError> {
        decode(self.key.as_deref(), Part::Key)
    }

    /// The value bytes; `None` for a null or absent value (a tombstone).
    pub fn value_bytes(&self) -> Result<Option<Vec<u8>>, DecodeError> {
        decode(self.value.as_deref(), Part::Value)
    }

    pub fn part_bytes(&self, part: Part) -> Result<Option<Vec<u8>>, DecodeError> {
        match part {
            Part::Key => self.key_bytes(),
            Part::Value => self.value_bytes(),
        }
    }
}

fn decode(text: Option<&str>, part: Part) -> Result<Option<Vec<u8>>, DecodeError> {
    text.map(|t| {
        base64::engine::general_purpose::STANDARD
            .decode(t)
            .map_err(|e| DecodeError {
                part,
                reason: e.to_string(),
            })
    })
    .transpose()
}

fn ordered_groups<'de, D>(deserializer: D) -> Result<Vec<(String, Vec<KafkaRecord>)>, D::Error>
where
    D: Deserializer<'de>,
{
    struct Groups;
    impl<'de> Visitor<'de> for Groups {
        type Value = Vec<(String, Vec<KafkaRecord>)>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an object of \"<topic>-<partition>\": [records]")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut groups = Vec::new();
            while let Some((label, records)) = map.next_entry::<String, Vec<KafkaRecord>>()? {
                groups.push((label, records));
            }
            Ok(groups)
        }
    }
    deserializer.deserialize_map(Groups)
}

/// `[{"name": [bytes]}, ...]`, or `null`. The trigger sends Java's signed bytes (-128..=127);
/// 128..=255 is accepted too, for producers of test events that write unsigned bytes.
fn headers<'de, D>(deserializer: D) -> Result<Vec<Header>, D::Error>
where
    D: Deserializer<'de>,
{
    struct Byte(u8);
    impl<'de> Deserialize<'de> for Byte {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            let n = i64::deserialize(d)?;
            match n {
                -128..=-1 => Ok(Byte((n + 256) as u8)),
                0..=255 => Ok(Byte(n as u8)),
                _ => Err(de::Error::custom(format!(
                    "header byte {n} is outside -128..=255"
                ))),
            }
        }
    }
    struct Entries;
    impl<'de> Visitor<'de> for Entries {
        type Value = Vec<Header>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an array of {\"name\": [bytes]} objects")
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(entry) = seq.next_element::<OneHeader>()? {
                out.extend(entry.0);
            }
            Ok(out)
        }
    }
    struct OneHeader(Vec<Header>);
    impl<'de> Deserialize<'de> for OneHeader {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = OneHeader;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("a {\"name\": [bytes]} object")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OneHeader, A::Error> {
                    let mut out = Vec::new();
                    while let Some((name, bytes)) = map.next_entry::<String, Option<Vec<Byte>>>()? {
                        out.push(Header {
                            name,
                            value: bytes.unwrap_or_default().into_iter().map(|b| b.0).collect(),
                        });
                    }
                    Ok(OneHeader(out))
                }
            }
            d.deserialize_map(V)
        }
    }
    deserializer.deserialize_any(Entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSK: &str = r#"{"eventSource":"aws:kafka",
     "eventSourceArn":"arn:aws:kafka:us-east-1:123456789012:cluster/demo-cluster/abcd1234-ab12-cd34-ef56-1234567890ab-1",
     "bootstrapServers":"b-1.demo:9098",
     "records":{"my-topic-0":[
       {"topic":"my-topic","partition":0,"offset":15,"timestamp":1764000000000,"timestampType":"CREATE_TIME",
        "key":"b3JkZXItMQ==","value":"eyJpZCI6MSwiYW1vdW50Ijo5LjV9",
        "headers":[{"trace-id":[97,98,99]},{"name":[-61,-85]},{"trace-id":[100]}]},
       {"topic":"my-topic","partition":0,"offset":16,"timestamp":1764000000500,"timestampType":"CREATE_TIME",
        "value":"not base64!"}],
      "my-topic-1":[{"topic":"my-topic","partition":1,"offset":7,"timestamp":1764000001000,
        "timestampType":"LOG_APPEND_TIME","key":null,"value":null,"headers":null}]}}"#;

    #[test]
    fn parses_msk_event_in_document_order() {
        let event: KafkaEvent = serde_json::from_str(MSK).unwrap();
        assert_eq!(event.event_source, "aws:kafka");
        assert_eq!(event.record_count(), 3);
        let ids: Vec<String> = event.records().map(|r| r.id().to_string()).collect();
        assert_eq!(
            ids,
            [
                "topic \"my-topic\" partition 0 offset 15",
                "topic \"my-topic\" partition 0 offset 16",
                "topic \"my-topic\" partition 1 offset 7"
            ]
        );
        let first = event.records().next().unwrap();
        assert_eq!(first.key_bytes().unwrap().unwrap(), b"order-1");
        assert_eq!(
            first.value_bytes().unwrap().unwrap(),
            br#"{"id":1,"amount":9.5}"#
        );
        assert_eq!(
            first.headers,
            vec![
                Header {
                    name: "trace-id".into(),
                    value: b"abc".to_vec()
                },
                Header {
                    name: "name".into(),
                    value: "ë".as_bytes().to_vec()
                },
                Header {
                    name: "trace-id".into(),
                    value: b"d".to_vec()
                },
            ]
        );
    }

    #[test]
    fn missing_and_null_fields_are_absent() {
        let event: KafkaEvent = serde_json::from_str(MSK).unwrap();
        let records: Vec<&KafkaRecord> = event.records().collect();
        assert_eq!(records[1].key_bytes().unwrap(), None);
        assert!(records[1].headers.is_empty());
        assert_eq!(records[2].key_bytes().unwrap(), None);
        assert_eq!(records[2].value_bytes().unwrap(), None);
        assert!(records[2].headers.is_empty());
    }

    #[test]
    fn invalid_base64_is_the_records_error() {
        let event: KafkaEvent = serde_json::from_str(MSK).unwrap();
        let bad = event.records().nth(1).unwrap();
        let err = bad.value_bytes().unwrap_err();
        assert_eq!(err.part, Part::Value);
        assert!(err
            .to_string()
            .starts_with("the record's value is not valid base64"));
    }

    #[test]
    fn self_managed_event_without_arn() {
        let json = r#"{"eventSource":"SelfManagedKafka","bootstrapServers":"b1:9092,b2:9092",
          "records":{"a-b-c-3":[{"topic":"a-b-c","partition":3,"offset":0,"timestamp":1,"timestampType":"CREATE_TIME","value":"YWJj","headers":[]}]}}"#;
        let event: KafkaEvent = serde_json::from_str(json).unwrap();
        assert_eq!(event.event_source, "SelfManagedKafka");
        assert!(event.event_source_arn.is_none());
        let r = event.records().next().unwrap();
        assert_eq!((r.topic.as_str(), r.partition), ("a-b-c", 3));
    }

    #[test]
    fn header_bytes_out_of_range_are_rejected() {
        let json = r#"{"eventSource":"SelfManagedKafka","records":{"t-0":[{"topic":"t","partition":0,"offset":0,"headers":[{"h":[300]}]}]}}"#;
        let err = serde_json::from_str::<KafkaEvent>(json).unwrap_err();
        assert!(err.to_string().contains("header byte 300"), "{err}");
    }
}
