//! The strict record decoder: what a MaxCompute server checks before it accepts a block, so the
//! emulator refuses what the service would, and tests can read back what the encoder wrote.

use super::crc::Crc;
use super::decimal::{check_decimal, Notation};
use super::encoder::{chars_over, integer_fits};
use super::error::{ColumnRef, DecodeError};
use super::wire::{
    unzigzag32, unzigzag64, Cursor, VarintError, END_RECORD, META_CHECKSUM, META_COUNT, WIRE_VARINT,
};
use super::{wire_type_of, DEFAULT_MAX_FIELD_SIZE};
use crate::schema::{Column, TableSchema};
use crate::types::TypeInfo;
use crate::value::Value;

/// What the decoder does with a STRING value whose bytes are not UTF-8.
///
/// MaxCompute stores STRING values as bytes and accepts any. pyodps's reader decodes them as
/// UTF-8 and raises on invalid bytes unless `options.tunnel.string_as_binary` is set, in which
/// case it returns them as bytes. The default here follows pyodps's default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InvalidUtf8 {
    /// Fail with [`DecodeError::InvalidUtf8`] (pyodps's default).
    #[default]
    Reject,
    /// Return the bytes as [`Value::Binary`] (pyodps with `string_as_binary`).
    AsBinary,
}

/// Limits and choices of [`decode_stream_with`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeOptions {
    /// Largest length-delimited payload (string, binary, decimal, JSON) accepted, in bytes.
    pub max_field_size: usize,
    /// STRING values that are not UTF-8. VARCHAR, CHAR and JSON values must always be UTF-8.
    pub invalid_utf8: InvalidUtf8,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            max_field_size: DEFAULT_MAX_FIELD_SIZE,
            invalid_utf8: InvalidUtf8::Reject,
        }
    }
}

/// Decodes a whole record stream (one block or pack, uncompressed) into rows of one value per
/// data column, with the default [`DecodeOptions`].
///
/// Strict: every record CRC, the footer count and checksum, field numbers `1..=columns`, wire
/// types, no duplicate fields, values valid for their column, nothing after the footer. Both
/// the 5-byte and the 10-byte (pyodps Cython) CRC varint forms are accepted, and DECIMAL text
/// may carry an exponent (`1E-7`), as python's `str(Decimal)` and hence pyodps write it (the
/// encoder always writes plain text).
pub fn decode_stream(schema: &TableSchema, bytes: &[u8]) -> Result<Vec<Vec<Value>>, DecodeError> {
    decode_stream_with(schema, bytes, &DecodeOptions::default())
}

/// [`decode_stream`] with explicit options.
pub fn decode_stream_with(
    schema: &TableSchema,
    bytes: &[u8],
    options: &DecodeOptions,
) -> Result<Vec<Vec<Value>>, DecodeError> {
    Decoder {
        cur: Cursor::new(bytes),
        columns: &schema.columns,
        options,
        record: 0,
        column: 0,
    }
    .run()
}

/// Every SDK writes the special tags with wire type 0; readers ignore it, but anything else is
/// a damaged stream, so it is refused rather than overlooked.
fn check_special_tag(field: u32, wire_type: u8, offset: usize) -> Result<(), DecodeError> {
    if wire_type != WIRE_VARINT {
        return Err(DecodeError::MalformedTag {
            field,
            wire_type,
            offset,
        });
    }
    Ok(())
}

struct Decoder<'a> {
    cur: Cursor<'a>,
    columns: &'a [Column],
    options: &'a DecodeOptions,
    /// 0-based index of the record being read.
    record: u64,
    /// 0-based index of the column being read, for error messages.
    column: usize,
}

impl<'a> Decoder<'a> {
    fn run(mut self) -> Result<Vec<Vec<Value>>, DecodeError> {
        let n = self.columns.len();
        let mut rows = Vec::new();
        let mut row = vec![Value::Null; n];
        let mut seen = vec![false; n];
        let mut in_record = false;
        let mut crc = Crc::default();
        let mut crc_of_crcs = Crc::default();
        loop {
            if self.cur.is_empty() {
                return Err(if in_record {
                    DecodeError::Truncated {
                        offset: self.cur.position(),
                    }
                } else {
                    DecodeError::MissingFooter {
                        records: self.record,
                    }
                });
            }
            let tag_offset = self.cur.position();
            let (field, wire_type) = self.tag()?;
            if matches!(field, END_RECORD | META_COUNT) {
                check_special_tag(field, wire_type, tag_offset)?;
            }
            match field {
                END_RECORD => {
                    let stored = self.u32()?;
                    let actual = crc.value();
                    if stored != actual {
                        return Err(DecodeError::RecordCrcMismatch {
                            record: self.record,
                            expected: stored,
                            actual,
                        });
                    }
                    self.check_not_null(&row)?;
                    crc_of_crcs.u32(stored);
                    rows.push(std::mem::replace(&mut row, vec![Value::Null; n]));
                    seen.fill(false);
                    crc = Crc::default();
                    in_record = false;
                    self.record += 1;
                }
                META_COUNT => {
                    if in_record {
                        return Err(DecodeError::UnterminatedRecord {
                            record: self.record,
                        });
                    }
                    self.footer(crc_of_crcs)?;
                    return Ok(rows);
                }
                f if (1..=n).contains(&(f as usize)) => {
                    let index = f as usize - 1;
                    self.column = index;
                    if seen[index] {
                        return Err(DecodeError::DuplicateField {
                            record: self.record,
                            field: f,
                        });
                    }
                    let ty = &self.columns[index].type_info;
                    let expected = wire_type_of(ty);
                    if wire_type != expected {
                        return Err(DecodeError::WireTypeMismatch {
                            record: self.record,
                            field: f,
                            column_type: ty.clone(),
                            wire_type,
                            expected,
                        });
                    }
                    crc.u32(f);
                    row[index] = self.value(ty, &mut crc)?;
                    seen[index] = true;
                    in_record = true;
                }
                f => {
                    return Err(DecodeError::UnknownField {
                        record: self.record,
                        field: f,
                        offset: tag_offset,
                    })
                }
            }
        }
    }

    /// Reads the rest of the footer after META_COUNT.
    fn footer(&mut self, mut crc_of_crcs: Crc) -> Result<(), DecodeError> {
        let declared = unzigzag64(self.varint()?);
        if declared < 0 || declared as u64 != self.record {
            return Err(DecodeError::CountMismatch {
                declared,
                actual: self.record,
            });
        }
        let offset = self.cur.position();
        if self.cur.is_empty() {
            return Err(DecodeError::Truncated { offset });
        }
        let (field, wire_type) = self.tag()?;
        if field != META_CHECKSUM {
            return Err(DecodeError::MalformedFooter {
                offset,
                reason: "the record count is not followed by the checksum",
            });
        }
        check_special_tag(field, wire_type, offset)?;
        let stored = self.u32()?;
        let actual = crc_of_crcs.value();
        if stored != actual {
            return Err(DecodeError::ChecksumMismatch {
                expected: stored,
                actual,
            });
        }
        if !self.cur.is_empty() {
            return Err(DecodeError::TrailingBytes {
                offset: self.cur.position(),
                len: self.cur.remaining(),
            });
        }
        Ok(())
    }

    fn check_not_null(&mut self, row: &[Value]) -> Result<(), DecodeError> {
        for (i, (column, value)) in self.columns.iter().zip(row).enumerate() {
            if !column.nullable && value.is_null() {
                self.column = i;
                return Err(self.invalid("NULL in a column that is not nullable".into()));
            }
        }
        Ok(())
    }

    fn value(&mut self, ty: &TypeInfo, crc: &mut Crc) -> Result<Value, DecodeError> {
        Ok(match ty {
            TypeInfo::Bigint | TypeInfo::Int | TypeInfo::Smallint | TypeInfo::Tinyint => {
                let v = self.sint64(crc)?;
                if !integer_fits(ty, v) {
                    return Err(self.invalid(format!("{v} is out of range for {ty}")));
                }
                Value::Int(v)
            }
            TypeInfo::Datetime => Value::Datetime(self.sint64(crc)?),
            TypeInfo::Date => Value::Date(self.sint64(crc)?),
            TypeInfo::Boolean => {
                let b = self.flag("boolean")?;
                crc.bool(b);
                Value::Boolean(b)
            }
            TypeInfo::Double => {
                let bytes: [u8; 8] = self.fixed()?;
                crc.bytes(&bytes);
                Value::Double(f64::from_le_bytes(bytes))
            }
            TypeInfo::Float => {
                let bytes: [u8; 4] = self.fixed()?;
                crc.bytes(&bytes);
                Value::Float(f32::from_le_bytes(bytes))
            }
            TypeInfo::String => {
                let bytes = self.bytes(crc)?;
                match std::str::from_utf8(bytes) {
                    Ok(s) => Value::String(s.to_owned()),
                    Err(_) if self.options.invalid_utf8 == InvalidUtf8::AsBinary => {
                        Value::Binary(bytes.to_vec())
                    }
                    Err(_) => return Err(self.invalid_utf8()),
                }
            }
            TypeInfo::Varchar(max) | TypeInfo::Char(max) => {
                let text = self.text(crc)?;
                if let Some(chars) = chars_over(text, *max) {
                    return Err(self.invalid(format!("{chars} characters exceed {ty}")));
                }
                Value::String(text.to_owned())
            }
            TypeInfo::Binary => Value::Binary(self.bytes(crc)?.to_vec()),
            TypeInfo::Decimal { precision, scale } => {
                let text = self.text(crc)?;
                if check_decimal(text, *precision, *scale, Notation::AllowExponent).is_err() {
                    let shown: String = text.chars().take(64).collect();
                    return Err(self.invalid(format!("`{shown}` is not a valid {ty}")));
                }
                Value::Decimal(text.to_owned())
            }
            TypeInfo::Json => {
                let text = self.text(crc)?;
                if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(text) {
                    return Err(self.invalid(format!("invalid JSON: {e}")));
                }
                Value::Json(text.to_owned())
            }
            TypeInfo::Timestamp | TypeInfo::TimestampNtz => {
                let seconds = self.sint64(crc)?;
                let nanos = unzigzag32(self.u32()?);
                if !(0..=999_999_999).contains(&nanos) {
                    return Err(self.invalid(format!(
                        "timestamp nanoseconds {nanos} are outside 0..=999999999"
                    )));
                }
                crc.i32(nanos);
                Value::Timestamp { seconds, nanos }
            }
            TypeInfo::Array(element) => Value::Array(self.array(element, crc)?),
            TypeInfo::Map(key, val) => {
                let keys = self.array(key, crc)?;
                let values = self.array(val, crc)?;
                if keys.len() != values.len() {
                    return Err(self.invalid(format!(
                        "map has {} keys but {} values",
                        keys.len(),
                        values.len()
                    )));
                }
                Value::Map(keys.into_iter().zip(values).collect())
            }
            TypeInfo::Struct(fields) => {
                let mut values = Vec::with_capacity(fields.len());
                for (_, field_type) in fields {
                    values.push(self.element(field_type, crc)?);
                }
                Value::Struct(values)
            }
        })
    }

    fn array(&mut self, element: &TypeInfo, crc: &mut Crc) -> Result<Vec<Value>, DecodeError> {
        let offset = self.cur.position();
        let count = self.u32()? as usize;
        // Each element takes at least its null flag, so a larger count cannot be honest; checking
        // first keeps a forged count from reserving gigabytes.
        if count > self.cur.remaining() {
            return Err(DecodeError::Truncated { offset });
        }
        let mut items = Vec::with_capacity(count);
        for _ in 0..count {
            items.push(self.element(element, crc)?);
        }
        Ok(items)
    }

    fn element(&mut self, ty: &TypeInfo, crc: &mut Crc) -> Result<Value, DecodeError> {
        if self.flag("null flag")? {
            Ok(Value::Null)
        } else {
            self.value(ty, crc)
        }
    }

    fn tag(&mut self) -> Result<(u32, u8), DecodeError> {
        let tag = self.u32()?;
        Ok((tag >> 3, (tag & 7) as u8))
    }

    fn varint(&mut self) -> Result<u64, DecodeError> {
        let offset = self.cur.position();
        self.cur.read_varint().map_err(|e| match e {
            VarintError::Truncated => DecodeError::Truncated { offset },
            VarintError::Malformed => DecodeError::BadVarint { offset },
        })
    }

    /// A 32-bit varint in either form writers use: unsigned (at most 5 bytes), or an int32
    /// sign-extended to 64 bits (pyodps's Cython writer, 10 bytes). Its low 32 bits are the value,
    /// as protobuf's readRawVarint32 keeps them; any other high bits mean a damaged stream.
    fn u32(&mut self) -> Result<u32, DecodeError> {
        let offset = self.cur.position();
        let v = self.varint()?;
        let sign_extended = (i64::from(i32::MIN)..0).contains(&(v as i64));
        if v > u64::from(u32::MAX) && !sign_extended {
            return Err(DecodeError::BadVarint { offset });
        }
        Ok(v as u32)
    }

    fn sint64(&mut self, crc: &mut Crc) -> Result<i64, DecodeError> {
        let v = unzigzag64(self.varint()?);
        crc.i64(v);
        Ok(v)
    }

    fn flag(&mut self, what: &str) -> Result<bool, DecodeError> {
        match self.u32()? {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(self.invalid(format!("{what} is {other}, not 0 or 1"))),
        }
    }

    fn fixed<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let offset = self.cur.position();
        self.cur
            .take_array::<N>()
            .ok_or(DecodeError::Truncated { offset })
    }

    /// A length-delimited payload, fed to the CRC.
    fn bytes(&mut self, crc: &mut Crc) -> Result<&'a [u8], DecodeError> {
        let len = self.u32()? as usize;
        if len > self.options.max_field_size {
            return Err(DecodeError::FieldTooLarge {
                record: self.record,
                column: self.column_ref(),
                len,
                max: self.options.max_field_size,
            });
        }
        let offset = self.cur.position();
        let bytes = self
            .cur
            .take(len)
            .ok_or(DecodeError::Truncated { offset })?;
        crc.bytes(bytes);
        Ok(bytes)
    }

    fn text(&mut self, crc: &mut Crc) -> Result<&'a str, DecodeError> {
        let bytes = self.bytes(crc)?;
        std::str::from_utf8(bytes).map_err(|_| self.invalid_utf8())
    }

    fn column_ref(&self) -> ColumnRef {
        ColumnRef {
            name: self.columns[self.column].name.clone(),
            index: self.column + 1,
        }
    }

    fn invalid(&self, reason: String) -> DecodeError {
        DecodeError::InvalidValue {
            record: self.record,
            column: self.column_ref(),
            reason,
        }
    }

    fn invalid_utf8(&self) -> DecodeError {
        DecodeError::InvalidUtf8 {
            record: self.record,
            column: self.column_ref(),
        }
    }
}
