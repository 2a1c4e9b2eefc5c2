//! The tunnel record format: rows of [`Value`](crate::Value)s to the bytes of a batch block or
//! stream pack, and back. The official writers and readers are pyodps `odps/tunnel/io/writer.py`
//! and `odps/tunnel/io/reader.py`, and the Java SDK's
//! `odps-sdk-core/src/main/java/com/aliyun/odps/commons/proto/ProtobufRecordStreamWriter.java`
//! and `ProtobufRecordStreamReader.java`.
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
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//!
//! use maxcompute_tunnel::codec::{
//!     decode_stream, decode_stream_with, ColumnRef, DecodeError, DecodeOptions, EncodeError,
//!     InvalidUtf8, RecordEncoder,
//! };
//! use maxcompute_tunnel::{Column, TableSchema, TypeInfo, Value};
//!
//! let schema = Arc::new(TableSchema::new(
//!     vec![Column::new("topic", TypeInfo::String), Column::new("offset", TypeInfo::Bigint)],
//!     vec![Column::new("pt", TypeInfo::String)],
//! ));
//! // Rows hold the data columns only: a partition key's value is in the session's partition.
//! assert!(schema.partition_key("pt").is_some());
//! let mut encoder = RecordEncoder::new(Arc::clone(&schema));
//! assert!(encoder.is_empty());
//! encoder.append(&[Value::from("orders"), Value::Int(7)]).unwrap();
//! // A value that does not fit its column is refused, and the encoder stays as it was.
//! let refused = encoder.append(&[Value::Int(1), Value::Int(8)]).unwrap_err();
//! assert!(matches!(
//!     refused,
//!     EncodeError::TypeMismatch { column: ColumnRef { index: 1, .. }, .. }
//! ));
//! assert_eq!(encoder.record_count(), 1);
//! assert!(encoder.encoded_len() > 0);
//! let block = encoder.finish();
//!
//! let rows = decode_stream(&schema, &block).unwrap();
//! assert_eq!(rows, [vec![Value::from("orders"), Value::Int(7)]]);
//! let lenient = DecodeOptions { invalid_utf8: InvalidUtf8::AsBinary, ..DecodeOptions::default() };
//! assert_eq!(decode_stream_with(&schema, &block, &lenient).unwrap(), rows);
//! assert!(matches!(
//!     decode_stream(&schema, &block[..block.len() - 1]),
//!     Err(DecodeError::Truncated { .. })
//! ));
//! ```

mod crc;
mod decimal;
mod decoder;
mod encoder;
mod error;
mod wire;

pub use decimal::{round_decimal, DecimalIssue};
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
