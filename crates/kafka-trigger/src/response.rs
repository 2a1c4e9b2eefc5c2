//! A successful invocation's response, read as Lambda reads it when the mapping has
//! `FunctionResponseTypes: [ReportBatchItemFailures]` (the "PartialBatchResponse" section of
//! https://docs.aws.amazon.com/lambda/latest/dg/kafka-retry-configurations.html):
//!
//! * an empty body, `null`, `{}` (no `batchItemFailures`), or a `null` or empty
//!   `batchItemFailures` is a complete success;
//! * each `{"itemIdentifier":{"partition":"<topic>-<p>","offset":N}}` must name a
//!   topic-partition of the event and an offset it holds; any other identifier makes the whole
//!   batch a failure, retried like a function error;
//! * per partition, the lowest reported offset is where delivery resumes: the records before it
//!   are done, and partitions that are not reported are done in full.
//!
//! Without the flag the body is not read at all: Lambda ignores a partial batch response the
//! mapping does not expect, so such a batch counts as a complete success.
//!
//! Two readings are this crate's, as the documentation does not say: a JSON body that is not an
//! object or `null` (a bare string or number), and an offset given as a string, are invalid.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::event::KafkaEvent;

/// What a successful invocation says about its batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every record is done.
    Success,
    /// Per reported `"<topic>-<partition>"`, the lowest failed offset: it and everything after
    /// it in that partition must be delivered again.
    Partial(BTreeMap<String, i64>),
}

/// Why a response cannot be read as a partial batch response. Lambda then retries the whole
/// batch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidResponse {
    #[error("the response is not JSON")]
    NotJson,
    #[error("the response is JSON but neither an object nor null")]
    NotAnObject,
    #[error("`batchItemFailures` is not an array")]
    NotAnArray,
    #[error("batchItemFailures[{index}] has no `itemIdentifier` object")]
    NoIdentifier { index: usize },
    #[error("batchItemFailures[{index}].itemIdentifier needs `partition` as a \"<topic>-<partition>\" string and `offset` as an integer")]
    MalformedIdentifier { index: usize },
    #[error("batchItemFailures[{index}] names partition `{partition}`, which is not in the event")]
    UnknownPartition { index: usize, partition: String },
    #[error("batchItemFailures[{index}] names offset {offset} of `{partition}`, which is not in the event")]
    UnknownOffset {
        index: usize,
        partition: String,
        offset: i64,
    },
}

/// Reads `body`, the response to `event`.
pub fn read(body: &[u8], event: &KafkaEvent) -> Result<Verdict, InvalidResponse> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Verdict::Success);
    }
    let value: Value = serde_json::from_slice(body).map_err(|_| InvalidResponse::NotJson)?;
    let failures = match &value {
        Value::Null => return Ok(Verdict::Success),
        Value::Object(map) => map.get("batchItemFailures"),
        _ => return Err(InvalidResponse::NotAnObject),
    };
    let items = match failures {
        None | Some(Value::Null) => return Ok(Verdict::Success),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(InvalidResponse::NotAnArray),
    };
    let mut lowest: BTreeMap<String, i64> = BTreeMap::new();
    for (index, item) in items.iter().enumerate() {
        let identifier = item
            .get("itemIdentifier")
            .filter(|id| id.is_object())
            .ok_or(InvalidResponse::NoIdentifier { index })?;
        let (Some(partition), Some(offset)) = (
            identifier.get("partition").and_then(Value::as_str),
            identifier.get("offset").and_then(Value::as_i64),
        ) else {
            return Err(InvalidResponse::MalformedIdentifier { index });
        };
        let group =
            event
                .records
                .get(partition)
                .ok_or_else(|| InvalidResponse::UnknownPartition {
                    index,
                    partition: partition.to_string(),
                })?;
        if !group.iter().any(|record| record.offset == offset) {
            return Err(InvalidResponse::UnknownOffset {
                index,
                partition: partition.to_string(),
                offset,
            });
        }
        lowest
            .entry(partition.to_string())
            .and_modify(|low| *low = (*low).min(offset))
            .or_insert(offset);
    }
    if lowest.is_empty() {
        return Ok(Verdict::Success);
    }
    Ok(Verdict::Partial(lowest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::EventSource;
    use crate::event::EventRecord;

    fn event() -> KafkaEvent {
        let mut event = KafkaEvent::empty(&EventSource::SelfManaged, "127.0.0.1:1");
        for (topic, partition, offsets) in [("orders", 0, 10..13), ("orders-eu", 1, 5..7)] {
            for offset in offsets {
                let record = EventRecord {
                    topic: topic.into(),
                    partition,
                    offset,
                    timestamp: 0,
                    timestamp_type: "CREATE_TIME",
                    key: None,
                    value: None,
                    headers: vec![],
                };
                event
                    .records
                    .entry(record.group_key())
                    .or_default()
                    .push(record);
            }
        }
        event
    }

    fn read_str(body: &str) -> Result<Verdict, InvalidResponse> {
        read(body.as_bytes(), &event())
    }

    #[test]
    fn empty_and_null_responses_are_complete_successes() {
        for body in [
            "",
            " \n",
            "null",
            "{}",
            r#"{"records_in":5}"#,
            r#"{"batchItemFailures":null}"#,
            r#"{"batchItemFailures":[]}"#,
        ] {
            assert_eq!(read_str(body), Ok(Verdict::Success), "{body}");
        }
    }

    #[test]
    fn the_lowest_reported_offset_of_each_partition_wins() {
        let body = r#"{"batchItemFailures":[
            {"itemIdentifier":{"partition":"orders-0","offset":12}},
            {"itemIdentifier":{"partition":"orders-0","offset":11}},
            {"itemIdentifier":{"partition":"orders-eu-1","offset":6}}]}"#;
        let expected: BTreeMap<String, i64> = [("orders-0".into(), 11), ("orders-eu-1".into(), 6)]
            .into_iter()
            .collect();
        assert_eq!(read_str(body), Ok(Verdict::Partial(expected)));
    }

    #[test]
    fn identifiers_not_in_the_event_fail_the_whole_batch() {
        let cases = [
            ("oops", InvalidResponse::NotJson),
            (r#""ok""#, InvalidResponse::NotAnObject),
            (r#"{"batchItemFailures":{}}"#, InvalidResponse::NotAnArray),
            (
                r#"{"batchItemFailures":[{"itemIdentifier":null}]}"#,
                InvalidResponse::NoIdentifier { index: 0 },
            ),
            (
                r#"{"batchItemFailures":[{"itemIdentifier":"orders-0"}]}"#,
                InvalidResponse::NoIdentifier { index: 0 },
            ),
            (
                r#"{"batchItemFailures":[{"itemIdentifier":{"partition":"orders-0","offset":"11"}}]}"#,
                InvalidResponse::MalformedIdentifier { index: 0 },
            ),
            (
                r#"{"batchItemFailures":[{"itemIdentifier":{"partition":"","offset":11}}]}"#,
                InvalidResponse::UnknownPartition {
                    index: 0,
                    partition: String::new(),
                },
            ),
            (
                r#"{"batchItemFailures":[{"itemIdentifier":{"partition":"orders-0","offset":11}},
                    {"itemIdentifier":{"partition":"orders-9","offset":11}}]}"#,
                InvalidResponse::UnknownPartition {
                    index: 1,
                    partition: "orders-9".into(),
                },
            ),
            (
                r#"{"batchItemFailures":[{"itemIdentifier":{"partition":"orders-0","offset":13}}]}"#,
                InvalidResponse::UnknownOffset {
                    index: 0,
                    partition: "orders-0".into(),
                    offset: 13,
                },
            ),
        ];
        for (body, expected) in cases {
            assert_eq!(read_str(body), Err(expected), "{body}");
        }
    }
}
