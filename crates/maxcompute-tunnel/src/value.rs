//! Values of MaxCompute columns, as the record codec writes and reads them.

/// One cell of a row. The variant must fit the column type; the encoder checks that and the
/// column's limits (narrow integer ranges, varchar/char length, decimal precision, MaxFieldSize).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL NULL: the field is omitted from the record.
    Null,
    /// BIGINT, INT, SMALLINT or TINYINT.
    Int(i64),
    Double(f64),
    Float(f32),
    Boolean(bool),
    /// STRING, VARCHAR, CHAR: UTF-8 text.
    String(String),
    /// BINARY; also accepted for STRING columns, whose values MaxCompute stores as raw bytes.
    Binary(Vec<u8>),
    /// DATETIME: milliseconds since the Unix epoch (an instant, UTC).
    Datetime(i64),
    /// DATE: days since 1970-01-01.
    Date(i64),
    /// TIMESTAMP and TIMESTAMP_NTZ: seconds since the epoch and nanoseconds (0..=999_999_999).
    Timestamp {
        seconds: i64,
        nanos: i32,
    },
    /// DECIMAL as plain decimal text (`-12.340`), exactly as written on the wire.
    Decimal(String),
    /// JSON: the JSON text, sent verbatim.
    Json(String),
    /// `ARRAY<T>`; elements may be `Null`.
    Array(Vec<Value>),
    /// `MAP<K,V>` as entries in order; values may be `Null`.
    Map(Vec<(Value, Value)>),
    /// `STRUCT<...>`: one value per declared field, in declaration order.
    Struct(Vec<Value>),
}

impl Value {
    pub(crate) fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::String(v.to_string())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::String(v)
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Boolean(v)
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Double(v)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}
