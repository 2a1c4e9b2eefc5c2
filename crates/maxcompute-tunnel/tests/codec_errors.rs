//! Every `EncodeError` and `DecodeError` variant, reached on purpose. Damaged streams are built
//! by hand with correct CRCs, so each test fails for the one reason it is about.

use std::sync::Arc;

use maxcompute_tunnel::codec::{
    decode_stream, decode_stream_with, ColumnRef, DecodeError, DecodeOptions, EncodeError,
    InvalidUtf8, RecordEncoder,
};
use maxcompute_tunnel::{Column, TableSchema, TypeInfo, Value};

fn schema(types: &[&str]) -> Arc<TableSchema> {
    Arc::new(TableSchema::new(
        types
            .iter()
            .enumerate()
            .map(|(i, t)| Column::new(format!("c{}", i + 1), TypeInfo::parse(t).unwrap()))
            .collect(),
        vec![],
    ))
}

fn col(index: usize) -> ColumnRef {
    ColumnRef {
        name: format!("c{index}"),
        index,
    }
}

const END_RECORD: u32 = (1 << 25) - 1024;
const META_COUNT: u32 = (1 << 25) - 2;
const META_CHECKSUM: u32 = (1 << 25) - 1;

/// Writes streams field by field, keeping the CRCs right unless told otherwise.
#[derive(Default)]
struct Raw {
    bytes: Vec<u8>,
    crc: u32,
    crcs: u32,
    records: i64,
}

impl Raw {
    fn varint(&mut self, mut v: u64) -> &mut Self {
        while v >= 0x80 {
            self.bytes.push(v as u8 | 0x80);
            v >>= 7;
        }
        self.bytes.push(v as u8);
        self
    }
    fn tag(&mut self, field: u32, wire_type: u8) -> &mut Self {
        self.varint(u64::from(field << 3 | u32::from(wire_type)))
    }
    fn feed(&mut self, data: &[u8]) -> &mut Self {
        self.crc = crc32c::crc32c_append(self.crc, data);
        self
    }
    /// A field tag, with its number fed to the CRC as the spec says.
    fn field(&mut self, field: u32, wire_type: u8) -> &mut Self {
        self.tag(field, wire_type).feed(&field.to_le_bytes())
    }
    fn sint64(&mut self, v: i64) -> &mut Self {
        self.varint(((v << 1) ^ (v >> 63)) as u64)
            .feed(&v.to_le_bytes())
    }
    fn string(&mut self, data: &[u8]) -> &mut Self {
        self.varint(data.len() as u64);
        self.bytes.extend_from_slice(data);
        self.feed(data)
    }
    fn end_record(&mut self) -> &mut Self {
        let crc = self.crc;
        self.end_record_with(crc)
    }
    fn end_record_with(&mut self, crc: u32) -> &mut Self {
        self.tag(END_RECORD, 0).varint(u64::from(crc));
        self.crcs = crc32c::crc32c_append(self.crcs, &crc.to_le_bytes());
        self.crc = 0;
        self.records += 1;
        self
    }
    fn footer(&mut self) -> &mut Self {
        let (records, crcs) = (self.records, self.crcs);
        self.footer_with(records, crcs)
    }
    fn footer_with(&mut self, count: i64, crcs: u32) -> &mut Self {
        self.tag(META_COUNT, 0)
            .varint(((count << 1) ^ (count >> 63)) as u64)
            .tag(META_CHECKSUM, 0)
            .varint(u64::from(crcs))
    }
    fn done(&self) -> Vec<u8> {
        self.bytes.clone()
    }
}

// ---- EncodeError ----

fn append_err(types: &[&str], row: &[Value]) -> EncodeError {
    let mut encoder = RecordEncoder::new(schema(types));
    encoder.append(row).unwrap_err()
}

#[test]
fn too_many_values() {
    assert_eq!(
        append_err(&["bigint"], &[Value::Int(1), Value::Int(2)]),
        EncodeError::TooManyValues { got: 2, columns: 1 }
    );
}

#[test]
fn type_mismatch_names_the_column_and_the_types() {
    let err = append_err(&["bigint", "string"], &[Value::Int(1), Value::Int(2)]);
    assert_eq!(
        err,
        EncodeError::TypeMismatch {
            column: col(2),
            expected: TypeInfo::String,
            got: "an integer"
        }
    );
    assert_eq!(
        err.to_string(),
        "column `c2` (#2): expected a value of type string, got an integer"
    );
    // Inside nested values the expected type is the element's.
    assert_eq!(
        append_err(&["array<int>"], &[Value::Array(vec![Value::Double(1.0)])]),
        EncodeError::TypeMismatch {
            column: col(1),
            expected: TypeInfo::Int,
            got: "a double"
        }
    );
    // BINARY does not take text, JSON does not take a plain string.
    assert!(matches!(
        append_err(&["binary"], &["x".into()]),
        EncodeError::TypeMismatch { .. }
    ));
    assert!(matches!(
        append_err(&["json"], &["{}".into()]),
        EncodeError::TypeMismatch { .. }
    ));
}

#[test]
fn struct_field_count() {
    assert_eq!(
        append_err(
            &["struct<a:bigint,b:string>"],
            &[Value::Struct(vec![Value::Int(1)])]
        ),
        EncodeError::StructFieldCount {
            column: col(1),
            expected: 2,
            got: 1
        }
    );
}

#[test]
fn field_too_large_for_every_length_delimited_kind() {
    let cases: [(&str, Value); 5] = [
        ("string", Value::String("abcde".into())),
        ("string", Value::Binary(vec![0; 5])),
        ("binary", Value::Binary(vec![0; 5])),
        ("json", Value::Json("[1,2]".into())),
        ("decimal(10,2)", Value::Decimal("123.4".into())),
    ];
    for (ty, value) in cases {
        let mut encoder = RecordEncoder::new(schema(&[ty])).with_max_field_size(4);
        assert_eq!(
            encoder.append(&[value]).unwrap_err(),
            EncodeError::FieldTooLarge {
                column: col(1),
                len: 5,
                max: 4
            },
            "{ty}"
        );
    }
    let mut encoder = RecordEncoder::new(schema(&["string"])).with_max_field_size(5);
    encoder.append(&["abcde".into()]).unwrap();
}

#[test]
fn integer_out_of_range_for_narrow_types() {
    for (ty, bad, good) in [
        ("tinyint", 128, -128),
        ("smallint", -32_769, 32_767),
        ("int", 2_147_483_648, -2_147_483_648),
    ] {
        assert_eq!(
            append_err(&[ty], &[Value::Int(bad)]),
            EncodeError::IntegerOutOfRange {
                column: col(1),
                value: bad,
                type_info: TypeInfo::parse(ty).unwrap()
            }
        );
        RecordEncoder::new(schema(&[ty]))
            .append(&[Value::Int(good)])
            .unwrap();
    }
}

#[test]
fn varchar_and_char_count_characters_not_bytes() {
    // Three characters, nine bytes.
    let mut encoder = RecordEncoder::new(schema(&["varchar(3)", "char(3)"]));
    encoder.append(&["中文字".into(), "中文字".into()]).unwrap();
    assert_eq!(
        append_err(&["varchar(3)"], &["abcd".into()]),
        EncodeError::VarcharTooLong {
            column: col(1),
            chars: 4,
            max: 3
        }
    );
    assert_eq!(
        append_err(&["char(2)"], &["中文字".into()]),
        EncodeError::CharTooLong {
            column: col(1),
            chars: 3,
            max: 2
        }
    );
}

#[test]
fn decimal_text_is_checked_not_rounded() {
    assert_eq!(
        append_err(&["decimal(10,2)"], &[Value::Decimal("1e3".into())]),
        EncodeError::DecimalInvalid {
            column: col(1),
            text: "1e3".into()
        }
    );
    assert_eq!(
        append_err(&["decimal(10,2)"], &[Value::Decimal("1.234".into())]),
        EncodeError::DecimalPrecision {
            column: col(1),
            precision: 10,
            scale: 2,
            integer_digits: 1,
            fraction_digits: 3
        }
    );
    assert!(matches!(
        append_err(&["decimal(4,2)"], &[Value::Decimal("123".into())]),
        EncodeError::DecimalPrecision {
            integer_digits: 3,
            ..
        }
    ));
    let long = "x".repeat(1000);
    match append_err(&["decimal(10,2)"], &[Value::Decimal(long)]) {
        EncodeError::DecimalInvalid { text, .. } => assert_eq!(text.len(), 64),
        other => panic!("{other:?}"),
    }
}

#[test]
fn non_nullable_refuses_null_and_missing_values() {
    let mut strict = TableSchema::clone(&schema(&["bigint", "string"]));
    strict.columns[1].nullable = false;
    let mut encoder = RecordEncoder::new(Arc::new(strict));
    for row in [vec![Value::Int(1), Value::Null], vec![Value::Int(1)]] {
        assert_eq!(
            encoder.append(&row).unwrap_err(),
            EncodeError::NonNullable { column: col(2) }
        );
    }
}

#[test]
fn invalid_timestamp_nanos() {
    for nanos in [-1, 1_000_000_000] {
        assert_eq!(
            append_err(&["timestamp"], &[Value::Timestamp { seconds: 0, nanos }]),
            EncodeError::InvalidTimestampNanos {
                column: col(1),
                nanos
            }
        );
    }
}

#[test]
fn invalid_json() {
    match append_err(&["json"], &[Value::Json("{\"a\":".into())]) {
        EncodeError::InvalidJson { column, reason } => {
            assert_eq!(column, col(1));
            assert!(reason.contains("EOF"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_refused_row_leaves_the_block_unchanged() {
    let schema = schema(&["string", "array<tinyint>"]);
    let mut encoder = RecordEncoder::new(schema.clone());
    encoder
        .append(&["a".into(), Value::Array(vec![Value::Int(1)])])
        .unwrap();
    let len = encoder.encoded_len();
    // The failure comes after the first field and part of the array were written.
    let bad = [
        "b".into(),
        Value::Array(vec![Value::Int(2), Value::Int(999)]),
    ];
    assert!(encoder.append(&bad).is_err());
    assert_eq!(encoder.encoded_len(), len);
    assert_eq!(encoder.record_count(), 1);
    encoder.append(&["c".into(), Value::Array(vec![])]).unwrap();
    let rows = decode_stream(&schema, &encoder.finish()).unwrap();
    assert_eq!(
        rows,
        vec![
            vec!["a".into(), Value::Array(vec![Value::Int(1)])],
            vec!["c".into(), Value::Array(vec![])],
        ]
    );
}

#[test]
fn nan_bits_survive() {
    let schema = schema(&["double", "float"]);
    let double = f64::from_bits(0x7ff8_0000_dead_beef);
    let float = f32::from_bits(0x7fc0_beef);
    let mut encoder = RecordEncoder::new(schema.clone());
    encoder
        .append(&[Value::Double(double), Value::Float(float)])
        .unwrap();
    let rows = decode_stream(&schema, &encoder.finish()).unwrap();
    match rows[0].as_slice() {
        [Value::Double(d), Value::Float(f)] => {
            assert_eq!(d.to_bits(), double.to_bits());
            assert_eq!(f.to_bits(), float.to_bits());
        }
        other => panic!("{other:?}"),
    }
}

// ---- DecodeError ----

fn bigint_record(raw: &mut Raw, v: i64) -> &mut Raw {
    raw.field(1, 0).sint64(v).end_record()
}

#[test]
fn a_hand_built_stream_is_valid() {
    // The builder itself is right, so the failures below are about what each one changes.
    let mut raw = Raw::default();
    bigint_record(&mut raw, 7).footer();
    assert_eq!(
        decode_stream(&schema(&["bigint"]), &raw.done()).unwrap(),
        vec![vec![Value::Int(7)]]
    );
}

#[test]
fn truncated() {
    let mut raw = Raw::default();
    raw.field(1, 2).varint(10).feed(b"abc");
    raw.bytes.extend_from_slice(b"abc");
    assert_eq!(
        decode_stream(&schema(&["string"]), &raw.done()),
        Err(DecodeError::Truncated { offset: 2 })
    );
    // Fields read, then the end of input before END_RECORD.
    let mut raw = Raw::default();
    raw.field(1, 0).sint64(1);
    assert_eq!(
        decode_stream(&schema(&["bigint"]), &raw.done()),
        Err(DecodeError::Truncated { offset: 2 })
    );
    // An array count larger than the rest of the stream.
    let mut raw = Raw::default();
    raw.field(1, 2).varint(1000);
    assert!(matches!(
        decode_stream(&schema(&["array<bigint>"]), &raw.done()),
        Err(DecodeError::Truncated { .. })
    ));
}

#[test]
fn bad_varint() {
    let mut bytes = vec![0x08];
    bytes.extend([0xff; 11]);
    assert_eq!(
        decode_stream(&schema(&["bigint"]), &bytes),
        Err(DecodeError::BadVarint { offset: 1 })
    );
    // A CRC varint with bits beyond 32 that are not a sign extension.
    let mut raw = Raw::default();
    raw.tag(END_RECORD, 0).varint(1 << 33);
    assert_eq!(
        decode_stream(&schema(&["bigint"]), &raw.done()),
        Err(DecodeError::BadVarint { offset: 4 })
    );
}

#[test]
fn unknown_field() {
    for field in [0, 2, (1 << 25) - 256] {
        let mut raw = Raw::default();
        raw.field(field, 0).sint64(1).end_record().footer();
        assert_eq!(
            decode_stream(&schema(&["bigint"]), &raw.done()),
            Err(DecodeError::UnknownField {
                record: 0,
                field,
                offset: 0
            })
        );
    }
}

#[test]
fn duplicate_field() {
    let mut raw = Raw::default();
    raw.field(1, 0)
        .sint64(1)
        .field(1, 0)
        .sint64(2)
        .end_record()
        .footer();
    assert_eq!(
        decode_stream(&schema(&["bigint"]), &raw.done()),
        Err(DecodeError::DuplicateField {
            record: 0,
            field: 1
        })
    );
}

#[test]
fn wire_type_mismatch() {
    let mut raw = Raw::default();
    bigint_record(&mut raw, 1);
    raw.field(1, 2).sint64(1).end_record().footer();
    assert_eq!(
        decode_stream(&schema(&["bigint"]), &raw.done()),
        Err(DecodeError::WireTypeMismatch {
            record: 1,
            field: 1,
            column_type: TypeInfo::Bigint,
            wire_type: 2,
            expected: 0
        })
    );
}

#[test]
fn malformed_tag() {
    let mut raw = Raw::default();
    raw.tag(END_RECORD, 1).varint(0).footer();
    assert_eq!(
        decode_stream(&schema(&["bigint"]), &raw.done()),
        Err(DecodeError::MalformedTag {
            field: END_RECORD,
            wire_type: 1,
            offset: 0
        })
    );
}

#[test]
fn record_crc_mismatch() {
    let mut raw = Raw::default();
    raw.field(1, 0).sint64(1);
    let right = raw.crc;
    raw.end_record_with(right ^ 1).footer();
    assert_eq!(
        decode_stream(&schema(&["bigint"]), &raw.done()),
        Err(DecodeError::RecordCrcMismatch {
            record: 0,
            expected: right ^ 1,
            actual: right
        })
    );
}

#[test]
fn unterminated_record() {
    let mut raw = Raw::default();
    raw.field(1, 0).sint64(1).footer();
    assert_eq!(
        decode_stream(&schema(&["bigint"]), &raw.done()),
        Err(DecodeError::UnterminatedRecord { record: 0 })
    );
}

#[test]
fn count_mismatch() {
    for declared in [0, 2, -1] {
        let mut raw = Raw::default();
        bigint_record(&mut raw, 1);
        let crcs = raw.crcs;
        raw.footer_with(declared, crcs);
        assert_eq!(
            decode_stream(&schema(&["bigint"]), &raw.done()),
            Err(DecodeError::CountMismatch {
                declared,
                actual: 1
            })
        );
    }
}

#[test]
fn checksum_mismatch() {
    let mut raw = Raw::default();
    bigint_record(&mut raw, 1);
    let crcs = raw.crcs;
    raw.footer_with(1, crcs.wrapping_add(1));
    assert_eq!(
        decode_stream(&schema(&["bigint"]), &raw.done()),
        Err(DecodeError::ChecksumMismatch {
            expected: crcs.wrapping_add(1),
            actual: crcs
        })
    );
}

#[test]
fn malformed_footer() {
    let mut raw = Raw::default();
    raw.tag(META_COUNT, 0)
        .varint(0)
        .tag(END_RECORD, 0)
        .varint(0);
    assert_eq!(
        decode_stream(&schema(&["bigint"]), &raw.done()),
        Err(DecodeError::MalformedFooter {
            offset: 5,
            reason: "the record count is not followed by the checksum"
        })
    );
}

#[test]
fn trailing_bytes() {
    let mut raw = Raw::default();
    raw.footer();
    raw.bytes.extend([0, 0]);
    assert_eq!(
        decode_stream(&schema(&["bigint"]), &raw.done()),
        Err(DecodeError::TrailingBytes { offset: 10, len: 2 })
    );
}

#[test]
fn missing_footer() {
    let mut raw = Raw::default();
    bigint_record(&mut raw, 1);
    assert_eq!(
        decode_stream(&schema(&["bigint"]), &raw.done()),
        Err(DecodeError::MissingFooter { records: 1 })
    );
    assert_eq!(
        decode_stream(&schema(&["bigint"]), &[]),
        Err(DecodeError::MissingFooter { records: 0 })
    );
}

#[test]
fn invalid_utf8_follows_pyodps_by_default_or_keeps_bytes() {
    let bad = [0x66, 0xff, 0x6f];
    let stream = |wire_type: u8| {
        let mut raw = Raw::default();
        raw.field(1, wire_type).string(&bad).end_record().footer();
        raw.done()
    };
    let string = schema(&["string"]);
    assert_eq!(
        decode_stream(&string, &stream(2)),
        Err(DecodeError::InvalidUtf8 {
            record: 0,
            column: col(1)
        })
    );
    let keep = DecodeOptions {
        invalid_utf8: InvalidUtf8::AsBinary,
        ..DecodeOptions::default()
    };
    assert_eq!(
        decode_stream_with(&string, &stream(2), &keep).unwrap(),
        vec![vec![Value::Binary(bad.to_vec())]]
    );
    // The encoder takes raw bytes for STRING, so such streams can be produced on purpose.
    let mut encoder = RecordEncoder::new(string.clone());
    encoder.append(&[Value::Binary(bad.to_vec())]).unwrap();
    assert_eq!(encoder.finish(), stream(2));
    // VARCHAR and JSON must be text whatever the option says.
    for ty in ["varchar(10)", "json"] {
        assert_eq!(
            decode_stream_with(&schema(&[ty]), &stream(2), &keep),
            Err(DecodeError::InvalidUtf8 {
                record: 0,
                column: col(1)
            }),
            "{ty}"
        );
    }
}

#[test]
fn field_too_large() {
    let mut raw = Raw::default();
    raw.field(1, 2).string(b"hello").end_record().footer();
    let schema = schema(&["binary"]);
    let limit = |max_field_size| DecodeOptions {
        max_field_size,
        ..DecodeOptions::default()
    };
    assert_eq!(
        decode_stream_with(&schema, &raw.done(), &limit(4)),
        Err(DecodeError::FieldTooLarge {
            record: 0,
            column: col(1),
            len: 5,
            max: 4
        })
    );
    assert!(decode_stream_with(&schema, &raw.done(), &limit(5)).is_ok());
}

/// Writes the fields of one record into a hand-built stream.
type Build = dyn Fn(&mut Raw);

#[test]
fn invalid_values() {
    let invalid = |types: &[&str], build: &dyn Fn(&mut Raw)| -> String {
        let mut raw = Raw::default();
        build(&mut raw);
        raw.end_record().footer();
        match decode_stream(&schema(types), &raw.done()) {
            Err(DecodeError::InvalidValue {
                record: 0, reason, ..
            }) => reason,
            other => panic!("{types:?}: {other:?}"),
        }
    };
    let nanos = |raw: &mut Raw, n: i32| {
        raw.field(1, 2).sint64(0);
        raw.varint(u64::from(((n << 1) ^ (n >> 31)) as u32))
            .feed(&n.to_le_bytes());
    };
    let cases: Vec<(&[&str], Box<Build>, &str)> = vec![
        (
            &["tinyint"],
            Box::new(|r| {
                r.field(1, 0).sint64(200);
            }),
            "out of range",
        ),
        (
            &["boolean"],
            Box::new(|r| {
                r.field(1, 0).varint(2).feed(&[2]);
            }),
            "boolean is 2",
        ),
        (
            &["timestamp"],
            Box::new(move |r| nanos(r, 1_000_000_000)),
            "nanoseconds",
        ),
        (
            &["timestamp_ntz"],
            Box::new(move |r| nanos(r, -1)),
            "nanoseconds",
        ),
        (
            &["decimal(5,2)"],
            Box::new(|r| {
                r.field(1, 2).string(b"12.345");
            }),
            "not a valid",
        ),
        (
            &["decimal(5,2)"],
            Box::new(|r| {
                r.field(1, 2).string(b"abc");
            }),
            "not a valid",
        ),
        (
            &["json"],
            Box::new(|r| {
                r.field(1, 2).string(b"{oops");
            }),
            "invalid JSON",
        ),
        (
            &["varchar(2)"],
            Box::new(|r| {
                r.field(1, 2).string("中文字".as_bytes());
            }),
            "3 characters",
        ),
        (
            &["array<bigint>"],
            Box::new(|r| {
                r.field(1, 2).varint(1).varint(7);
            }),
            "null flag is 7",
        ),
        (
            &["map<bigint,bigint>"],
            Box::new(|r| {
                r.field(1, 2).varint(1).varint(0).sint64(1).varint(0);
            }),
            "1 keys but 0 values",
        ),
    ];
    for (types, build, expected) in cases {
        let reason = invalid(types, &*build);
        assert!(reason.contains(expected), "{types:?}: {reason}");
    }
    // Pyodps's exponent spelling of small decimals is a valid value.
    let mut raw = Raw::default();
    raw.field(1, 2).string(b"1E-7").end_record().footer();
    assert_eq!(
        decode_stream(&schema(&["decimal(10,7)"]), &raw.done()).unwrap(),
        vec![vec![Value::Decimal("1E-7".into())]]
    );
}

#[test]
fn null_in_a_non_nullable_column_is_invalid() {
    let mut strict = TableSchema::clone(&schema(&["bigint", "bigint"]));
    strict.columns[1].nullable = false;
    let mut raw = Raw::default();
    bigint_record(&mut raw, 1).footer();
    match decode_stream(&strict, &raw.done()) {
        Err(DecodeError::InvalidValue { column, reason, .. }) => {
            assert_eq!(column, col(2));
            assert!(reason.contains("not nullable"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}
