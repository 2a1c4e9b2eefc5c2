//! The headers of an error record: the original ones, byte for byte and in order, followed by
//! Kafka Connect's dead-letter context headers (`DeadLetterQueueReporter`), whose values are
//! UTF-8 text as Connect writes them.

use rdkafka::message::{Header, OwnedHeaders};

use crate::failed::FailedRecord;

pub const TOPIC: &str = "__connect.errors.topic";
pub const PARTITION: &str = "__connect.errors.partition";
pub const OFFSET: &str = "__connect.errors.offset";
pub const STAGE: &str = "__connect.errors.stage";
pub const EXCEPTION_CLASS: &str = "__connect.errors.exception.class.name";
pub const EXCEPTION_MESSAGE: &str = "__connect.errors.exception.message";
pub const CONNECTOR_NAME: &str = "__connect.errors.connector.name";

/// `__connect.errors.exception.message` is cut to this many bytes: some reasons quote the
/// whole record (CSV field-count errors), which the value already carries, and the error
/// record must stay within the topic's size limit.
pub const MAX_MESSAGE_BYTES: usize = 8 * 1024;

pub fn build(failed: &FailedRecord<'_>, connector_name: &str) -> OwnedHeaders {
    let record = failed.record;
    let mut headers = OwnedHeaders::new_with_capacity(record.headers.len() + 7);
    for h in &record.headers {
        headers = headers.insert(Header {
            key: &h.name,
            value: Some(h.value.as_slice()),
        });
    }
    let partition = record.partition.to_string();
    let offset = record.offset.to_string();
    let message = failed.to_string();
    let message = truncate(&message, MAX_MESSAGE_BYTES);
    let context: [(&str, &str); 7] = [
        (TOPIC, &record.topic),
        (PARTITION, &partition),
        (OFFSET, &offset),
        (STAGE, failed.stage().connect_name()),
        (EXCEPTION_CLASS, failed.kind()),
        (EXCEPTION_MESSAGE, &message),
        (CONNECTOR_NAME, connector_name),
    ];
    for (key, value) in context {
        headers = headers.insert(Header {
            key,
            value: Some(value),
        });
    }
    headers
}

/// At most `max` bytes, cut on a character boundary and marked as cut.
fn truncate(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    const MARK: &str = "... (truncated)";
    if text.len() <= max {
        return text.into();
    }
    let end = text.floor_char_boundary(max.saturating_sub(MARK.len()));
    format!("{}{MARK}", &text[..end]).into()
}

#[cfg(test)]
mod tests {
    use rdkafka::message::Headers;

    use super::*;
    use crate::event::{Header as EventHeader, KafkaRecord};
    use crate::failed::invalid_json;

    #[test]
    fn original_headers_first_then_context() {
        let record = KafkaRecord {
            topic: "orders".into(),
            partition: 3,
            offset: 101,
            timestamp: Some(5),
            timestamp_type: None,
            key: None,
            value: Some("eA==".into()),
            headers: vec![
                EventHeader {
                    name: "h".into(),
                    value: vec![0xc3, 0xab, 0xff],
                },
                EventHeader {
                    name: "h".into(),
                    value: vec![],
                },
            ],
        };
        let failed = invalid_json(&record);
        let headers = build(&failed, "fn-1");
        let got: Vec<(String, Vec<u8>)> = headers
            .iter()
            .map(|h| (h.key.to_string(), h.value.unwrap_or_default().to_vec()))
            .collect();
        let want: Vec<(String, Vec<u8>)> = [
            ("h", &[0xc3, 0xab, 0xff][..]),
            ("h", b""),
            (TOPIC, b"orders"),
            (PARTITION, b"3"),
            (OFFSET, b"101"),
            (STAGE, b"TASK_PUT"),
            (EXCEPTION_CLASS, b"InvalidJson"),
            (
                EXCEPTION_MESSAGE,
                b"cannot convert the record at topic \"orders\" partition 3 offset 101: the record's value is not valid JSON (expected value at line 1 column 1)",
            ),
            (CONNECTOR_NAME, b"fn-1"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_vec()))
        .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn long_messages_are_cut_on_a_char_boundary() {
        assert_eq!(truncate("short", 10), "short");
        let long = "é".repeat(10_000);
        let cut = truncate(&long, MAX_MESSAGE_BYTES);
        assert!(cut.len() <= MAX_MESSAGE_BYTES, "{}", cut.len());
        assert!(cut.ends_with("... (truncated)"));
        assert!(cut.starts_with("éé"));
    }
}
