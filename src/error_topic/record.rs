//! The error-topic record for one failed record, built in this one place: the original key,
//! value, headers and timestamp, and the context headers after the original ones.

use rdkafka::message::OwnedHeaders;
use rdkafka::producer::FutureRecord;

use super::headers;
use crate::event::{KafkaRecord, Part};
use crate::failed::FailedRecord;

/// What goes back to Kafka for one failed record.
pub struct ErrorRecord {
    /// The original key bytes; `None` stays `None` (a null key is not an empty key).
    pub key: Option<Vec<u8>>,
    /// The original value bytes; `None` stays `None` (a tombstone stays a tombstone).
    pub value: Option<Vec<u8>>,
    pub headers: OwnedHeaders,
    pub timestamp: Option<i64>,
}

impl ErrorRecord {
    /// `connector_name` goes into `__connect.errors.connector.name`.
    pub fn new(failed: &FailedRecord<'_>, connector_name: &str) -> Self {
        let record = failed.record;
        ErrorRecord {
            key: original(record, Part::Key),
            value: original(record, Part::Value),
            headers: headers::build(failed, connector_name),
            // A negative timestamp means "none" in Kafka; sending it would be refused by the
            // broker on every retry, so the broker's clock is used instead.
            timestamp: record.timestamp.filter(|ts| *ts >= 0),
        }
    }

    /// The record as librdkafka sends it to `topic`.
    pub fn to_send<'a>(&'a self, topic: &'a str) -> FutureRecord<'a, [u8], [u8]> {
        let mut record = FutureRecord::to(topic).headers(self.headers.clone());
        if let Some(key) = self.key.as_deref() {
            record = record.key(key);
        }
        if let Some(value) = self.value.as_deref() {
            record = record.payload(value);
        }
        if let Some(ts) = self.timestamp {
            record = record.timestamp(ts);
        }
        record
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
    use crate::convert::Reason;
    use crate::failed::tests::record;
    use crate::failed::{converting, invalid_json, Stage};

    #[test]
    fn decodes_and_keeps_null() {
        let r = record(None, Some("/wAB"));
        let f = invalid_json(&r);
        let d = ErrorRecord::new(&f, "fn");
        assert_eq!(d.key, None);
        assert_eq!(d.value, Some(vec![0xff, 0x00, 0x01]));
        assert_eq!(f.stage(), Stage::TaskPut);
    }

    #[test]
    fn undecodable_part_is_kept_verbatim_and_names_its_converter() {
        let r = record(Some("not base64!"), Some("YQ=="));
        let f = converting(&r, Reason::Decode(r.key_bytes().unwrap_err()));
        let d = ErrorRecord::new(&f, "fn");
        assert_eq!(d.key, Some(b"not base64!".to_vec()));
        assert_eq!(d.value, Some(b"a".to_vec()));
        assert_eq!(f.stage().connect_name(), "KEY_CONVERTER");

        let r = record(Some("YQ=="), Some("%%"));
        let f = converting(&r, Reason::Decode(r.value_bytes().unwrap_err()));
        assert_eq!(f.stage().connect_name(), "VALUE_CONVERTER");
    }
}
