//! The tunnel record format (spec §5): rows of [`Value`](crate::Value)s to the bytes of a
//! batch block or stream pack, and back.
//!
//! A stream is a sequence of records, each a list of `(field number, payload)` pairs closed by
//! an END_RECORD tag and the record's CRC-32C, followed by a footer with the record count and
//! a CRC of the record CRCs. Field numbers are 1-based data column positions; a NULL is an
//! omitted field; partition keys are never written.
//!
//! * [`RecordEncoder`] appends checked rows to a reusable buffer and finishes blocks.
//! * [`decode_stream`] and its variants read a stream back as strictly as a server does.
//!
//! Compression of a finished stream is [`Compression`](crate::Compression)'s job.
//!
//! # Values per column type
//!
//! The encoder takes, and the decoder returns, exactly these [`Value`](crate::Value) variants
//! (anything else is [`EncodeError::TypeMismatch`]):
//!
//! | column type | value |
//! |---|---|
//! | BIGINT, INT, SMALLINT, TINYINT | `Int` (range-checked for the narrow types) |
//! | DOUBLE / FLOAT | `Double` / `Float` |
//! | BOOLEAN | `Boolean` |
//! | STRING | `String`, or `Binary` for raw bytes (decoded as `String`; see [`InvalidUtf8`]) |
//! | VARCHAR(n), CHAR(n) | `String` of at most n characters |
//! | BINARY | `Binary` |
//! | DATETIME / DATE | `Datetime` (ms since the epoch) / `Date` (days since 1970-01-01) |
//! | TIMESTAMP, TIMESTAMP_NTZ | `Timestamp { seconds, nanos }`, nanos in 0..=999999999 |
//! | DECIMAL(p,s) | `Decimal` plain text that fits without rounding |
//! | JSON | `Json` text, validated and sent verbatim |
//! | ARRAY / MAP / STRUCT | `Array` / `Map` (entries in order) / `Struct` (every field) |
//!
//! `Null` is allowed for nullable columns and inside nested values.

mod crc;
mod decimal;
mod decoder;
mod encoder;
mod error;
mod wire;

pub use decoder::{decode_stream, decode_stream_with, DecodeOptions, InvalidUtf8};
pub use encoder::RecordEncoder;
pub use error::{ColumnRef, DecodeError, EncodeError};

use crate::types::TypeInfo;

/// MaxCompute's default `MaxFieldSize`: the largest string, binary, decimal or JSON payload of
/// one field, in bytes.
pub(crate) const DEFAULT_MAX_FIELD_SIZE: usize = 8 * 1024 * 1024;

/// The wire type written in the tag of a top-level field of type `ty`.
pub(crate) fn wire_type_of(ty: &TypeInfo) -> u8 {
    match ty {
        TypeInfo::Bigint
        | TypeInfo::Int
        | TypeInfo::Smallint
        | TypeInfo::Tinyint
        | TypeInfo::Boolean
        | TypeInfo::Datetime
        | TypeInfo::Date => wire::WIRE_VARINT,
        TypeInfo::Double => wire::WIRE_FIXED64,
        TypeInfo::Float => wire::WIRE_FIXED32,
        TypeInfo::String
        | TypeInfo::Varchar(_)
        | TypeInfo::Char(_)
        | TypeInfo::Binary
        | TypeInfo::Decimal { .. }
        | TypeInfo::Json
        | TypeInfo::Timestamp
        | TypeInfo::TimestampNtz
        | TypeInfo::Array(_)
        | TypeInfo::Map(_, _)
        | TypeInfo::Struct(_) => wire::WIRE_LEN,
    }
}
