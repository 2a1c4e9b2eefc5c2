//! The format x mode matrix, the type table and each bad input.

use base64::Engine;
use maxcompute_tunnel::{Column, TableSchema, TypeInfo, Value};

use super::*;
use crate::config::{Format, Mode};
use crate::event::KafkaRecord;
use crate::zone::Zone;

fn schema(columns: &[(&str, &str)]) -> TableSchema {
    TableSchema::new(
        columns
            .iter()
            .map(|(n, t)| Column::new(*n, TypeInfo::parse(t).unwrap()))
            .collect(),
        vec![Column::new("pt", TypeInfo::String)],
    )
}

fn meta(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut cols = vec![
        ("topic", "string"),
        ("partition", "bigint"),
        ("offset", "bigint"),
    ];
    cols.extend_from_slice(extra);
    cols
}

fn converter(format: Format, mode: Mode, extra: &[(&'static str, &'static str)]) -> Converter {
    Converter::with(
        "t",
        &schema(&meta(extra)),
        format,
        mode,
        "pt",
        Zone::parse("Asia/Shanghai").unwrap(),
    )
    .unwrap()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn record(key: Option<&[u8]>, value: Option<&[u8]>) -> KafkaRecord {
    let json = serde_json::json!({
        "topic": "topic_text", "partition": 0, "offset": 7, "timestamp": 1_689_254_000_123_i64,
        "key": key.map(b64), "value": value.map(b64),
    });
    serde_json::from_value(json).unwrap()
}

fn s(v: &str) -> Value {
    Value::String(v.into())
}

fn head() -> Vec<Value> {
    vec![s("topic_text"), Value::Int(0), Value::Int(7)]
}

fn row(tail: Vec<Value>) -> Vec<Value> {
    let mut r = head();
    r.extend(tail);
    r
}

const KV_STRING: &[(&str, &str)] = &[("key", "string"), ("value", "string")];
const KV_BINARY: &[(&str, &str)] = &[("key", "binary"), ("value", "binary")];
const KV_JSON: &[(&str, &str)] = &[("key", "string"), ("value", "json")];

// ---- TEXT ----

#[test]
fn text_key_value_default() {
    let rec = record(Some(b"123"), Some(b"abc"));
    let cases = [
        (Mode::Key, row(vec![s("123"), Value::Null])),
        (Mode::Value, row(vec![Value::Null, s("abc")])),
        (Mode::Default, row(vec![s("123"), s("abc")])),
    ];
    for (mode, expected) in cases {
        let c = converter(Format::Text, mode, KV_STRING);
        assert_eq!(c.convert(&rec).unwrap(), expected, "{mode:?}");
    }
}

#[test]
fn text_null_key_is_null_and_invalid_utf8_is_replaced() {
    let c = converter(Format::Text, Mode::Default, KV_STRING);
    let rec = record(None, Some(&[b'a', 0xff, b'b']));
    assert_eq!(
        c.convert(&rec).unwrap(),
        row(vec![Value::Null, s("a\u{fffd}b")])
    );
}

#[test]
fn text_value_mode_needs_no_key_column() {
    let c = converter(Format::Text, Mode::Value, &[("value", "string")]);
    assert_eq!(
        c.convert(&record(Some(b"k"), Some(b"v"))).unwrap(),
        row(vec![s("v")])
    );
}

// ---- BINARY ----

#[test]
fn binary_key_value_default_with_nulls() {
    let rec = record(Some(&[0, 0xff]), None);
    let cases = [
        (
            Mode::Key,
            row(vec![Value::Binary(vec![0, 0xff]), Value::Null]),
        ),
        (Mode::Value, row(vec![Value::Null, Value::Null])),
        (
            Mode::Default,
            row(vec![Value::Binary(vec![0, 0xff]), Value::Null]),
        ),
    ];
    for (mode, expected) in cases {
        let c = converter(Format::Binary, mode, KV_BINARY);
        assert_eq!(c.convert(&rec).unwrap(), expected, "{mode:?}");
    }
}

// ---- JSON ----

#[test]
fn json_key_and_value_modes() {
    let rec = record(Some(br#"{"k":1}"#), Some(br#"{"id":123,"name":"json-1"}"#));
    let c = converter(Format::Json, Mode::Value, KV_JSON);
    assert_eq!(
        c.convert(&rec).unwrap(),
        row(vec![
            Value::Null,
            Value::Json(r#"{"id":123,"name":"json-1"}"#.into())
        ])
    );
    let c = converter(Format::Json, Mode::Key, KV_JSON);
    assert_eq!(
        c.convert(&rec).unwrap(),
        row(vec![s(r#"{"k":1}"#), Value::Null])
    );
    let c = converter(Format::Json, Mode::Value, KV_JSON);
    assert_eq!(
        c.convert(&record(None, None)).unwrap(),
        row(vec![Value::Null, Value::Null])
    );
}

#[test]
fn json_invalid_text_is_a_record_error() {
    let c = converter(Format::Json, Mode::Value, KV_JSON);
    let err = c.convert(&record(None, Some(b"not json {"))).unwrap_err();
    assert_eq!(err.id.offset, 7);
    assert_eq!(err.kind(), "InvalidJson");
    assert!(err.to_string().starts_with(
        "cannot convert the record at topic \"topic_text\" partition 0 offset 7: the record's value is not valid JSON"
    ), "{err}");
}

// ---- CSV ----

const CSV_COLS: &[(&str, &str)] = &[("id", "bigint"), ("name", "string"), ("region", "string")];

#[test]
fn csv_value_and_key_modes() {
    let c = converter(Format::Csv, Mode::Value, CSV_COLS);
    let rec = record(Some(b"9,k,x"), Some(b"1103,zhangsan,china"));
    assert_eq!(
        c.convert(&rec).unwrap(),
        row(vec![Value::Int(1103), s("zhangsan"), s("china")])
    );
    let c = converter(Format::Csv, Mode::Key, CSV_COLS);
    assert_eq!(
        c.convert(&rec).unwrap(),
        row(vec![Value::Int(9), s("k"), s("x")])
    );
}

#[test]
fn csv_null_token_empty_field_and_field_count() {
    let c = converter(Format::Csv, Mode::Value, CSV_COLS);
    let rec = record(None, Some(br#"\N,"","\N""#));
    assert_eq!(
        c.convert(&rec).unwrap(),
        row(vec![Value::Null, s(""), Value::Null])
    );
    let err = c.convert(&record(None, Some(b"1,a"))).unwrap_err();
    assert_eq!(
        err.reason,
        Reason::CsvFieldCount {
            expected: 3,
            found: 2,
            data: "\"1,a\"".into()
        }
    );
    let err = c.convert(&record(None, Some(b"1,a,b,c"))).unwrap_err();
    assert_eq!(err.kind(), "CsvFieldCount");
    assert_eq!(
        c.convert(&record(None, Some(b"  \n"))).unwrap_err().reason,
        Reason::CsvEmpty
    );
    let err = c.convert(&record(None, None)).unwrap_err();
    assert_eq!(err.kind(), "NullInput");
    let err = c.convert(&record(None, Some(b"x1,a,b"))).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot convert the record at topic \"topic_text\" partition 0 offset 7: column `id`: \"x1\" is not a BIGINT (expected an optional sign and digits only)"
    );
}

#[test]
fn csv_user_columns_skip_metadata_and_insert_time() {
    let cols = [("insert_time", "bigint"), ("a", "string"), ("b", "bigint")];
    let c = converter(Format::Csv, Mode::Value, &cols);
    assert_eq!(
        c.convert(&record(None, Some(b"x,2"))).unwrap(),
        row(vec![Value::Int(1_689_254_000_123), s("x"), Value::Int(2)])
    );
}

// ---- FLATTEN ----

const FLAT_COLS: &[(&str, &str)] = &[("id", "bigint"), ("name", "string"), ("extendinfo", "json")];

#[test]
fn flatten_seed_example() {
    let c = converter(Format::Flatten, Mode::Value, FLAT_COLS);
    let rec = record(
        None,
        Some(br#"{"id":123,"name":"json-1","extendinfo":{"region":"beijing", "sex":"M"}}"#),
    );
    assert_eq!(
        c.convert(&rec).unwrap(),
        row(vec![
            Value::Int(123),
            s("json-1"),
            Value::Json(r#"{"region":"beijing","sex":"M"}"#.into())
        ])
    );
}

#[test]
fn flatten_key_mode_case_insensitive_missing_and_null() {
    let c = converter(Format::Flatten, Mode::Key, FLAT_COLS);
    let rec = record(Some(br#"{"ID":5,"Name":null}"#), Some(b"ignored"));
    assert_eq!(
        c.convert(&rec).unwrap(),
        row(vec![Value::Int(5), Value::Null, Value::Null])
    );
}

#[test]
fn flatten_extra_key_is_an_error_and_metadata_keys_are_ignored() {
    let c = converter(Format::Flatten, Mode::Value, FLAT_COLS);
    let err = c
        .convert(&record(
            None,
            Some(br#"{"id":101,"name":"json-4","extendinfos":"null"}"#),
        ))
        .unwrap_err();
    assert_eq!(
        err.reason,
        Reason::FlattenUnknownKey {
            key: "extendinfos".into()
        }
    );
    let rec = record(None, Some(br#"{"id":1,"offset":99,"Topic":"x"}"#));
    assert_eq!(
        c.convert(&rec).unwrap(),
        row(vec![Value::Int(1), Value::Null, Value::Null])
    );
}

#[test]
fn flatten_arrays_nested_and_non_objects() {
    let cols = [
        ("tags", "string"),
        ("nums", "array<bigint>"),
        ("m", "map<string,double>"),
        ("st", "struct<a:bigint,b:string>"),
    ];
    let c = converter(Format::Flatten, Mode::Value, &cols);
    let rec = record(
        None,
        Some(br#"{"tags":["a", "b"],"nums":[1,null,3],"m":{"x":1.5},"st":{"A":1}}"#),
    );
    assert_eq!(
        c.convert(&rec).unwrap(),
        row(vec![
            s(r#"["a","b"]"#),
            Value::Array(vec![Value::Int(1), Value::Null, Value::Int(3)]),
            Value::Map(vec![(s("x"), Value::Double(1.5))]),
            Value::Struct(vec![Value::Int(1), Value::Null]),
        ])
    );
    for (input, kind) in [
        (&b"[1,2]"[..], "FlattenNotObject"),
        (b"42", "FlattenNotObject"),
        (b"{oops", "InvalidJson"),
    ] {
        assert_eq!(
            c.convert(&record(None, Some(input))).unwrap_err().kind(),
            kind
        );
    }
    let err = c
        .convert(&record(None, Some(br#"{"nums":{"a":1}}"#)))
        .unwrap_err();
    assert_eq!(err.to_string(), "cannot convert the record at topic \"topic_text\" partition 0 offset 7: column `nums`: a JSON object does not fit array<bigint>");
}

#[test]
fn flatten_decimal_keeps_digits_and_null_message_sets_nothing() {
    let cols = [("d", "decimal(38,18)"), ("b", "bigint")];
    let c = converter(Format::Flatten, Mode::Value, &cols);
    let rec = record(
        None,
        Some(br#"{"d":12345678901234567890.123456789012345678,"b":9007199254740993}"#),
    );
    assert_eq!(
        c.convert(&rec).unwrap(),
        row(vec![
            Value::Decimal("12345678901234567890.123456789012345678".into()),
            Value::Int(9_007_199_254_740_993),
        ])
    );
    assert_eq!(
        c.convert(&record(None, None)).unwrap(),
        row(vec![Value::Null, Value::Null])
    );
}

#[test]
fn a_failed_record_leaves_nothing_in_the_next_row() {
    let c = converter(Format::Flatten, Mode::Value, FLAT_COLS);
    assert!(c
        .convert(&record(None, Some(br#"{"name":"x","id":"bad"}"#)))
        .is_err());
    assert_eq!(
        c.convert(&record(None, Some(br#"{"id":2}"#))).unwrap(),
        row(vec![Value::Int(2), Value::Null, Value::Null])
    );
}

#[test]
fn invalid_base64_is_that_records_error() {
    let c = converter(Format::Text, Mode::Value, KV_STRING);
    let mut rec = record(None, None);
    rec.value = Some("%%%".into());
    let err = c.convert(&rec).unwrap_err();
    assert_eq!(err.kind(), "InvalidBase64");
    assert!(
        err.to_string()
            .contains("offset 7: the record's value is not valid base64"),
        "{err}"
    );
}

#[test]
fn insert_time_gets_the_record_timestamp() {
    let c = converter(
        Format::Text,
        Mode::Value,
        &[("value", "string"), ("insert_time", "bigint")],
    );
    assert_eq!(
        c.convert(&record(None, Some(b"v"))).unwrap(),
        row(vec![s("v"), Value::Int(1_689_254_000_123)])
    );
    let mut rec = record(None, Some(b"v"));
    rec.timestamp = None;
    assert_eq!(c.convert(&rec).unwrap(), row(vec![s("v"), Value::Null]));
}

// ---- type table ----

fn conv(text: &str, ty: &str) -> Result<Value, types::TypeError> {
    nested::from_text(
        text,
        &TypeInfo::parse(ty).unwrap(),
        &Zone::parse("Asia/Shanghai").unwrap(),
    )
}

#[test]
fn type_table_accepts() {
    let cases: Vec<(&str, &str, Value)> = vec![
        ("abc", "string", s("abc")),
        ("", "string", s("")),
        ("héllo", "varchar(5)", s("héllo")),
        ("ab", "char(2)", s("ab")),
        ("-42", "bigint", Value::Int(-42)),
        ("+42", "bigint", Value::Int(42)),
        ("9223372036854775807", "bigint", Value::Int(i64::MAX)),
        ("2147483647", "int", Value::Int(2_147_483_647)),
        ("-32768", "smallint", Value::Int(-32768)),
        ("127", "tinyint", Value::Int(127)),
        ("3.75", "double", Value::Double(3.75)),
        (" 1e3d ", "double", Value::Double(1000.0)),
        ("inf", "double", Value::Double(f64::INFINITY)),
        ("-Infinity", "double", Value::Double(f64::NEG_INFINITY)),
        ("1.5f", "float", Value::Float(1.5)),
        ("TRUE", "boolean", Value::Boolean(true)),
        ("1", "boolean", Value::Boolean(false)),
        ("yes", "boolean", Value::Boolean(false)),
        ("12.345", "decimal(10,2)", Value::Decimal("12.35".into())),
        ("12.50", "decimal", Value::Decimal("12.5".into())),
        ("1970-01-02", "date", Value::Date(1)),
        (
            "2023-07-13 21:13:00",
            "datetime",
            Value::Datetime(1_689_253_980_000),
        ),
        (
            "2023-07-13 21:13:00.1234",
            "timestamp",
            Value::Timestamp {
                seconds: 1_689_253_980,
                nanos: 123_400_000,
            },
        ),
        (
            "2023-07-13 21:13:00.5",
            "timestamp",
            Value::Timestamp {
                seconds: 1_689_253_980,
                nanos: 500_000_000,
            },
        ),
        (
            "2023-07-13 21:13:00.123456789",
            "timestamp",
            Value::Timestamp {
                seconds: 1_689_253_980,
                nanos: 123_456_789,
            },
        ),
        (
            "1970-01-01 00:00:01.5",
            "timestamp_ntz",
            Value::Timestamp {
                seconds: 1,
                nanos: 500_000_000,
            },
        ),
        (r#"{"a":[1]}"#, "json", Value::Json(r#"{"a":[1]}"#.into())),
        ("42", "json", Value::Json("42".into())),
        ("AP8=", "binary", Value::Binary(vec![0, 0xff])),
        (
            "[1,2]",
            "array<int>",
            Value::Array(vec![Value::Int(1), Value::Int(2)]),
        ),
    ];
    for (text, ty, expected) in cases {
        assert_eq!(conv(text, ty).unwrap(), expected, "{text:?} as {ty}");
    }
    assert!(matches!(conv("nan", "double").unwrap(), Value::Double(v) if v.is_nan()));
    assert!(matches!(conv("NaN", "double").unwrap(), Value::Double(v) if v.is_nan()));
}

#[test]
fn type_table_rejects() {
    let cases = [
        (" 1", "bigint", "is not a BIGINT"),
        ("1.0", "bigint", "is not a BIGINT"),
        ("1e3", "bigint", "is not a BIGINT"),
        ("", "bigint", "is not a BIGINT"),
        (
            "-9223372036854775808",
            "bigint",
            "outside the range of BIGINT",
        ),
        (
            "99999999999999999999",
            "bigint",
            "outside the range of BIGINT",
        ),
        ("2147483648", "int", "outside the range of INT"),
        ("32768", "smallint", "outside the range of SMALLINT"),
        ("-129", "tinyint", "outside the range of TINYINT"),
        ("abc", "double", "is not a DOUBLE"),
        ("infinity", "double", "is not a DOUBLE"),
        ("0x1p3", "double", "is not a DOUBLE"),
        ("1e400", "double", "outside the range of DOUBLE"),
        ("1e39", "float", "outside the range of FLOAT"),
        (
            "abcdef",
            "varchar(5)",
            "6 characters, more than varchar(5) allows",
        ),
        ("abc", "char(2)", "3 characters"),
        ("1000", "decimal(5,2)", "more than decimal(5,2) allows"),
        ("1000", "decimal(5,2)", "has 4 integer digits"),
        ("1,5", "decimal(5,2)", "is not a decimal number"),
        ("2023-7-13", "date", "is not a DATE"),
        ("2023-02-30", "date", "is not a valid date"),
        ("2023-07-13T21:13:00", "datetime", "is not a DATETIME"),
        ("2023-07-13 21:13", "datetime", "is not a DATETIME"),
        ("2023-07-13 21:13:00", "timestamp", "is not a TIMESTAMP"),
        (
            "2023-07-13 21:13:00.1234567890",
            "timestamp",
            "is not a TIMESTAMP",
        ),
        (
            "2023-07-13 25:13:00.1",
            "timestamp",
            "is not a valid date and time",
        ),
        ("abc", "json", "is not valid JSON"),
        ("@@", "binary", "is not base64 text"),
        ("[1,\"x\"]", "array<int>", "is not a INT"),
        (
            "{\"a\":1,\"z\":2}",
            "struct<a:int>",
            "has no field named \"z\"",
        ),
    ];
    for (text, ty, needle) in cases {
        let err = conv(text, ty).unwrap_err().to_string();
        assert!(err.contains(needle), "{text:?} as {ty}: {err}");
    }
}

#[test]
fn string_over_8_mib_is_rejected() {
    let big = "x".repeat(types::MAX_FIELD_BYTES + 1);
    assert!(conv(&big, "string")
        .unwrap_err()
        .to_string()
        .contains("8 MiB"));
}

// ---- start-up schema check ----

fn mismatch(format: Format, mode: Mode, cols: &[(&str, &str)], parts: &[(&str, &str)]) -> String {
    let mut sch = schema(cols);
    sch.partition_keys = parts
        .iter()
        .map(|(n, t)| Column::new(*n, TypeInfo::parse(t).unwrap()))
        .collect();
    Converter::with("tbl", &sch, format, mode, "pt", Zone::Named(chrono_tz::UTC))
        .unwrap_err()
        .to_string()
}

#[test]
fn schema_check_messages() {
    let pt = [("pt", "string")];
    type Case<'a> = (
        Format,
        Mode,
        Vec<(&'a str, &'a str)>,
        Vec<(&'a str, &'a str)>,
        &'a str,
    );
    let cases: Vec<Case> = vec![
        (Format::Text, Mode::Value, meta(KV_STRING), vec![], "table `tbl` does not fit format=TEXT mode=VALUE: it must be partitioned by exactly one STRING column `pt`, but its partition columns are []; create it with `PARTITIONED BY (pt STRING)`, or set partition_column to its partition column"),
        (Format::Text, Mode::Value, meta(KV_STRING), vec![("pt", "bigint")], "table `tbl` does not fit format=TEXT mode=VALUE: partition column `pt` is BIGINT, not STRING; recreate the table with `PARTITIONED BY (pt STRING)`"),
        (Format::Text, Mode::Value, vec![("topic", "string"), ("offset", "bigint"), ("value", "string")], pt.to_vec(), "table `tbl` does not fit format=TEXT mode=VALUE: column `partition` is missing; add the column: `partition` BIGINT"),
        (Format::Text, Mode::Value, vec![("topic", "string"), ("partition", "int"), ("offset", "bigint"), ("value", "string")], pt.to_vec(), "table `tbl` does not fit format=TEXT mode=VALUE: column `partition` is INT, expected BIGINT; change `partition` to BIGINT"),
        (Format::Text, Mode::Value, meta(&[("value", "string"), ("insert_time", "datetime")]), pt.to_vec(), "table `tbl` does not fit format=TEXT mode=VALUE: column `insert_time` is DATETIME, expected BIGINT; change `insert_time` to BIGINT"),
        (Format::Text, Mode::Default, meta(&[("value", "string")]), pt.to_vec(), "table `tbl` does not fit format=TEXT mode=DEFAULT: column `key` is missing; add the column: key STRING"),
        (Format::Text, Mode::Value, meta(&[("value", "binary")]), pt.to_vec(), "table `tbl` does not fit format=TEXT mode=VALUE: column `value` is BINARY, expected STRING; change `value` to STRING"),
        (Format::Binary, Mode::Key, meta(KV_STRING), pt.to_vec(), "table `tbl` does not fit format=BINARY mode=KEY: column `key` is STRING, expected BINARY; change `key` to BINARY"),
        (Format::Json, Mode::Value, meta(&[("value", "bigint")]), pt.to_vec(), "table `tbl` does not fit format=JSON mode=VALUE: column `value` is BIGINT, expected JSON or STRING; change `value` to JSON"),
        (Format::Csv, Mode::Value, meta(&[]), pt.to_vec(), "table `tbl` does not fit format=CSV mode=VALUE: it has no columns besides topic, partition, offset and insert_time; add one column per CSV field or FLATTEN key"),
    ];
    for (format, mode, cols, parts, expected) in cases {
        assert_eq!(mismatch(format, mode, &cols, &parts), expected);
    }
}

#[test]
fn schema_check_rejects_not_null_columns_never_filled() {
    let mut sch = schema(&meta(&[("key", "string"), ("value", "string")]));
    sch.columns[3].nullable = false;
    let err = Converter::with(
        "tbl",
        &sch,
        Format::Text,
        Mode::Value,
        "pt",
        Zone::Named(chrono_tz::UTC),
    )
    .unwrap_err()
    .to_string();
    assert_eq!(err, "table `tbl` does not fit format=TEXT mode=VALUE: column `key` is NOT NULL but this format and mode never fill it; make `key` nullable or choose a mode that writes it");
}

#[test]
fn schema_check_accepts_custom_partition_column() {
    let mut sch = schema(&meta(KV_STRING));
    sch.partition_keys = vec![Column::new("ds", TypeInfo::String)];
    assert!(Converter::with(
        "tbl",
        &sch,
        Format::Text,
        Mode::Value,
        "DS",
        Zone::Named(chrono_tz::UTC)
    )
    .is_ok());
}
