//! Errors of the record codec. Every variant names where the problem is (column, record) so a
//! data engineer can find the offending row; none carries more of a value than needed to
//! recognise it.

use std::fmt;

use crate::types::TypeInfo;

/// A data column, as errors name it: its name and its 1-based position (its field number).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnRef {
    pub name: String,
    /// 1-based column index, which is also the field number on the wire.
    pub index: usize,
}

impl fmt::Display for ColumnRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "column `{}` (#{})", self.name, self.index)
    }
}

/// A row that cannot be written into the column types of the table.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    #[error("row has {got} values but the table has {columns} data columns")]
    TooManyValues { got: usize, columns: usize },

    #[error("{column}: expected a value of type {expected}, got {got}")]
    TypeMismatch {
        column: ColumnRef,
        /// The type the value had to fit (an element type for values inside ARRAY/MAP/STRUCT).
        expected: TypeInfo,
        /// The kind of value that was given.
        got: &'static str,
    },

    #[error("{column}: a STRUCT<{expected} fields> value has {got} fields")]
    StructFieldCount {
        column: ColumnRef,
        expected: usize,
        got: usize,
    },

    #[error("{column}: {len} bytes exceed the maximum field size of {max} bytes")]
    FieldTooLarge {
        column: ColumnRef,
        len: usize,
        max: usize,
    },

    #[error("{column}: {value} is out of range for {type_info}")]
    IntegerOutOfRange {
        column: ColumnRef,
        value: i64,
        type_info: TypeInfo,
    },

    #[error("{column}: {chars} characters exceed varchar({max})")]
    VarcharTooLong {
        column: ColumnRef,
        chars: usize,
        max: u32,
    },

    #[error("{column}: {chars} characters exceed char({max})")]
    CharTooLong {
        column: ColumnRef,
        chars: usize,
        max: u32,
    },

    #[error("{column}: `{text}` is not a plain decimal number")]
    DecimalInvalid {
        column: ColumnRef,
        /// The offending text, cut to its first 64 characters.
        text: String,
    },

    #[error(
        "{column}: decimal with {integer_digits} integer and {fraction_digits} fraction digits \
         does not fit decimal({precision},{scale}) (it would need rounding or overflow)"
    )]
    DecimalPrecision {
        column: ColumnRef,
        precision: u8,
        scale: u8,
        integer_digits: usize,
        fraction_digits: usize,
    },

    #[error("{column}: NULL in a column that is not nullable")]
    NonNullable { column: ColumnRef },

    #[error("{column}: timestamp nanoseconds {nanos} are outside 0..=999999999")]
    InvalidTimestampNanos { column: ColumnRef, nanos: i32 },

    #[error("{column}: value is not valid JSON: {reason}")]
    InvalidJson { column: ColumnRef, reason: String },
}

/// A record stream that a strict MaxCompute server would refuse.
///
/// `record` fields are 0-based positions of the record in the stream; `offset` fields are byte
/// offsets into the (uncompressed) stream.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    #[error("stream truncated at byte {offset}")]
    Truncated { offset: usize },

    #[error("malformed varint at byte {offset}")]
    BadVarint { offset: usize },

    #[error("record {record}: unknown field number {field} (byte {offset})")]
    UnknownField {
        record: u64,
        field: u32,
        offset: usize,
    },

    #[error(
        "special field {field} (END_RECORD, META_COUNT or META_CHECKSUM) has wire type \
         {wire_type}, not 0 (byte {offset})"
    )]
    MalformedTag {
        field: u32,
        wire_type: u8,
        offset: usize,
    },

    #[error("record {record}: field {field} appears twice")]
    DuplicateField { record: u64, field: u32 },

    #[error(
        "record {record}: field {field} of type {column_type} has wire type {wire_type}, \
         expected {expected}"
    )]
    WireTypeMismatch {
        record: u64,
        field: u32,
        column_type: TypeInfo,
        wire_type: u8,
        expected: u8,
    },

    #[error(
        "record {record}: CRC mismatch, stream says {expected:#010x}, content gives {actual:#010x}"
    )]
    RecordCrcMismatch {
        record: u64,
        /// The CRC written in the stream.
        expected: u32,
        /// The CRC of the record's content.
        actual: u32,
    },

    #[error("record {record}: the footer starts before the record's END_RECORD")]
    UnterminatedRecord { record: u64 },

    #[error("footer declares {declared} records but the stream has {actual}")]
    CountMismatch { declared: i64, actual: u64 },

    #[error("footer checksum mismatch, stream says {expected:#010x}, records give {actual:#010x}")]
    ChecksumMismatch { expected: u32, actual: u32 },

    #[error("malformed footer at byte {offset}: {reason}")]
    MalformedFooter { offset: usize, reason: &'static str },

    #[error("{len} bytes after the footer (from byte {offset})")]
    TrailingBytes { offset: usize, len: usize },

    #[error("record {record}: {column} holds bytes that are not UTF-8")]
    InvalidUtf8 { record: u64, column: ColumnRef },

    #[error("record {record}: {column}: {len} bytes exceed the maximum field size of {max} bytes")]
    FieldTooLarge {
        record: u64,
        column: ColumnRef,
        len: usize,
        max: usize,
    },

    #[error("record {record}: {column}: {reason}")]
    InvalidValue {
        record: u64,
        column: ColumnRef,
        reason: String,
    },

    #[error("stream ends after {records} records without a footer")]
    MissingFooter { records: u64 },
}
