//! Per-record conversion errors. Each names the record (topic, partition, offset), the column
//! when one is at fault, and what would make the record fit.

use crate::event::{DecodeError, Part, RecordId};

use super::types::TypeError;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("cannot convert the record at {id}: {reason}")]
pub struct ConvertError {
    pub id: RecordId,
    pub reason: Reason,
}

impl ConvertError {
    /// A short stable name of the failure, for metrics and error-topic headers.
    pub fn kind(&self) -> &'static str {
        match &self.reason {
            Reason::Decode(_) => "InvalidBase64",
            Reason::Null { .. } => "NullInput",
            Reason::CsvEmpty => "CsvEmpty",
            Reason::CsvFieldCount { .. } => "CsvFieldCount",
            Reason::CsvFieldTooLong { .. } => "CsvFieldTooLong",
            Reason::InvalidJson { .. } => "InvalidJson",
            Reason::FlattenNotObject { .. } => "FlattenNotObject",
            Reason::FlattenUnknownKey { .. } => "FlattenUnknownKey",
            Reason::Column { .. } => "ColumnType",
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Reason {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("the record's {part} is null, but the {format} format needs text in it")]
    Null { part: Part, format: &'static str },
    #[error("Data cannot be parsed or is empty: the CSV text has no non-blank line")]
    CsvEmpty,
    #[error("Column count doesn't match: the CSV record has {found} fields but the table has {expected} user columns: {data}")]
    CsvFieldCount {
        expected: usize,
        found: usize,
        data: String,
    },
    #[error("a CSV field is longer than {max} characters")]
    CsvFieldTooLong { max: usize },
    #[error("the record's {part} is not valid JSON ({detail})")]
    InvalidJson { part: Part, detail: String },
    #[error("FLATTEN needs a JSON object in the record's {part}, got {found}")]
    FlattenNotObject { part: Part, found: String },
    #[error("FLATTEN key {key:?} has no column of that name in the table; add the column or remove the key from the message")]
    FlattenUnknownKey { key: String },
    #[error("column `{column}`: {error}")]
    Column { column: String, error: TypeError },
}

impl Reason {
    pub fn column(name: &str, error: TypeError) -> Reason {
        Reason::Column {
            column: name.to_string(),
            error,
        }
    }
}
