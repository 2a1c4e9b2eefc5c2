//! What the sink hands over for one record that cannot become a row, and the bytes that go
//! back to Kafka for it.

use crate::event::{KafkaRecord, Part, RecordId};

/// Where the record failed, in Kafka Connect's `ErrorReporter` stage names, so that tooling
/// written for Connect dead-letter queues reads our error topic unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The key is not what the trigger promises (invalid base64): Connect's key converter.
    KeyConverter,
    /// The value is not what the trigger promises (invalid base64): Connect's value converter.
    ValueConverter,
    /// The bytes are fine but do not fit the format or the table (CSV, JSON, FLATTEN, types,
    /// tunnel limits): the MaxCompute connector does this inside `SinkTask.put`.
    TaskPut,
}

impl Stage {
    pub fn connect_name(self) -> &'static str {
        match self {
            Stage::KeyConverter => "KEY_CONVERTER",
            Stage::ValueConverter => "VALUE_CONVERTER",
            Stage::TaskPut => "TASK_PUT",
        }
    }

    /// The stage a failure of `record` belongs to, judged from the record itself so that it
    /// does not depend on how the caller labels its own stages.
    pub fn of(record: &KafkaRecord) -> Stage {
        if record.key_bytes().is_err() {
            Stage::KeyConverter
        } else if record.value_bytes().is_err() {
            Stage::ValueConverter
        } else {
            Stage::TaskPut
        }
    }
}

/// One record for the error topic.
#[derive(Debug, Clone)]
pub struct DeadLetter<'a> {
    /// The record exactly as the trigger delivered it.
    pub record: &'a KafkaRecord,
    pub stage: Stage,
    /// A short stable error name (`__connect.errors.exception.class.name`), e.g. `InvalidJson`.
    pub kind: &'a str,
    /// The full reason (`__connect.errors.exception.message`).
    pub message: &'a str,
}

impl<'a> DeadLetter<'a> {
    pub fn new(record: &'a KafkaRecord, kind: &'a str, message: &'a str) -> Self {
        DeadLetter {
            record,
            stage: Stage::of(record),
            kind,
            message,
        }
    }

    pub fn id(&self) -> RecordId {
        self.record.id()
    }

    /// The original key bytes; `None` stays `None` (a null key is not an empty key).
    pub fn key(&self) -> Option<Vec<u8>> {
        original(self.record, Part::Key)
    }

    /// The original value bytes; `None` stays `None` (a tombstone stays a tombstone).
    pub fn value(&self) -> Option<Vec<u8>> {
        original(self.record, Part::Value)
    }
}

/// The decoded bytes. A part that is not valid base64 has no "original bytes" to restore, so
/// the text the trigger sent is kept verbatim rather than dropped: the operator sees exactly
/// what arrived, and the stage header says which part was broken.
fn original(record: &KafkaRecord, part: Part) -> Option<Vec<u8>> {
    match record.part_bytes(part) {
        Ok(bytes) => bytes,
        Err(_) => {
            let text = match part {
                Part::Key => record.key.as_deref(),
                Part::Value => record.value.as_deref(),
            };
            text.map(|t| t.as_bytes().to_vec())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(key: Option<&str>, value: Option<&str>) -> KafkaRecord {
        KafkaRecord {
            topic: "t".into(),
            partition: 0,
            offset: 1,
            timestamp: None,
            timestamp_type: None,
            key: key.map(str::to_string),
            value: value.map(str::to_string),
            headers: Vec::new(),
        }
    }

    #[test]
    fn decodes_and_keeps_null() {
        let r = record(None, Some("/wAB"));
        let d = DeadLetter::new(&r, "InvalidJson", "bad");
        assert_eq!(d.key(), None);
        assert_eq!(d.value(), Some(vec![0xff, 0x00, 0x01]));
        assert_eq!(d.stage, Stage::TaskPut);
    }

    #[test]
    fn undecodable_part_is_kept_verbatim_and_names_its_converter() {
        let r = record(Some("not base64!"), Some("YQ=="));
        let d = DeadLetter::new(&r, "InvalidBase64", "bad");
        assert_eq!(d.key(), Some(b"not base64!".to_vec()));
        assert_eq!(d.value(), Some(b"a".to_vec()));
        assert_eq!(d.stage.connect_name(), "KEY_CONVERTER");

        let r = record(Some("YQ=="), Some("%%"));
        assert_eq!(Stage::of(&r).connect_name(), "VALUE_CONVERTER");
    }
}
