//! pyodps 0.13.2 as the referee of the record codec: seeded random rows of every supported type
//! are encoded by us and decoded by pyodps (plain and deflate, Cython and pure-Python readers),
//! and encoded by pyodps (both writers, plain and deflate) and decoded by us.
//!
//! Needs the project's Python venv with pyodps and pandas (`scripts/setup.sh`); the interpreter is
//! `$MC_PYTHON`, else `<workspace>/.venv/bin/python`. Without it the test fails, never skips.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;

use maxcompute_tunnel::codec::{decode_stream, RecordEncoder};
use maxcompute_tunnel::{Column, Compression, TableSchema, TypeInfo, Value};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value as Json};

const ROWS: usize = 300;

/// Every type the codec supports, nested ones included.
const COLUMNS: &[(&str, &str)] = &[
    ("c_bigint", "bigint"),
    ("c_int", "int"),
    ("c_smallint", "smallint"),
    ("c_tinyint", "tinyint"),
    ("c_double", "double"),
    ("c_float", "float"),
    ("c_boolean", "boolean"),
    ("c_string", "string"),
    ("c_varchar", "varchar(12)"),
    ("c_char", "char(6)"),
    ("c_binary", "binary"),
    ("c_datetime", "datetime"),
    ("c_date", "date"),
    ("c_timestamp", "timestamp"),
    ("c_timestamp_ntz", "timestamp_ntz"),
    ("c_decimal", "decimal(18,4)"),
    ("c_decimal_wide", "decimal(38,18)"),
    ("c_json", "json"),
    ("c_array", "array<bigint>"),
    ("c_array_string", "array<string>"),
    ("c_map", "map<string,bigint>"),
    ("c_map_nested", "map<bigint,array<double>>"),
    ("c_struct", "struct<a:bigint,b:string,c:array<date>>"),
    ("c_array_struct", "array<struct<x:float,y:timestamp>>"),
    ("c_map_decimal", "map<string,decimal(10,2)>"),
];

fn python() -> PathBuf {
    let path = std::env::var_os("MC_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python")
        });
    assert!(
        path.exists(),
        "the pyodps referee needs Python at {} (set MC_PYTHON or run scripts/setup.sh to create \
         the project venv with pyodps and pandas)",
        path.display()
    );
    path
}

/// Runs the oracle script with a JSON request and returns its JSON answer.
fn oracle(args: &[&str], request: &Json) -> Json {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/pyodps/oracle.py");
    let mut child = Command::new(python())
        .arg(&script)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the pyodps oracle");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    // Keep the last request of each kind, so a failure can be replayed by hand.
    let saved = std::env::temp_dir().join(format!("codec_pyodps_{}.json", args.join("_")));
    std::fs::write(&saved, request.to_string()).unwrap();
    assert!(
        out.status.success(),
        "oracle {args:?} failed (request in {}):\n{}",
        saved.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("oracle answers JSON")
}

fn schema() -> Arc<TableSchema> {
    Arc::new(TableSchema::new(
        COLUMNS
            .iter()
            .map(|(n, t)| Column::new(*n, TypeInfo::parse(t).unwrap()))
            .collect(),
        vec![],
    ))
}

fn columns_json(schema: &TableSchema) -> Json {
    schema
        .columns
        .iter()
        .map(|c| json!([c.name, c.type_info.to_string()]))
        .collect()
}

// ---- random values ----

fn random_text(rng: &mut StdRng, max_chars: usize) -> String {
    const ALPHABET: &[char] = &[
        'a', 'b', 'Z', '0', ' ', '"', '\\', '\n', '\t', '\0', 'é', 'ß', '中', '文', '😀', '\u{7f}',
    ];
    let len = rng.random_range(0..=max_chars);
    (0..len)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())])
        .collect()
}

fn random_decimal(rng: &mut StdRng, precision: u8, scale: u8) -> String {
    let int_digits = rng.random_range(0..=usize::from(precision - scale));
    let frac_digits = rng.random_range(0..=usize::from(scale));
    let mut text = String::new();
    if rng.random_bool(0.4) {
        text.push('-');
    }
    if int_digits == 0 {
        text.push('0');
    }
    for i in 0..int_digits {
        let low = if i == 0 { 1 } else { 0 };
        text.push(char::from(b'0' + rng.random_range(low..=9u8)));
    }
    if frac_digits > 0 {
        text.push('.');
        for _ in 0..frac_digits {
            // Mostly zeros, so small numbers like 0.0000001 (which python prints as 1E-7) occur.
            let digit = if rng.random_bool(0.6) {
                0
            } else {
                rng.random_range(1..=9u8)
            };
            text.push(char::from(b'0' + digit));
        }
    }
    text
}

fn random_json(rng: &mut StdRng, depth: u32) -> Json {
    match rng.random_range(0..if depth == 0 { 5 } else { 7 }) {
        0 => Json::Null,
        1 => json!(rng.random_bool(0.5)),
        2 => json!(rng.random::<i64>()),
        // Eighths print exactly in both languages, so float text round trips exactly.
        3 => json!(f64::from(rng.random_range(-80_000..80_000)) / 8.0),
        4 => json!(random_text(rng, 8)),
        5 => Json::Array(
            (0..rng.random_range(0..4))
                .map(|_| random_json(rng, depth - 1))
                .collect(),
        ),
        _ => Json::Object(
            (0..rng.random_range(0..4))
                .map(|i| (format!("k{i}"), random_json(rng, depth - 1)))
                .collect(),
        ),
    }
}

fn random_float_bits<F>(rng: &mut StdRng, from_bits: F) -> f64
where
    F: Fn(u64) -> Option<f64>,
{
    loop {
        if let Some(v) = from_bits(rng.random()) {
            return v;
        }
    }
}

fn random_value(rng: &mut StdRng, ty: &TypeInfo, writer: Writer) -> Value {
    match ty {
        TypeInfo::Bigint => Value::Int(match rng.random_range(0..4) {
            0 => i64::MIN,
            1 => i64::MAX,
            _ => rng.random(),
        }),
        TypeInfo::Int => Value::Int(rng.random::<i32>().into()),
        TypeInfo::Smallint => Value::Int(rng.random::<i16>().into()),
        TypeInfo::Tinyint => Value::Int(rng.random::<i8>().into()),
        TypeInfo::Double => Value::Double(random_float_bits(rng, |b| {
            let v = f64::from_bits(b);
            (!v.is_nan()).then_some(v)
        })),
        // NaN payloads may not survive a trip through Python floats, so no NaN.
        TypeInfo::Float => {
            let v = random_float_bits(rng, |b| {
                let v = f32::from_bits(b as u32);
                (!v.is_nan()).then_some(f64::from(v))
            });
            Value::Float(v as f32)
        }
        TypeInfo::Boolean => Value::Boolean(rng.random()),
        TypeInfo::String => Value::String(random_text(rng, 40)),
        TypeInfo::Varchar(n) | TypeInfo::Char(n) => Value::String(random_text(rng, *n as usize)),
        TypeInfo::Binary => {
            Value::Binary((0..rng.random_range(0..24)).map(|_| rng.random()).collect())
        }
        // 0001-01-01 ..= 9999-12-31, the DATETIME range.
        TypeInfo::Datetime => {
            let ms = rng.random_range(-62_135_596_800_000..=253_402_300_799_999);
            Value::Datetime(match writer {
                Writer::Any => ms,
                // That writer computes `int((seconds + micros / 1e6) * 1000)` in floating point
                // and so loses a millisecond now and then; eighths of a second are exact.
                Writer::PurePython => ms - ms.rem_euclid(125),
            })
        }
        TypeInfo::Date => Value::Date(rng.random_range(-719_162..=2_932_896)),
        // pandas holds 1677..2262. Non-negative seconds only: pyodps's pure-Python writer
        // truncates toward zero and so shifts sub-second timestamps before 1970 by a second.
        TypeInfo::Timestamp | TypeInfo::TimestampNtz => Value::Timestamp {
            seconds: rng.random_range(0..=9_200_000_000),
            nanos: rng.random_range(0..=999_999_999),
        },
        TypeInfo::Decimal { precision, scale } => {
            Value::Decimal(random_decimal(rng, *precision, *scale))
        }
        // An object or array: pyodps's pure-Python record takes len() of a JSON value, which
        // fails for numbers and booleans.
        TypeInfo::Json => Value::Json(loop {
            let doc = random_json(rng, 3);
            if doc.is_object() || doc.is_array() {
                break doc.to_string();
            }
        }),
        TypeInfo::Array(element) => Value::Array(
            (0..rng.random_range(0..5))
                .map(|_| random_element(rng, element, writer))
                .collect(),
        ),
        TypeInfo::Map(key, value) => {
            // Keys are distinct and not null: pyodps passes maps as Python dicts.
            let mut keys = Vec::new();
            for _ in 0..rng.random_range(0..5) {
                let k = random_value(rng, key, writer);
                if !keys.contains(&k) {
                    keys.push(k);
                }
            }
            Value::Map(
                keys.into_iter()
                    .map(|k| (k, random_element(rng, value, writer)))
                    .collect(),
            )
        }
        TypeInfo::Struct(fields) => Value::Struct(
            fields
                .iter()
                .map(|(_, t)| random_element(rng, t, writer))
                .collect(),
        ),
    }
}

/// Which pyodps writer will encode the rows, for its quirks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Writer {
    /// Ours or pyodps's Cython writer: any value.
    Any,
    /// pyodps's pure-Python writer.
    PurePython,
}

fn random_element(rng: &mut StdRng, ty: &TypeInfo, writer: Writer) -> Value {
    if rng.random_bool(0.2) {
        Value::Null
    } else {
        random_value(rng, ty, writer)
    }
}

fn random_rows(schema: &TableSchema, seed: u64, writer: Writer) -> Vec<Vec<Value>> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..ROWS)
        .map(|_| {
            schema
                .columns
                .iter()
                .map(|c| {
                    if rng.random_bool(0.1) {
                        Value::Null
                    } else {
                        random_value(&mut rng, &c.type_info, writer)
                    }
                })
                .collect()
        })
        .collect()
}

// ---- the oracle's typed JSON (see oracle.py) ----

fn typed(value: &Value, ty: &TypeInfo) -> Json {
    match (ty, value) {
        (_, Value::Null) => Json::Null,
        (_, Value::Int(v) | Value::Datetime(v) | Value::Date(v)) => json!(v),
        (_, Value::Boolean(b)) => json!(b),
        (_, Value::Double(d)) => json!(hex::encode(d.to_le_bytes())),
        (_, Value::Float(f)) => json!(hex::encode(f.to_le_bytes())),
        (_, Value::String(s)) => json!(s),
        (_, Value::Binary(b)) => json!(hex::encode(b)),
        (_, Value::Timestamp { seconds, nanos }) => json!([seconds, nanos]),
        (_, Value::Decimal(text)) => json!(text),
        (_, Value::Json(text)) => json!(text),
        (TypeInfo::Array(t), Value::Array(items)) => items.iter().map(|v| typed(v, t)).collect(),
        (TypeInfo::Map(k, v), Value::Map(entries)) => entries
            .iter()
            .map(|(key, val)| json!([typed(key, k), typed(val, v)]))
            .collect(),
        (TypeInfo::Struct(fields), Value::Struct(values)) => fields
            .iter()
            .zip(values)
            .map(|((_, t), v)| typed(v, t))
            .collect(),
        (ty, v) => panic!("{v:?} does not belong in a {ty} column"),
    }
}

fn typed_rows(schema: &TableSchema, rows: &[Vec<Value>]) -> Json {
    rows.iter()
        .map(|row| {
            schema
                .columns
                .iter()
                .zip(row)
                .map(|(c, v)| typed(v, &c.type_info))
                .collect::<Json>()
        })
        .collect()
}

/// Puts values that have several spellings into one: JSON text becomes the parsed document
/// (pyodps re-serialises it with other spacing), decimals become `[negative, digits, exponent]`
/// (python may print `1E-7` for `0.0000001`).
fn normalize(value: &Json, ty: &TypeInfo) -> Json {
    match (ty, value) {
        (_, Json::Null) => Json::Null,
        (TypeInfo::Json, Json::String(text)) => serde_json::from_str(text).unwrap(),
        (TypeInfo::Decimal { .. }, Json::String(text)) => canonical_decimal(text),
        (TypeInfo::Array(t), Json::Array(items)) => items.iter().map(|v| normalize(v, t)).collect(),
        (TypeInfo::Map(k, v), Json::Array(entries)) => entries
            .iter()
            .map(|e| json!([normalize(&e[0], k), normalize(&e[1], v)]))
            .collect(),
        (TypeInfo::Struct(fields), Json::Array(values)) => fields
            .iter()
            .zip(values)
            .map(|((_, t), v)| normalize(v, t))
            .collect(),
        (_, other) => other.clone(),
    }
}

fn canonical_decimal(text: &str) -> Json {
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (mantissa, mut exponent) = match unsigned.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.parse::<i64>().unwrap()),
        None => (unsigned, 0),
    };
    let (integer, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    exponent -= fraction.len() as i64;
    let digits = format!("{integer}{fraction}");
    let digits = digits.trim_start_matches('0');
    let trimmed = digits.trim_end_matches('0');
    exponent += (digits.len() - trimmed.len()) as i64;
    if trimmed.is_empty() {
        return json!([false, "0", 0]);
    }
    json!([negative, trimmed, exponent])
}

fn normalized_rows(schema: &TableSchema, rows: &Json) -> Vec<Vec<Json>> {
    rows.as_array()
        .unwrap()
        .iter()
        .map(|row| {
            schema
                .columns
                .iter()
                .zip(row.as_array().unwrap())
                .map(|(c, v)| normalize(v, &c.type_info))
                .collect()
        })
        .collect()
}

fn assert_same_rows(schema: &TableSchema, expected: &Json, actual: &Json, what: &str) {
    let expected = normalized_rows(schema, expected);
    let actual = normalized_rows(schema, actual);
    assert_eq!(expected.len(), actual.len(), "{what}: row count");
    for (i, (e, a)) in expected.iter().zip(&actual).enumerate() {
        for (c, (ev, av)) in schema.columns.iter().zip(e.iter().zip(a)) {
            assert_eq!(ev, av, "{what}: row {i}, column {}", c.name);
        }
    }
}

fn encode(schema: &Arc<TableSchema>, rows: &[Vec<Value>]) -> Vec<u8> {
    let mut encoder = RecordEncoder::new(schema.clone());
    for row in rows {
        encoder.append(row).unwrap();
    }
    encoder.finish()
}

fn implementation_module(answer: &Json, key: &str, imp: &str) {
    let module = answer[key].as_str().unwrap();
    assert_eq!(
        module.ends_with("_c"),
        imp == "cython",
        "asked for the {imp} {key}, pyodps used {module}"
    );
}

#[test]
fn pyodps_reads_what_we_write() {
    let schema = schema();
    let rows = random_rows(&schema, 0x5eed_0001, Writer::Any);
    let stream = encode(&schema, &rows);
    let expected = typed_rows(&schema, &rows);
    for compression in [Compression::None, Compression::Deflate] {
        let body = compression.compress(&stream);
        for imp in ["cython", "python"] {
            let mut args = vec!["decode", "--impl", imp];
            if compression == Compression::Deflate {
                args.push("--deflate");
            }
            let answer = oracle(
                &args,
                &json!({"columns": columns_json(&schema), "hex": hex::encode(&body)}),
            );
            implementation_module(&answer, "reader", imp);
            assert_same_rows(&schema, &expected, &answer["rows"], &format!("{args:?}"));
        }
    }
}

#[test]
fn we_read_what_pyodps_writes() {
    let schema = schema();
    for compression in [Compression::None, Compression::Deflate] {
        for imp in ["cython", "python"] {
            let writer = if imp == "python" {
                Writer::PurePython
            } else {
                Writer::Any
            };
            let rows = random_rows(&schema, 0x5eed_0002, writer);
            let expected = typed_rows(&schema, &rows);
            let request = json!({"columns": columns_json(&schema), "rows": expected});
            let mut args = vec!["encode", "--impl", imp];
            if compression == Compression::Deflate {
                args.push("--deflate");
            }
            let answer = oracle(&args, &request);
            implementation_module(&answer, "writer", imp);
            let body = hex::decode(answer["hex"].as_str().unwrap()).unwrap();
            let stream = compression.decompress(&body, 64 << 20).unwrap();
            let decoded = decode_stream(&schema, &stream)
                .unwrap_or_else(|e| panic!("{args:?}: our decoder refused pyodps's stream: {e}"));
            let what = format!("{args:?}");
            assert_same_rows(&schema, &expected, &typed_rows(&schema, &decoded), &what);
        }
    }
}

/// Where pyodps has no choice of spelling (no JSON, no decimals), its pure-Python writer and our
/// encoder agree byte for byte, which pins down the canonical form beyond the spec's vectors.
#[test]
fn pure_python_writer_bytes_equal_ours() {
    let full = schema();
    let schema = Arc::new(TableSchema::new(
        full.columns
            .iter()
            .filter(|c| !format!("{}", c.type_info).contains("json"))
            .filter(|c| !format!("{}", c.type_info).contains("decimal"))
            .cloned()
            .collect(),
        vec![],
    ));
    let rows = random_rows(&schema, 0x5eed_0003, Writer::PurePython);
    let answer = oracle(
        &["encode", "--impl", "python"],
        &json!({"columns": columns_json(&schema), "rows": typed_rows(&schema, &rows)}),
    );
    let theirs = hex::decode(answer["hex"].as_str().unwrap()).unwrap();
    let ours = encode(&schema, &rows);
    if let Some(at) = theirs.iter().zip(&ours).position(|(a, b)| a != b) {
        let show = |b: &[u8]| hex::encode(&b[at.saturating_sub(16)..(at + 16).min(b.len())]);
        panic!(
            "first difference at byte {at}: pyodps ..{}.., ours ..{}..",
            show(&theirs),
            show(&ours)
        );
    }
    assert_eq!(theirs.len(), ours.len());
}
