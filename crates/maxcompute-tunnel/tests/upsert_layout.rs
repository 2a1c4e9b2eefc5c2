//! The upsert record layout against pyodps 0.13.2's PUT body for one UPSERT record
//! `("orders", 0, 1, "hello")` of a table `topic string, partition bigint, offset bigint,
//! payload string` partitioned by `ds`.
//!
//! pyodps's Cython writer wrote that body with its two checksums (the record CRC and the
//! block's CRC of CRCs, both at least 2^31) as sign-extended 10-byte varints. Java, Go,
//! pyodps's pure-Python writer and our encoder write the same numbers as 5-byte unsigned
//! varints, and every reader keeps the low 32 bits. So our body must equal pyodps's with those
//! two varints in the 5-byte form, byte for byte, and must decode to the same record as
//! pyodps's body does.

use maxcompute_tunnel::codec::decode_stream;
use maxcompute_tunnel::codec::{EncodeError, RecordEncoder};
use maxcompute_tunnel::upsert::{KeyHasher, LayoutError, Operation, UpsertLayout, HIDDEN_COLUMNS};
use maxcompute_tunnel::{Column, TableSchema, TypeInfo, Value};

/// The record's fields: topic, partition 0, offset 1, payload, `__operation` = 85 and an empty
/// `__value_cols`; `__version`, `__app_version` and `__key_cols` are NULL, so absent.
const FIELDS: &str = "0a066f7264657273 1000 1802 220568656c6c6f 38aa01 4a00";
const END_RECORD_TAG: &str = "80c0ff7f";
const COUNT_1: &str = "f0ffff7f 02";
const CHECKSUM_TAG: &str = "f8ffff7f";
const RECORD_CRC: u32 = 0xfb5d_d0b5;
const BLOCK_CRC: u32 = 0xd408_ffcd;

/// pyodps's body, verbatim.
const PYODPS_BODY: &str = "0a066f7264657273 1000 1802 220568656c6c6f 38aa01 4a00 80c0ff7f \
                           b5a1f7daffffffffff01 f0ffff7f 02 f8ffff7f cdffa3a0fdffffffff01";

fn bytes(hex_text: &str) -> Vec<u8> {
    hex::decode(hex_text.replace(' ', "")).unwrap()
}

fn varint(mut v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
    out
}

/// The body with the two checksums as unsigned 5-byte varints, or sign-extended from 32 bits
/// to 10-byte varints as pyodps's Cython writer writes them.
fn body(sign_extended: bool) -> Vec<u8> {
    let checksum = |crc: u32| {
        if sign_extended {
            varint(crc as i32 as i64 as u64)
        } else {
            varint(u64::from(crc))
        }
    };
    [
        bytes(FIELDS),
        bytes(END_RECORD_TAG),
        checksum(RECORD_CRC),
        bytes(COUNT_1),
        bytes(CHECKSUM_TAG),
        checksum(BLOCK_CRC),
    ]
    .concat()
}

fn data_schema() -> TableSchema {
    TableSchema::new(
        vec![
            Column::new("topic", TypeInfo::String),
            Column::new("partition", TypeInfo::Bigint),
            Column::new("offset", TypeInfo::Bigint),
            Column::new("payload", TypeInfo::String),
        ],
        vec![Column::new("ds", TypeInfo::String)],
    )
}

fn golden_row() -> Vec<Value> {
    vec![
        "orders".into(),
        Value::Int(0),
        Value::Int(1),
        "hello".into(),
    ]
}

#[test]
fn our_body_is_pyodps_golden_body_in_canonical_form() {
    // The pieces reassemble pyodps's body exactly, so the canonical form differs from it only
    // in the two checksum varints.
    assert_eq!(body(true), bytes(PYODPS_BODY));

    let layout = UpsertLayout::new(&data_schema()).unwrap();
    let mut encoder = layout.encoder();
    layout.append_upsert(&mut encoder, golden_row()).unwrap();
    let ours = encoder.finish();
    assert_eq!(hex::encode(&ours), hex::encode(body(false)));
}

#[test]
fn pyodps_golden_body_decodes_to_the_upsert_record() {
    let layout = UpsertLayout::new(&data_schema()).unwrap();
    let rows = decode_stream(layout.write_schema(), &bytes(PYODPS_BODY)).unwrap();
    let mut expected = golden_row();
    expected.extend([
        Value::Null,
        Value::Null,
        Value::Int(85),
        Value::Null,
        Value::Array(vec![]),
    ]);
    assert_eq!(rows, vec![expected]);
    assert_eq!(
        Operation::from_code(85),
        Some(Operation::Upsert),
        "__operation of the golden record"
    );
}

#[test]
fn write_schema_is_data_columns_then_the_hidden_columns() {
    let data = data_schema();
    let layout = UpsertLayout::new(&data).unwrap();
    let schema = layout.write_schema();
    assert_eq!(layout.data_columns(), 4);
    assert_eq!(schema.columns[..4], data.columns[..]);
    let hidden: Vec<(&str, String)> = schema.columns[4..]
        .iter()
        .map(|c| (c.name.as_str(), c.type_info.to_string()))
        .collect();
    assert_eq!(
        hidden,
        [
            ("__version", "bigint".to_string()),
            ("__app_version", "bigint".to_string()),
            ("__operation", "tinyint".to_string()),
            ("__key_cols", "array<bigint>".to_string()),
            ("__value_cols", "array<bigint>".to_string()),
        ]
    );
    assert!(schema.columns[4..].iter().all(|c| c.nullable));
    let names: Vec<&str> = hidden.iter().map(|(name, _)| *name).collect();
    assert_eq!(names, HIDDEN_COLUMNS);
    // Partition values are never written; the partition keys stay for reference.
    assert_eq!(schema.partition_keys, data.partition_keys);
}

#[test]
fn short_rows_are_padded_with_nulls_and_long_rows_refused() {
    let layout = UpsertLayout::new(&data_schema()).unwrap();
    let mut encoder = layout.encoder();
    layout
        .append_upsert(&mut encoder, vec!["orders".into(), Value::Int(3)])
        .unwrap();
    let too_long = vec![Value::Null; 5];
    assert_eq!(
        layout.append_upsert(&mut encoder, too_long),
        Err(LayoutError::TooManyValues { got: 5, columns: 4 })
    );
    assert_eq!(encoder.record_count(), 1);
    let rows = decode_stream(layout.write_schema(), &encoder.finish()).unwrap();
    assert_eq!(
        rows[0][..4],
        ["orders".into(), Value::Int(3), Value::Null, Value::Null]
    );
    assert_eq!(
        rows[0][4..],
        [
            Value::Null,
            Value::Null,
            Value::Int(85),
            Value::Null,
            Value::Array(vec![])
        ]
    );
}

#[test]
fn a_refused_row_leaves_the_block_as_it_was() {
    let mut data = data_schema();
    data.columns[1].nullable = false;
    let layout = UpsertLayout::new(&data).unwrap();
    let mut encoder = layout.encoder();
    layout.append_upsert(&mut encoder, golden_row()).unwrap();
    let before = encoder.encoded_len();
    let err = layout
        .append_upsert(&mut encoder, vec!["orders".into(), Value::Null])
        .unwrap_err();
    assert!(
        matches!(err, LayoutError::Encode(EncodeError::NonNullable { .. })),
        "{err}"
    );
    assert_eq!(encoder.encoded_len(), before);
    assert_eq!(encoder.record_count(), 1);
}

#[test]
fn an_encoder_of_another_schema_is_refused() {
    let layout = UpsertLayout::new(&data_schema()).unwrap();
    let mut plain = RecordEncoder::new(std::sync::Arc::new(data_schema()));
    assert_eq!(
        layout.append_upsert(&mut plain, golden_row()),
        Err(LayoutError::ForeignEncoder)
    );
    assert!(plain.is_empty());
    // An encoder of an equal write schema built elsewhere is fine.
    let twin = UpsertLayout::new(&data_schema()).unwrap();
    let mut encoder = twin.encoder();
    layout.append_upsert(&mut encoder, golden_row()).unwrap();
    assert_eq!(encoder.finish(), body(false));
}

#[test]
fn a_data_column_may_not_take_a_hidden_name() {
    for name in HIDDEN_COLUMNS.into_iter().chain(["__OPERATION"]) {
        let data = TableSchema::new(vec![Column::new(name, TypeInfo::Bigint)], vec![]);
        assert_eq!(
            UpsertLayout::new(&data),
            Err(LayoutError::ReservedColumn {
                column: name.to_string()
            })
        );
    }
}

#[test]
fn write_rows_hash_like_their_data_columns() {
    let layout = UpsertLayout::new(&data_schema()).unwrap();
    let hasher = KeyHasher::new(
        layout.write_schema(),
        "default",
        &["topic", "partition", "offset"],
    )
    .unwrap();
    let mut encoder = layout.encoder();
    layout.append_upsert(&mut encoder, golden_row()).unwrap();
    let written = decode_stream(layout.write_schema(), &encoder.finish()).unwrap();
    assert_eq!(hasher.hash_row(&written[0]), hasher.hash_row(&golden_row()));
    assert_eq!(hasher.bucket(&golden_row(), 16), Ok(10));
}
