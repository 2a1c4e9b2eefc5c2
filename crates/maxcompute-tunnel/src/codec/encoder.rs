//! The record encoder: rows of [`Value`]s into one self-contained record stream (a batch
//! block or a stream pack), written straight into one reusable buffer.

use std::sync::Arc;

use super::crc::Crc;
use super::decimal::{check_decimal, DecimalIssue, Notation};
use super::error::{ColumnRef, EncodeError};
use super::wire::{
    put_tag, put_u32, put_varint, zigzag32, zigzag64, END_RECORD, META_CHECKSUM, META_COUNT,
    WIRE_VARINT,
};
use super::{wire_type_of, DEFAULT_MAX_FIELD_SIZE};
use crate::schema::{Column, TableSchema};
use crate::types::TypeInfo;
use crate::value::Value;

/// Encodes rows into the tunnel record format (see the [module docs](super)): one stream per
/// block, ended by
/// [`finish`](RecordEncoder::finish).
///
/// The encoder checks every value against its column (type, integer range, varchar/char
/// length, decimal precision, JSON syntax, nullability, the maximum field size) and refuses a
/// row that does not fit instead of truncating or rounding it. A refused row leaves the block
/// exactly as it was, so the caller can route that row elsewhere and carry on.
///
/// ```
/// use std::sync::Arc;
/// use maxcompute_tunnel::codec::{decode_stream, RecordEncoder};
/// use maxcompute_tunnel::{Column, TableSchema, TypeInfo, Value};
///
/// let schema = Arc::new(TableSchema::new(
///     vec![
///         Column::new("topic", TypeInfo::String),
///         Column::new("offset", TypeInfo::Bigint),
///     ],
///     vec![],
/// ));
/// let mut encoder = RecordEncoder::new(schema.clone());
/// encoder.append(&["orders".into(), Value::Int(42)])?;
/// encoder.append(&["orders".into()])?; // missing trailing values are NULL
/// assert_eq!(encoder.record_count(), 2);
///
/// let block = encoder.finish(); // ready to PUT; the encoder is empty again
/// let rows = decode_stream(&schema, &block)?;
/// assert_eq!(rows[1], vec![Value::from("orders"), Value::Null]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct RecordEncoder {
    schema: Arc<TableSchema>,
    max_field_size: usize,
    buf: Vec<u8>,
    count: u64,
    crc_of_crcs: Crc,
}

impl RecordEncoder {
    /// An empty encoder for rows of `schema`'s data columns, with MaxCompute's default maximum
    /// field size of 8 MiB.
    pub fn new(schema: Arc<TableSchema>) -> Self {
        RecordEncoder {
            schema,
            max_field_size: DEFAULT_MAX_FIELD_SIZE,
            buf: Vec::new(),
            count: 0,
            crc_of_crcs: Crc::default(),
        }
    }

    /// The schema whose data columns this encoder writes.
    pub(crate) fn schema(&self) -> &Arc<TableSchema> {
        &self.schema
    }

    /// Sets the largest STRING/BINARY/JSON/DECIMAL payload accepted, in bytes (the session's
    /// `MaxFieldSize`).
    pub fn with_max_field_size(mut self, bytes: usize) -> Self {
        self.max_field_size = bytes;
        self
    }

    /// Appends one record. `row` holds one value per data column in schema order; missing
    /// trailing values are NULL. Partition key values are not part of rows.
    ///
    /// On error nothing of the row is kept.
    pub fn append(&mut self, row: &[Value]) -> Result<(), EncodeError> {
        let columns = &self.schema.columns;
        if row.len() > columns.len() {
            return Err(EncodeError::TooManyValues {
                got: row.len(),
                columns: columns.len(),
            });
        }
        let start = self.buf.len();
        match encode_record(&mut self.buf, columns, row, self.max_field_size) {
            Ok(crc) => {
                put_tag(&mut self.buf, END_RECORD, WIRE_VARINT);
                put_u32(&mut self.buf, crc);
                self.crc_of_crcs.u32(crc);
                self.count += 1;
                Ok(())
            }
            Err(err) => {
                self.buf.truncate(start);
                Err(err)
            }
        }
    }

    /// Records appended since the last `finish`.
    pub fn record_count(&self) -> u64 {
        self.count
    }

    /// Bytes encoded since the last `finish`, without the footer (at most 23 more bytes).
    pub fn encoded_len(&self) -> usize {
        self.buf.len()
    }

    /// True when no record was appended since the last `finish`.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Appends the footer (record count and CRC of record CRCs) and returns the whole stream,
    /// leaving the encoder empty for the next block.
    pub fn finish(&mut self) -> Vec<u8> {
        put_tag(&mut self.buf, META_COUNT, WIRE_VARINT);
        // The count is a sint64 on the wire; a block cannot hold 2^63 records.
        put_varint(&mut self.buf, zigzag64(self.count as i64));
        put_tag(&mut self.buf, META_CHECKSUM, WIRE_VARINT);
        put_u32(&mut self.buf, self.crc_of_crcs.value());
        // Blocks of one session have similar sizes, so start the next one at this capacity.
        let next = Vec::with_capacity(self.buf.capacity());
        self.count = 0;
        self.crc_of_crcs = Crc::default();
        std::mem::replace(&mut self.buf, next)
    }
}

/// Writes the fields of one record and returns its CRC; the caller writes END_RECORD.
fn encode_record(
    buf: &mut Vec<u8>,
    columns: &[Column],
    row: &[Value],
    max_field_size: usize,
) -> Result<u32, EncodeError> {
    let mut crc = Crc::default();
    for (i, column) in columns.iter().enumerate() {
        let field = i + 1;
        let value = row.get(i).unwrap_or(&Value::Null);
        let ctx = Ctx {
            column,
            index: field,
            max_field_size,
        };
        if value.is_null() {
            if !column.nullable {
                return Err(EncodeError::NonNullable {
                    column: ctx.column_ref(),
                });
            }
            continue;
        }
        // Field numbers are at most the column count, far below 2^25.
        let field = field as u32;
        put_tag(buf, field, wire_type_of(&column.type_info));
        crc.u32(field);
        encode_value(buf, &mut crc, &column.type_info, value, &ctx)?;
    }
    Ok(crc.value())
}

/// What errors need to name the column a value belongs to.
struct Ctx<'a> {
    column: &'a Column,
    index: usize,
    max_field_size: usize,
}

impl Ctx<'_> {
    fn column_ref(&self) -> ColumnRef {
        ColumnRef {
            name: self.column.name.clone(),
            index: self.index,
        }
    }

    fn mismatch(&self, expected: &TypeInfo, got: &Value) -> EncodeError {
        EncodeError::TypeMismatch {
            column: self.column_ref(),
            expected: expected.clone(),
            got: value_kind(got),
        }
    }

    fn check_size(&self, len: usize) -> Result<(), EncodeError> {
        if len > self.max_field_size {
            return Err(EncodeError::FieldTooLarge {
                column: self.column_ref(),
                len,
                max: self.max_field_size,
            });
        }
        Ok(())
    }
}

/// Writes a value's payload (no tag) and feeds its CRC input.
fn encode_value(
    buf: &mut Vec<u8>,
    crc: &mut Crc,
    ty: &TypeInfo,
    value: &Value,
    ctx: &Ctx<'_>,
) -> Result<(), EncodeError> {
    match (ty, value) {
        (
            TypeInfo::Bigint | TypeInfo::Int | TypeInfo::Smallint | TypeInfo::Tinyint,
            Value::Int(v),
        ) => {
            if !integer_fits(ty, *v) {
                return Err(EncodeError::IntegerOutOfRange {
                    column: ctx.column_ref(),
                    value: *v,
                    type_info: ty.clone(),
                });
            }
            put_sint64(buf, crc, *v);
        }
        (TypeInfo::Datetime, Value::Datetime(v)) | (TypeInfo::Date, Value::Date(v)) => {
            put_sint64(buf, crc, *v);
        }
        (TypeInfo::Boolean, Value::Boolean(b)) => {
            buf.push(u8::from(*b));
            crc.bool(*b);
        }
        (TypeInfo::Double, Value::Double(d)) => {
            let bytes = d.to_le_bytes();
            buf.extend_from_slice(&bytes);
            crc.bytes(&bytes);
        }
        (TypeInfo::Float, Value::Float(f)) => {
            let bytes = f.to_le_bytes();
            buf.extend_from_slice(&bytes);
            crc.bytes(&bytes);
        }
        (TypeInfo::String, Value::String(s)) => put_bytes(buf, crc, s.as_bytes(), ctx)?,
        (TypeInfo::String | TypeInfo::Binary, Value::Binary(b)) => put_bytes(buf, crc, b, ctx)?,
        (TypeInfo::Varchar(max) | TypeInfo::Char(max), Value::String(s)) => {
            if let Some(chars) = chars_over(s, *max) {
                let (column, max) = (ctx.column_ref(), *max);
                return Err(match ty {
                    TypeInfo::Char(_) => EncodeError::CharTooLong { column, chars, max },
                    _ => EncodeError::VarcharTooLong { column, chars, max },
                });
            }
            put_bytes(buf, crc, s.as_bytes(), ctx)?;
        }
        (TypeInfo::Decimal { precision, scale }, Value::Decimal(text)) => {
            ctx.check_size(text.len())?;
            check_decimal(text, *precision, *scale, Notation::Plain).map_err(
                |issue| match issue {
                    DecimalIssue::Malformed => EncodeError::DecimalInvalid {
                        column: ctx.column_ref(),
                        text: text.chars().take(64).collect(),
                    },
                    DecimalIssue::Overflow {
                        integer_digits,
                        fraction_digits,
                    } => EncodeError::DecimalPrecision {
                        column: ctx.column_ref(),
                        precision: *precision,
                        scale: *scale,
                        integer_digits,
                        fraction_digits,
                    },
                },
            )?;
            put_bytes(buf, crc, text.as_bytes(), ctx)?;
        }
        (TypeInfo::Json, Value::Json(text)) => {
            ctx.check_size(text.len())?;
            // IgnoredAny validates the syntax without building the document.
            serde_json::from_str::<serde::de::IgnoredAny>(text).map_err(|e| {
                EncodeError::InvalidJson {
                    column: ctx.column_ref(),
                    reason: e.to_string(),
                }
            })?;
            put_bytes(buf, crc, text.as_bytes(), ctx)?;
        }
        (TypeInfo::Timestamp | TypeInfo::TimestampNtz, Value::Timestamp { seconds, nanos }) => {
            if !(0..=999_999_999).contains(nanos) {
                return Err(EncodeError::InvalidTimestampNanos {
                    column: ctx.column_ref(),
                    nanos: *nanos,
                });
            }
            put_sint64(buf, crc, *seconds);
            put_u32(buf, zigzag32(*nanos));
            crc.i32(*nanos);
        }
        (TypeInfo::Array(element), Value::Array(items)) => {
            put_count(buf, items.len(), ctx)?;
            encode_elements(buf, crc, items.iter().map(|v| (&**element, v)), ctx)?;
        }
        (TypeInfo::Map(key, val), Value::Map(entries)) => {
            put_count(buf, entries.len(), ctx)?;
            encode_elements(buf, crc, entries.iter().map(|(k, _)| (&**key, k)), ctx)?;
            put_count(buf, entries.len(), ctx)?;
            encode_elements(buf, crc, entries.iter().map(|(_, v)| (&**val, v)), ctx)?;
        }
        (TypeInfo::Struct(fields), Value::Struct(values)) => {
            if fields.len() != values.len() {
                return Err(EncodeError::StructFieldCount {
                    column: ctx.column_ref(),
                    expected: fields.len(),
                    got: values.len(),
                });
            }
            let types = fields.iter().map(|(_, field_type)| field_type);
            encode_elements(buf, crc, types.zip(values), ctx)?;
        }
        (ty, value) => return Err(ctx.mismatch(ty, value)),
    }
    Ok(())
}

/// Nested values (of an ARRAY, MAP or STRUCT), each as a null flag and then, when not null, its
/// payload.
fn encode_elements<'v>(
    buf: &mut Vec<u8>,
    crc: &mut Crc,
    elements: impl Iterator<Item = (&'v TypeInfo, &'v Value)>,
    ctx: &Ctx<'_>,
) -> Result<(), EncodeError> {
    for (ty, value) in elements {
        if value.is_null() {
            buf.push(1);
        } else {
            buf.push(0);
            encode_value(buf, crc, ty, value, ctx)?;
        }
    }
    Ok(())
}

#[inline]
fn put_sint64(buf: &mut Vec<u8>, crc: &mut Crc, v: i64) {
    put_varint(buf, zigzag64(v));
    crc.i64(v);
}

#[inline]
fn put_bytes(
    buf: &mut Vec<u8>,
    crc: &mut Crc,
    bytes: &[u8],
    ctx: &Ctx<'_>,
) -> Result<(), EncodeError> {
    ctx.check_size(bytes.len())?;
    // check_size bounds the length by a usize the caller chose; the wire allows 32 bits.
    let len = u32::try_from(bytes.len()).map_err(|_| EncodeError::FieldTooLarge {
        column: ctx.column_ref(),
        len: bytes.len(),
        max: u32::MAX as usize,
    })?;
    put_u32(buf, len);
    buf.extend_from_slice(bytes);
    crc.bytes(bytes);
    Ok(())
}

fn put_count(buf: &mut Vec<u8>, len: usize, ctx: &Ctx<'_>) -> Result<(), EncodeError> {
    let count = u32::try_from(len).map_err(|_| EncodeError::FieldTooLarge {
        column: ctx.column_ref(),
        len,
        max: u32::MAX as usize,
    })?;
    put_u32(buf, count);
    Ok(())
}

/// The character count of `s` if it exceeds `max`: varchar(n) and char(n) count Unicode
/// scalar values, not bytes.
pub(crate) fn chars_over(s: &str, max: u32) -> Option<usize> {
    // A character takes at least one byte, so text no longer than `max` bytes needs no scan.
    if s.len() <= max as usize {
        return None;
    }
    let chars = s.chars().count();
    (chars > max as usize).then_some(chars)
}

pub(crate) fn integer_fits(ty: &TypeInfo, v: i64) -> bool {
    match ty {
        TypeInfo::Tinyint => i8::try_from(v).is_ok(),
        TypeInfo::Smallint => i16::try_from(v).is_ok(),
        TypeInfo::Int => i32::try_from(v).is_ok(),
        _ => true,
    }
}

fn value_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "NULL",
        Value::Int(_) => "an integer",
        Value::Double(_) => "a double",
        Value::Float(_) => "a float",
        Value::Boolean(_) => "a boolean",
        Value::String(_) => "a string",
        Value::Binary(_) => "binary bytes",
        Value::Datetime(_) => "a datetime",
        Value::Date(_) => "a date",
        Value::Timestamp { .. } => "a timestamp",
        Value::Decimal(_) => "a decimal",
        Value::Json(_) => "JSON",
        Value::Array(_) => "an array",
        Value::Map(_) => "a map",
        Value::Struct(_) => "a struct",
    }
}
