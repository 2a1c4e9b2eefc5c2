//! Bucket hashing of upsert rows, bit for bit as the official SDKs route them.
//!
//! An upsert session spreads a table's rows over N buckets by the values of its `hash_key`
//! columns (the primary key). The client computes each row's bucket and PUTs the row to the
//! worker that owns it; every write of one key must land in the same bucket, or the service
//! cannot merge the versions of that key and readers see duplicates. Nothing shows that the
//! service checks the bucket a client chose: the Java SDK's changelog (0.48.2) reports rows
//! bucketed in the client's local time zone being accepted and then breaking queries. Routing
//! is a correctness obligation of the client.
//!
//! The algorithm, as both SDKs implement it:
//!
//! 1. each key column's value is hashed to an `i32` by its type, with the hash family the
//!    session names in its `hasher` field ([`HashFamily`]);
//! 2. the column hashes are summed with wrapping `i32` addition (so key order does not matter);
//! 3. the sum `s` is mixed as `s ^ (s >> 8)` (arithmetic shift), which is never negative;
//! 4. the bucket is that value modulo N.
//!
//! Sources: `aliyun/aliyun-odps-java-sdk`
//! `odps-sdk/odps-sdk-core/src/main/java/com/aliyun/odps/tunnel/hasher/` (`TypeHasher.java`,
//! `DefaultHashFactory.java`, `LegacyHashFactory.java`) and `tunnel/impl/UpsertStreamImpl.java`
//! (`write`); `aliyun/aliyun-odps-python-sdk` `odps/tunnel/hasher.py` and
//! `odps/tunnel/hasher_c.pyx` (pyodps 0.13.2).
//!
//! # Where the SDKs disagree, and what this module does
//!
//! The Java SDK is followed wherever the two SDKs differ, except for BINARY. Java's decimal
//! hasher names the service's own C++ routines it reproduces, and its date and time hashers
//! were fixed (0.48.2) to hash the absolute instant after mis-routed rows broke key merging,
//! so Java is the closer copy of what the service computes.
//!
//! * **NULL key values** are an error ([`HashError::NullKey`]). Java refuses such a row before
//!   hashing ("UpsertRecord must have primary key value"); pyodps skips the column (adds 0).
//!   A NULL cannot identify a row, what the service does with one is not documented, and
//!   failing here names the column before anything is sent.
//! * **BINARY** hashes the raw bytes, as pyodps does and as STRING values are hashed. Java
//!   hashes `Binary.toString()`, a quoted-printable rendering (`aliyun/aliyun-odps-java-sdk`
//!   `odps-sdk/odps-sdk-commons/src/main/java/com/aliyun/odps/data/Binary.java`), which agrees
//!   with the raw bytes only when every byte is printable ASCII other than space, `=` and `|`.
//!   The quoted-printable text is a Java-side artifact of reusing the string hasher on a
//!   `String`; the service stores and compares the bytes themselves.
//! * **DECIMAL(p,0)**: pyodps replaces a scale of 0 by its default scale 18 (`typ.scale or
//!   _default_scale`), so it hashes `5` in a DECIMAL(10,0) column as `5 * 10^18`. Java (and
//!   this module) hash the column's declared scale.
//! * **DECIMAL with precision > 18**: pyodps's Cython hasher overflows (`OverflowError`) on
//!   negative values and on values whose low 64 bits reach 2^63; its pure-Python hasher and
//!   Java agree with this module.
//! * **TIMESTAMP before 1970 with a fraction of a second**: the seconds are floored and the
//!   nanoseconds are in `0..1e9`, as in Java's `Instant` and on the wire; pyodps truncates
//!   the seconds toward zero.
//! * **TIMESTAMP_NTZ** is hashed like TIMESTAMP, reading the wall-clock value as UTC (Java);
//!   pyodps cannot hash it.
//! * **FLOAT/DOUBLE NaN** hash the canonical NaN bit pattern (Java `floatToIntBits` /
//!   `doubleToLongBits`); pyodps hashes whatever bits the NaN carries.
//! * **Rounding of a decimal to the column's scale** is half away from zero on the decimal
//!   digits, as both SDKs do. A value written with an exponent whose first dropped digit lies
//!   left of its written digits (`1E-7` in a DECIMAL(10,2)) rounds to zero here; Java throws
//!   on it and pyodps reads an unrelated digit. The record encoder refuses values that need
//!   rounding, so such a row is never written.

use std::fmt;
use std::str::FromStr;

use crate::schema::TableSchema;
use crate::types::TypeInfo;
use crate::value::Value;

/// The two hash families a session's `hasher` field may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashFamily {
    /// `"default"`: a Wang-style 64-to-32-bit integer mix and Jenkins one-at-a-time for bytes.
    Default,
    /// `"legacy"`: `(v >> 32) ^ v` for integers and `h * 31 + b` for bytes.
    Legacy,
}

impl HashFamily {
    /// The family a session's `hasher` field names. The SDKs compare the name exactly
    /// (Java `TypeHasher.getHasher`, pyodps `get_hasher`), and so does this.
    pub fn from_session(name: &str) -> Result<HashFamily, HashError> {
        match name {
            "default" => Ok(HashFamily::Default),
            "legacy" => Ok(HashFamily::Legacy),
            other => Err(HashError::UnknownHasher {
                name: other.chars().take(64).collect(),
            }),
        }
    }

    /// The name the session JSON uses for this family.
    pub fn name(self) -> &'static str {
        match self {
            HashFamily::Default => "default",
            HashFamily::Legacy => "legacy",
        }
    }

    /// The hash of a 64-bit integer, the basis of every non-text type
    /// (`basicLongHasher` in both Java factories).
    pub fn hash_i64(self, v: i64) -> i32 {
        match self {
            HashFamily::Default => {
                let mut l = v;
                l = (!l).wrapping_add(l << 18);
                l ^= l >> 31;
                l = l.wrapping_mul(21);
                l ^= l >> 11;
                l = l.wrapping_add(l << 6);
                l ^= l >> 22;
                l as i32
            }
            HashFamily::Legacy => ((v >> 32) ^ v) as i32,
        }
    }

    /// The hash of a byte string (STRING, VARCHAR, CHAR and BINARY values). Bytes are read as
    /// signed, as Java's `byte` is.
    pub fn hash_bytes(self, bytes: &[u8]) -> i32 {
        match self {
            HashFamily::Default => {
                let mut h: i32 = 0;
                for &b in bytes {
                    h = h.wrapping_add(i32::from(b as i8));
                    h = h.wrapping_add(h << 10);
                    h ^= h >> 6;
                }
                h = h.wrapping_add(h << 3);
                h ^= h >> 11;
                h.wrapping_add(h << 15)
            }
            HashFamily::Legacy => bytes.iter().fold(0i32, |h, &b| {
                h.wrapping_mul(31).wrapping_add(i32::from(b as i8))
            }),
        }
    }

    /// The hash of a BOOLEAN: the same two constants in both families.
    pub fn hash_bool(self, v: bool) -> i32 {
        if v {
            0x172B_A9C7
        } else {
            -0x3A59_CB12
        }
    }

    /// The hash of a FLOAT: its bit pattern, sign-extended, with every NaN as the canonical one.
    pub fn hash_f32(self, v: f32) -> i32 {
        let bits = if v.is_nan() { 0x7FC0_0000 } else { v.to_bits() };
        self.hash_i64(i64::from(bits as i32))
    }

    /// The hash of a DOUBLE: its bit pattern, with every NaN as the canonical one.
    pub fn hash_f64(self, v: f64) -> i32 {
        let bits = if v.is_nan() {
            0x7FF8_0000_0000_0000
        } else {
            v.to_bits()
        };
        self.hash_i64(bits as i64)
    }

    /// The hash of a DATE, given as days since 1970-01-01: the seconds of that day's UTC
    /// midnight (not the days that travel on the wire).
    pub fn hash_date(self, days: i64) -> i32 {
        self.hash_i64(days.wrapping_mul(86_400))
    }

    /// The hash of a DATETIME, given as milliseconds since the epoch (the instant, not a
    /// local wall-clock time).
    pub fn hash_datetime(self, millis: i64) -> i32 {
        self.hash_i64(millis)
    }

    /// The hash of a TIMESTAMP or TIMESTAMP_NTZ: `(seconds << 30) | nanos`, after normalizing
    /// to floor seconds and nanoseconds in `0..1_000_000_000` as Java's `Instant` holds them.
    pub fn hash_timestamp(self, seconds: i64, nanos: i32) -> i32 {
        let seconds = seconds.wrapping_add(i64::from(nanos.div_euclid(1_000_000_000)));
        let nanos = nanos.rem_euclid(1_000_000_000);
        self.hash_i64((seconds << 30) | i64::from(nanos))
    }

    /// The hash of an INTERVAL_DAY_TIME: `(total_seconds << 30) | nanos`, with the fields as
    /// Java's `IntervalDayTime` holds them (its constructor carries whole seconds out of the
    /// nanoseconds but keeps their sign). [`TypeInfo`] has no interval type, so this takes the
    /// two fields directly; it completes the set of types the SDKs' hashers know. For negative
    /// intervals pyodps hashes pandas' normalized fields instead, and the two disagree.
    pub fn hash_interval_day_time(self, total_seconds: i64, nanos: i32) -> i32 {
        let carried = total_seconds.wrapping_add(i64::from(nanos / 1_000_000_000));
        self.hash_i64((carried << 30) | i64::from(nanos % 1_000_000_000))
    }

    /// The hash of a DECIMAL(precision, scale) value given as decimal text (`-12.34`, `1E+3`).
    ///
    /// The value is scaled to `scale` fractional digits, rounding half away from zero, and
    /// taken as an integer `u` modulo 2^128. With `precision > 18` (a 128-bit decimal in the
    /// service) the hash is `h(low 64 bits of u) + h(bits 64..127 of u)` with wrapping
    /// addition, else `h(low 64 bits of u)`. Only the low 128 bits of `u` matter, so values of
    /// any size are hashed exactly without big integers.
    pub fn hash_decimal(self, text: &str, precision: u8, scale: u8) -> Result<i32, ValueError> {
        let u = scaled_decimal(text, scale)?;
        if precision > 18 {
            let low = self.hash_i64(u as u64 as i64);
            let high = self.hash_i64((u >> 64) as u64 as i64);
            Ok(low.wrapping_add(high))
        } else {
            Ok(self.hash_i64(u as u64 as i64))
        }
    }

    /// The hash of one non-NULL value of a column of type `ty`.
    ///
    /// Each type takes the [`Value`] variant the record encoder takes for it; STRING also
    /// takes `Binary` (raw bytes). ARRAY, MAP, STRUCT and JSON columns cannot be hashed.
    pub fn hash_value(self, ty: &TypeInfo, value: &Value) -> Result<i32, ValueError> {
        match (ty, value) {
            (_, Value::Null) => Err(ValueError::Null),
            (
                TypeInfo::Bigint | TypeInfo::Int | TypeInfo::Smallint | TypeInfo::Tinyint,
                Value::Int(v),
            ) => Ok(self.hash_i64(*v)),
            (TypeInfo::Float, Value::Float(v)) => Ok(self.hash_f32(*v)),
            (TypeInfo::Double, Value::Double(v)) => Ok(self.hash_f64(*v)),
            (TypeInfo::Boolean, Value::Boolean(v)) => Ok(self.hash_bool(*v)),
            (TypeInfo::String | TypeInfo::Varchar(_) | TypeInfo::Char(_), Value::String(s)) => {
                Ok(self.hash_bytes(s.as_bytes()))
            }
            (TypeInfo::String | TypeInfo::Binary, Value::Binary(b)) => Ok(self.hash_bytes(b)),
            (TypeInfo::Date, Value::Date(days)) => Ok(self.hash_date(*days)),
            (TypeInfo::Datetime, Value::Datetime(ms)) => Ok(self.hash_datetime(*ms)),
            (TypeInfo::Timestamp | TypeInfo::TimestampNtz, Value::Timestamp { seconds, nanos }) => {
                Ok(self.hash_timestamp(*seconds, *nanos))
            }
            (TypeInfo::Decimal { precision, scale }, Value::Decimal(text)) => {
                self.hash_decimal(text, *precision, *scale)
            }
            (TypeInfo::Json | TypeInfo::Array(_) | TypeInfo::Map(..) | TypeInfo::Struct(_), _) => {
                Err(ValueError::Unhashable {
                    type_info: ty.clone(),
                })
            }
            (ty, value) => Err(ValueError::TypeMismatch {
                type_info: ty.clone(),
                got: value_kind(value),
            }),
        }
    }
}

impl FromStr for HashFamily {
    type Err = HashError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        HashFamily::from_session(s)
    }
}

impl fmt::Display for HashFamily {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// True for the column types a bucket hash is defined for.
pub fn is_hashable(ty: &TypeInfo) -> bool {
    !matches!(
        ty,
        TypeInfo::Json | TypeInfo::Array(_) | TypeInfo::Map(..) | TypeInfo::Struct(_)
    )
}

/// Combines the hashes of a row's key columns (`TypeHasher.CombineHashVal`): their wrapping
/// sum `s`, mixed as `s ^ (s >> 8)`. The result is never negative, because `s` and `s >> 8`
/// share their sign bit.
pub fn combine<I: IntoIterator<Item = i32>>(hashes: I) -> i32 {
    let s = hashes.into_iter().fold(0i32, i32::wrapping_add);
    s ^ (s >> 8)
}

/// The bucket of a combined hash among `buckets` buckets (Java `%`, which never sees a
/// negative combined hash).
pub fn bucket_of(combined: i32, buckets: u32) -> Result<u32, HashError> {
    if buckets == 0 {
        return Err(HashError::NoBuckets);
    }
    // rem_euclid is non-negative and below `buckets`, so it fits a u32.
    Ok(i64::from(combined).rem_euclid(i64::from(buckets)) as u32)
}

/// The key hasher of one upsert session: which data columns are hashed, of which types, with
/// which family. Built once per session; hashing a row does not allocate.
///
/// ```
/// use maxcompute_tunnel::upsert::KeyHasher;
/// use maxcompute_tunnel::{Column, TableSchema, TypeInfo, Value};
///
/// let schema = TableSchema::new(
///     vec![
///         Column::new("topic", TypeInfo::String),
///         Column::new("partition", TypeInfo::Bigint),
///         Column::new("offset", TypeInfo::Bigint),
///         Column::new("payload", TypeInfo::String),
///     ],
///     vec![],
/// );
/// let hasher = KeyHasher::new(&schema, "default", &["topic", "partition", "offset"])?;
/// let row = ["orders".into(), Value::Int(0), Value::Int(1), "hello".into()];
/// assert_eq!(hasher.hash_row(&row)?, 1474171722);
/// assert_eq!(hasher.bucket(&row, 16)?, 10);
/// # Ok::<(), maxcompute_tunnel::upsert::HashError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyHasher {
    family: HashFamily,
    keys: Vec<KeyColumn>,
}

/// One hashed column: its position among the data columns, its name and type.
#[derive(Debug, Clone, PartialEq, Eq)]
struct KeyColumn {
    index: usize,
    name: String,
    type_info: TypeInfo,
}

impl KeyHasher {
    /// The hasher for a session whose data columns are `schema.columns`, whose `hasher` field
    /// is `hasher` and whose `hash_key` field lists `hash_key` (names matched
    /// case-insensitively, as MaxCompute does). A name listed twice is hashed twice, as Java
    /// and pyodps's pure-Python hasher do.
    pub fn new<S: AsRef<str>>(
        schema: &TableSchema,
        hasher: &str,
        hash_key: &[S],
    ) -> Result<KeyHasher, HashError> {
        let family = HashFamily::from_session(hasher)?;
        if hash_key.is_empty() {
            return Err(HashError::NoKeyColumns);
        }
        let keys = hash_key
            .iter()
            .map(|name| {
                let name = name.as_ref();
                let (index, column) =
                    schema
                        .column(name)
                        .ok_or_else(|| HashError::UnknownKeyColumn {
                            column: name.to_string(),
                        })?;
                if !is_hashable(&column.type_info) {
                    return Err(HashError::Value {
                        column: column.name.clone(),
                        source: ValueError::Unhashable {
                            type_info: column.type_info.clone(),
                        },
                    });
                }
                Ok(KeyColumn {
                    index,
                    name: column.name.clone(),
                    type_info: column.type_info.clone(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(KeyHasher { family, keys })
    }

    /// The session's hash family.
    pub fn family(&self) -> HashFamily {
        self.family
    }

    /// The names of the hashed columns, in `hash_key` order.
    pub fn key_columns(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|k| k.name.as_str())
    }

    /// The combined hash of a row of data-column values in schema order (values past the end
    /// of `row` are NULL). Extra values, such as an upsert record's hidden columns, are
    /// ignored.
    pub fn hash_row(&self, row: &[Value]) -> Result<i32, HashError> {
        let mut sum = 0i32;
        for key in &self.keys {
            let value = row.get(key.index).unwrap_or(&Value::Null);
            let h =
                self.family
                    .hash_value(&key.type_info, value)
                    .map_err(|source| match source {
                        ValueError::Null => HashError::NullKey {
                            column: key.name.clone(),
                        },
                        source => HashError::Value {
                            column: key.name.clone(),
                            source,
                        },
                    })?;
            sum = sum.wrapping_add(h);
        }
        Ok(combine([sum]))
    }

    /// The bucket of a row among `buckets` buckets (the number of distinct bucket ids in the
    /// session's slot map).
    pub fn bucket(&self, row: &[Value], buckets: u32) -> Result<u32, HashError> {
        bucket_of(self.hash_row(row)?, buckets)
    }
}

/// A value that cannot be hashed as a key of its column type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValueError {
    #[error("NULL has no bucket hash")]
    Null,

    #[error("{type_info} values cannot be hashed (only primitive types can be key columns)")]
    Unhashable { type_info: TypeInfo },

    #[error("expected a value of type {type_info}, got {got}")]
    TypeMismatch {
        type_info: TypeInfo,
        got: &'static str,
    },

    #[error("`{text}` is not a decimal number")]
    InvalidDecimal {
        /// The offending text, cut to its first 64 characters.
        text: String,
    },
}

/// Why a session's key hasher cannot be built or a row cannot be given a bucket.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HashError {
    #[error(
        "the upsert session names hash function `{name}`, but only `default` and `legacy` \
         exist; upgrade this client if MaxCompute added one"
    )]
    UnknownHasher { name: String },

    #[error(
        "the upsert session names no hash_key columns; upsert needs a table with a primary key"
    )]
    NoKeyColumns,

    #[error("hash_key column `{column}` is not a data column of the session schema")]
    UnknownKeyColumn { column: String },

    #[error("primary key column `{column}` is NULL; every primary key column needs a value")]
    NullKey { column: String },

    #[error("primary key column `{column}`: {source}")]
    Value {
        column: String,
        #[source]
        source: ValueError,
    },

    #[error("the upsert session has no buckets")]
    NoBuckets,
}

/// `text` scaled to `scale` fractional digits, rounded half away from zero, modulo 2^128 in
/// two's complement: the integer both SDKs derive from the decimal's text
/// (`castBigDecimal2BigInteger` in Java, `_hash_decimal` in pyodps).
fn scaled_decimal(text: &str, scale: u8) -> Result<u128, ValueError> {
    let invalid = || ValueError::InvalidDecimal {
        text: text.chars().take(64).collect(),
    };
    let trimmed = text.trim();
    let (negative, unsigned) = match trimmed.as_bytes().first() {
        Some(b'-') => (true, &trimmed[1..]),
        Some(b'+') => (false, &trimmed[1..]),
        _ => (false, trimmed),
    };
    let unsigned = unsigned.trim_start_matches('0');
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        // An exponent marker needs something after it; a bare trailing `e` is malformed.
        Some(at) if at + 1 < unsigned.len() => (
            &unsigned[..at],
            parse_exponent(&unsigned[at + 1..]).ok_or_else(invalid)?,
        ),
        Some(_) => return Err(invalid()),
        None => (unsigned, 0),
    };
    let (integer, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let is_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if !is_digits(integer) || !is_digits(fraction) {
        return Err(invalid());
    }
    let digits = || integer.bytes().chain(fraction.bytes()).map(|b| b - b'0');
    let len = integer.len() + fraction.len();
    // At most a few billion digits and a 64-bit exponent: i128 holds the difference.
    let value_scale = fraction.len() as i128 - i128::from(exponent);
    let target = i128::from(scale);
    let magnitude = if value_scale > target {
        // Drop the last `drop` digits; the first dropped one decides the rounding. Left of
        // the written digits there are only zeros, so dropping more than all of them is 0.
        let drop = value_scale - target;
        match usize::try_from(len as i128 - drop) {
            Ok(keep) => {
                let round = digits().nth(keep).unwrap_or(0);
                to_u128(digits().take(keep)).wrapping_add(u128::from(round >= 5))
            }
            Err(_) => 0,
        }
    } else {
        // 10^k is a multiple of 2^128 from k = 128 on.
        let factor = u32::try_from(target - value_scale)
            .ok()
            .filter(|&k| k < 128)
            .map_or(0, |k| 10u128.wrapping_pow(k));
        to_u128(digits()).wrapping_mul(factor)
    };
    Ok(if negative {
        magnitude.wrapping_neg()
    } else {
        magnitude
    })
}

/// The decimal digits as an integer modulo 2^128.
fn to_u128(digits: impl Iterator<Item = u8>) -> u128 {
    digits.fold(0u128, |acc, d| {
        acc.wrapping_mul(10).wrapping_add(u128::from(d))
    })
}

/// `[+-]digits` as an i64 (Java `Integer.parseInt`, python `int`); None if not, or too large.
fn parse_exponent(text: &str) -> Option<i64> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_scaling_follows_the_sdks_text_rules() {
        let cases: &[(&str, u8, i128)] = &[
            ("0", 2, 0),
            ("-0", 2, 0),
            ("", 2, 0),
            ("-", 2, 0),
            (".", 2, 0),
            ("1", 2, 100),
            ("+1", 2, 100),
            ("-1", 2, -100),
            ("007.50", 1, 75),
            (".5", 0, 1),
            ("-0.5", 0, -1),
            ("0.005", 2, 1),
            ("0.0049", 2, 0),
            ("-2.345", 2, -235),
            ("1E+3", 2, 100_000),
            ("1e3", 0, 1000),
            ("1.5E-1", 2, 15),
            ("125E-3", 2, 13),
            ("1E-7", 2, 0),
            ("9E-7", 2, 0),
            ("9E-3", 2, 1),
            ("95E-4", 2, 1),
            ("0E+5", 2, 0),
            (" 12.34 ", 2, 1234),
        ];
        for &(text, scale, expected) in cases {
            assert_eq!(
                scaled_decimal(text, scale),
                Ok(expected as u128),
                "{text:?} at scale {scale}"
            );
        }
    }

    #[test]
    fn huge_decimals_wrap_at_128_bits() {
        // 2^128 + 5 and 10^40 at scale 0, both computed without big integers.
        assert_eq!(
            scaled_decimal("340282366920938463463374607431768211461", 0),
            Ok(5)
        );
        let ten_pow_40 = 10u128.pow(38).wrapping_mul(100);
        assert_eq!(
            scaled_decimal(&format!("1{}", "0".repeat(40)), 0),
            Ok(ten_pow_40)
        );
        assert_eq!(scaled_decimal("1E+40", 0), Ok(ten_pow_40));
        assert_eq!(scaled_decimal("1E+128", 0), Ok(0));
        assert_eq!(scaled_decimal("1E+999999999999", 0), Ok(0));
        assert_eq!(scaled_decimal("1E-999999999999", 18), Ok(0));
        assert_eq!(scaled_decimal(&"9".repeat(10_000), 38), {
            let nines = "9".repeat(10_000);
            Ok(to_u128(nines.bytes().map(|b| b - b'0')).wrapping_mul(10u128.pow(38)))
        });
    }

    #[test]
    fn malformed_decimals_are_errors() {
        for text in [
            "1e",
            "1E+",
            "1.2.3",
            "abc",
            "1,5",
            "0x10",
            "NaN",
            "١",
            "1e1.5",
            "1E--1",
            "--1",
            "1E99999999999999999999",
        ] {
            assert!(
                matches!(
                    scaled_decimal(text, 2),
                    Err(ValueError::InvalidDecimal { .. })
                ),
                "{text:?}"
            );
        }
    }

    #[test]
    fn combined_hash_is_never_negative() {
        for s in [i32::MIN, -1, -256, i32::MAX, 0, 1 << 30] {
            assert!(combine([s]) >= 0, "{s}");
        }
    }

    #[test]
    fn nan_hashes_as_the_canonical_nan() {
        for family in [HashFamily::Default, HashFamily::Legacy] {
            let quiet = family.hash_f64(f64::NAN);
            assert_eq!(
                family.hash_f64(f64::from_bits(0x7FF0_0000_0000_0001)),
                quiet
            );
            assert_eq!(
                family.hash_f64(f64::from_bits(0xFFF8_0000_0000_0000)),
                quiet
            );
            let quiet32 = family.hash_f32(f32::NAN);
            assert_eq!(family.hash_f32(f32::from_bits(0xFF80_0001)), quiet32);
            assert_eq!(quiet32, family.hash_i64(0x7FC0_0000));
        }
    }
}
