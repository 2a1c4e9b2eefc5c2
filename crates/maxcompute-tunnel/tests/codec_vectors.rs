//! Known-answer tests: record streams pyodps 0.13.2 writes for the schemas below, encoded
//! (canonical form, as its pure-Python writer emits them) and decoded (canonical and Cython
//! forms).

use std::sync::Arc;

use maxcompute_tunnel::codec::{decode_stream, RecordEncoder};
use maxcompute_tunnel::{Column, Compression, TableSchema, TypeInfo, Value};

fn schema(columns: &[(&str, &str)], partitions: &[(&str, &str)]) -> Arc<TableSchema> {
    let cols = |list: &[(&str, &str)]| {
        list.iter()
            .map(|(n, t)| Column::new(*n, TypeInfo::parse(t).unwrap()))
            .collect()
    };
    Arc::new(TableSchema::new(cols(columns), cols(partitions)))
}

fn schema_a() -> Arc<TableSchema> {
    schema(
        &[
            ("topic", "string"),
            ("partition", "bigint"),
            ("offset", "bigint"),
            ("key", "string"),
            ("value", "string"),
            ("payload", "json"),
        ],
        &[],
    )
}

fn schema_b_columns() -> [(&'static str, &'static str); 5] {
    [
        ("topic", "string"),
        ("partition", "bigint"),
        ("offset", "bigint"),
        ("key", "string"),
        ("value", "string"),
    ]
}

fn schema_b() -> Arc<TableSchema> {
    schema(&schema_b_columns(), &[])
}

fn rows_a() -> Vec<Vec<Value>> {
    vec![
        vec![
            "orders".into(),
            Value::Int(0),
            Value::Int(42),
            "k1".into(),
            "hello".into(),
            Value::Json(r#"{"a": 1}"#.into()),
        ],
        vec![
            "orders".into(),
            Value::Int(3),
            Value::Int(1_234_567_890_123),
            Value::Null,
            "vé".into(),
            Value::Null,
        ],
    ]
}

fn rows_b() -> Vec<Vec<Value>> {
    vec![
        vec![
            "t".into(),
            Value::Int(0),
            Value::Int(0),
            "k".into(),
            "v".into(),
        ],
        vec![
            "t".into(),
            Value::Int(1),
            Value::Int(-1),
            Value::Null,
            "".into(),
        ],
    ]
}

fn encode(schema: &Arc<TableSchema>, rows: &[Vec<Value>]) -> Vec<u8> {
    let mut encoder = RecordEncoder::new(schema.clone());
    for row in rows {
        encoder.append(row).unwrap();
    }
    assert_eq!(encoder.record_count(), rows.len() as u64);
    encoder.finish()
}

fn hex(text: &str) -> Vec<u8> {
    hex::decode(text).unwrap()
}

/// Encodes `rows` to exactly `canonical` and decodes every given form back to `rows`.
fn check(schema: &Arc<TableSchema>, rows: &[Vec<Value>], canonical: &str, other_forms: &[&str]) {
    assert_eq!(hex::encode(encode(schema, rows)), canonical);
    for form in std::iter::once(&canonical).chain(other_forms) {
        assert_eq!(
            decode_stream(schema, &hex(form)).unwrap(),
            rows,
            "decoding {form}"
        );
    }
}

const A_CANONICAL: &str = "0a066f72646572731000185422026b312a0568656c6c6f32087b2261223a20317d80c0ff7fe5b9d489080a066f72646572731006189693d89fee472a0376c3a980c0ff7f948fdb3bf0ffff7f04f8ffff7fda98e120";
const A_CYTHON: &str = "0a066f72646572731000185422026b312a0568656c6c6f32087b2261223a20317d80c0ff7fe5b9d489f8ffffffff010a066f72646572731006189693d89fee472a0376c3a980c0ff7f948fdb3bf0ffff7f04f8ffff7fda98e120";
const B_CANONICAL: &str = "0a01741000180022016b2a017680c0ff7ff4f7fbc60a0a0174100218012a0080c0ff7ff5e1a060f0ffff7f04f8ffff7fe3c7c3c909";
const B_CYTHON: &str = "0a01741000180022016b2a017680c0ff7ff4f7fbc6faffffffff010a0174100218012a0080c0ff7ff5e1a060f0ffff7f04f8ffff7fe3c7c3c9f9ffffffff01";
const B_DEFLATE: &str = "7801e3622c116090605062ccd6622c6b38f0bffecbf7dfc7b8b880a24c128c5a0c2091af0f17247cf8ffbf9ee50790787cfcf0494e000e4718d8";

#[test]
fn schema_a_both_forms() {
    let schema = schema_a();
    check(&schema, &rows_a(), A_CANONICAL, &[A_CYTHON]);
    assert_eq!(hex(A_CANONICAL).len(), 85);
    assert_eq!(hex(A_CYTHON).len(), 90);
}

#[test]
fn schema_b_both_forms_and_deflate() {
    let schema = schema_b();
    check(&schema, &rows_b(), B_CANONICAL, &[B_CYTHON]);
    assert_eq!(hex(B_CANONICAL).len(), 53);
    assert_eq!(hex(B_CYTHON).len(), 63);

    let inflated = Compression::Deflate
        .decompress(&hex(B_DEFLATE), 1 << 20)
        .unwrap();
    assert_eq!(decode_stream(&schema, &inflated).unwrap(), rows_b());
    let ours = Compression::Deflate.compress(&encode(&schema, &rows_b()));
    let back = Compression::Deflate.decompress(&ours, 1 << 20).unwrap();
    assert_eq!(decode_stream(&schema, &back).unwrap(), rows_b());
}

#[test]
fn zero_records() {
    check(&schema_b(), &[], "f0ffff7f00f8ffff7f00", &[]);
}

#[test]
fn one_all_null_record() {
    let nulls = vec![vec![Value::Null; 5]];
    check(
        &schema_b(),
        &nulls,
        "80c0ff7f00f0ffff7f02f8ffff7fc7979dc304",
        &[],
    );
    // An empty row means the same: missing trailing values are NULL.
    assert_eq!(
        hex::encode(encode(&schema_b(), &[vec![]])),
        "80c0ff7f00f0ffff7f02f8ffff7fc7979dc304"
    );
}

#[test]
fn partition_keys_are_not_written() {
    let schema = schema(&schema_b_columns(), &[("pt", "string")]);
    let row = vec![
        "t".into(),
        Value::Int(0),
        Value::Int(0),
        "k".into(),
        "v".into(),
    ];
    check(
        &schema,
        &[row],
        "0a01741000180022016b2a017680c0ff7ff4f7fbc60af0ffff7f02f8ffff7ff7e885e401",
        &["0a01741000180022016b2a017680c0ff7ff4f7fbc6faffffffff01f0ffff7f02f8ffff7ff7e885e401"],
    );
}

#[test]
fn schema_e_every_primitive_and_nested() {
    let schema = schema(
        &[
            ("c1", "tinyint"),
            ("c2", "smallint"),
            ("c3", "int"),
            ("c4", "float"),
            ("c5", "double"),
            ("c6", "boolean"),
            ("c7", "date"),
            ("c8", "datetime"),
            ("c9", "decimal(10,2)"),
            ("c10", "varchar(10)"),
            ("c11", "binary"),
            ("c12", "array<bigint>"),
            ("c13", "map<string,bigint>"),
            ("c14", "struct<a:bigint,b:string>"),
        ],
        &[],
    );
    // 2024-01-02 is day 19724; 2024-01-02T03:04:05Z is 1704164645 s.
    let row = vec![
        Value::Int(1),
        Value::Int(-2),
        Value::Int(300),
        Value::Float(1.5),
        Value::Double(2.25),
        Value::Boolean(true),
        Value::Date(19_724),
        Value::Datetime(1_704_164_645_000),
        Value::Decimal("12.34".into()),
        "abc".into(),
        Value::Binary(vec![0, 1]),
        Value::Array(vec![Value::Int(1), Value::Null, Value::Int(3)]),
        Value::Map(vec![("x".into(), Value::Int(1))]),
        Value::Struct(vec![Value::Int(7), Value::Null]),
    ];
    check(
        &schema,
        &[row],
        "0802100318d804250000c03f29000000000000024030013898b4024090e2868299634a0531322e333452036162635a020001620300020100066a0100017801000272000e0180c0ff7fb9d4a8c107f0ffff7f02f8ffff7fe5d89aae0f",
        &[],
    );
}

#[test]
fn encoder_is_reusable_across_blocks() {
    let schema = schema_b();
    let mut encoder = RecordEncoder::new(schema.clone());
    for row in rows_b() {
        encoder.append(&row).unwrap();
    }
    assert_eq!(hex::encode(encoder.finish()), B_CANONICAL);
    assert_eq!(encoder.record_count(), 0);
    assert_eq!(encoder.encoded_len(), 0);
    for row in rows_b() {
        encoder.append(&row).unwrap();
    }
    assert_eq!(hex::encode(encoder.finish()), B_CANONICAL);
    assert_eq!(hex::encode(encoder.finish()), "f0ffff7f00f8ffff7f00");
}
