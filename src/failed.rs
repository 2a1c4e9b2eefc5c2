//! A record that did not become a row, from whichever step refused it, with the typed reason.
//! The error policy republishes, skips or fails on these; the error topic reads its context
//! headers from them. Key and value stay as the trigger sent them, so nothing is decoded twice.

use std::fmt;

use maxcompute_tunnel::codec::EncodeError;

use crate::convert::{ConvertError, Reason};
use crate::event::{DecodeError, KafkaRecord, Part, RecordId};

/// One record that did not become a row.
#[derive(Debug)]
pub struct FailedRecord<'e> {
    /// The record exactly as the trigger delivered it.
    pub record: &'e KafkaRecord,
    pub failure: Failure,
}

/// Why a record did not become a row, by the step that refused it.
#[derive(Debug)]
pub enum Failure {
    /// Record to row: the bytes do not fit the format or the table.
    Convert(ConvertError),
    /// Row to tunnel bytes: a limit only the encoder knows, such as the session's field size.
    Encode(EncodeError),
}

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
}

impl<'e> FailedRecord<'e> {
    pub fn new(record: &'e KafkaRecord, failure: Failure) -> Self {
        FailedRecord { record, failure }
    }

    pub fn id(&self) -> RecordId {
        self.record.id()
    }

    /// The step that refused the record, for log lines: `convert` or `encode`.
    pub fn step(&self) -> &'static str {
        match self.failure {
            Failure::Convert(_) => "convert",
            Failure::Encode(_) => "encode",
        }
    }

    pub fn stage(&self) -> Stage {
        match &self.failure {
            Failure::Convert(ConvertError {
                reason: Reason::Decode(DecodeError { part, .. }),
                ..
            }) => match part {
                Part::Key => Stage::KeyConverter,
                Part::Value => Stage::ValueConverter,
            },
            Failure::Convert(_) | Failure::Encode(_) => Stage::TaskPut,
        }
    }

    /// A short stable name of the failure, e.g. `FlattenUnknownKey`, for log lines and the
    /// error topic's `__connect.errors.exception.class.name`.
    pub fn kind(&self) -> &'static str {
        match &self.failure {
            Failure::Convert(e) => e.kind(),
            Failure::Encode(_) => "EncodeRow",
        }
    }
}

/// The full reason, naming the record and, where one is at fault, the column.
impl fmt::Display for FailedRecord<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.failure {
            Failure::Convert(e) => e.fmt(f),
            Failure::Encode(e) => write!(f, "cannot encode the record at {}: {e}", self.id()),
        }
    }
}

/// `record` as conversion reports it when it fails for `reason`.
#[cfg(test)]
pub(crate) fn converting(record: &KafkaRecord, reason: Reason) -> FailedRecord<'_> {
    let failure = Failure::Convert(ConvertError {
        id: record.id(),
        reason,
    });
    FailedRecord::new(record, failure)
}

/// `record` as conversion reports a value that is not JSON.
#[cfg(test)]
pub(crate) fn invalid_json(record: &KafkaRecord) -> FailedRecord<'_> {
    let detail = "expected value at line 1 column 1".to_string();
    let part = Part::Value;
    converting(record, Reason::InvalidJson { part, detail })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A record of topic `t`, partition 0, offset 1, with this (base64) key and value.
    pub(crate) fn record(key: Option<&str>, value: Option<&str>) -> KafkaRecord {
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
    fn the_stage_is_the_part_whose_base64_is_broken() {
        let r = record(Some("not base64!"), Some("YQ=="));
        let failed = converting(&r, Reason::Decode(r.key_bytes().unwrap_err()));
        assert_eq!(failed.stage().connect_name(), "KEY_CONVERTER");
        assert_eq!(failed.kind(), "InvalidBase64");

        let r = record(Some("YQ=="), Some("%%"));
        let failed = converting(&r, Reason::Decode(r.value_bytes().unwrap_err()));
        assert_eq!(failed.stage().connect_name(), "VALUE_CONVERTER");
    }

    /// The stage comes from the failure, not from looking at the record again: a broken key
    /// that the mode never reads does not make a FLATTEN error a converter failure.
    #[test]
    fn bytes_that_decode_but_do_not_fit_are_task_put() {
        let r = record(Some("not base64!"), Some("e30="));
        let failed = converting(
            &r,
            Reason::FlattenUnknownKey {
                key: "extra".into(),
            },
        );
        assert_eq!(failed.stage(), Stage::TaskPut);
        assert_eq!(failed.step(), "convert");
        assert_eq!(
            failed.to_string(),
            "cannot convert the record at topic \"t\" partition 0 offset 1: FLATTEN key \"extra\" has no column of that name in the table; add the column or remove the key from the message"
        );
    }
}
