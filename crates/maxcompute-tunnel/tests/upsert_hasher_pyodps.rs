//! pyodps 0.13.2 as the referee of the upsert bucket hasher: seeded random values of every key
//! type, and random rows of three key sets, hashed by us and by both of pyodps's hashers (the
//! pure-Python `odps.tunnel.hasher` and the Cython `odps.tunnel.hasher_c`), with both hash
//! families, through `tests/pyodps/hasher_oracle.py` under TZ=UTC.
//!
//! Where pyodps departs from the Java SDK, which this crate follows (see the `upsert` module's
//! documentation), the expected pyodps answer is our hash of what pyodps actually hashes, so
//! each departure is pinned down rather than skipped:
//!
//! * DECIMAL(p,0): pyodps hashes with scale 18 instead of 0;
//! * TIMESTAMP before 1970 with at least a millisecond of fraction: pyodps truncates the
//!   seconds toward zero instead of flooring them;
//! * the Cython hasher overflows on DECIMAL values whose scaled integer does not fit 64 bits
//!   (precision > 18, or the scale-18 reading of a DECIMAL(p,0));
//! * TIMESTAMP_NTZ: neither pyodps hasher supports it.
//!
//! INTERVAL_DAY_TIME is compared for non-negative intervals only: for negative ones pyodps
//! (pandas' normalized components) and Java (`IntervalDayTime` keeps the sign on the
//! nanoseconds) hash different pairs, and this crate's column types have no interval type.
//!
//! Needs the project's Python venv with pyodps and pandas (`scripts/setup.sh`); the interpreter is
//! `$MC_PYTHON`, else `<workspace>/.venv/bin/python`. Without it the test fails, never skips.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use maxcompute_tunnel::upsert::{combine, HashFamily, KeyHasher};
use maxcompute_tunnel::{Column, TableSchema, TypeInfo, Value};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value as Json};

const VALUES_PER_TYPE: usize = 400;
const ROWS_PER_TABLE: usize = 1000;
const KAFKA_ROWS: usize = 2000;

/// Every key type pyodps can hash, as pyodps spells it. DECIMAL covers 64- and 128-bit
/// decimals, the legacy bare `decimal` (54,18) whose values exceed 128 bits, and scale 0.
const KEY_TYPES: &[&str] = &[
    "tinyint",
    "smallint",
    "int",
    "bigint",
    "float",
    "double",
    "boolean",
    "string",
    "varchar(20)",
    "char(10)",
    "binary",
    "date",
    "datetime",
    "timestamp",
    "decimal(1,1)",
    "decimal(4,2)",
    "decimal(10,2)",
    "decimal(18,6)",
    "decimal(1,0)",
    "decimal(18,0)",
    "decimal(19,4)",
    "decimal(38,18)",
    "decimal(38,38)",
    "decimal(38,0)",
    "decimal",
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

/// Runs the hasher oracle with a JSON request and returns its JSON answer.
fn oracle(request: &Json) -> Json {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/pyodps/hasher_oracle.py");
    let mut child = Command::new(python())
        .arg(&script)
        .env("TZ", "UTC")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the pyodps hasher oracle");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    // Keep the last request, so a failure can be replayed by hand.
    let saved = std::env::temp_dir().join(format!(
        "upsert_hasher_pyodps_{}.json",
        request["hasher"].as_str().unwrap()
    ));
    std::fs::write(&saved, request.to_string()).unwrap();
    assert!(
        out.status.success(),
        "hasher oracle failed (request in {}):\n{}",
        saved.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the oracle answers JSON")
}

// ---- random values ----

/// A key type: a column type, or INTERVAL_DAY_TIME, which [`TypeInfo`] does not name.
#[derive(Debug, Clone, PartialEq)]
enum KeyType {
    Column(TypeInfo),
    IntervalDayTime,
}

/// A random key value, and the typed JSON the oracle reads (see `hasher_oracle.py`).
#[derive(Debug, Clone)]
struct Sample {
    value: Value,
    typed: Json,
}

fn random_text(rng: &mut StdRng, max_chars: usize) -> String {
    const ALPHABET: &[char] = &[
        'a', 'b', 'Z', '0', '9', ' ', '=', '|', '"', '\\', '\n', '\0', 'é', 'ß', '中', '日', '志',
        '😀', '\u{7f}', '\u{80}',
    ];
    let len = rng.random_range(0..=max_chars);
    (0..len)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())])
        .collect()
}

fn random_bits<T>(
    rng: &mut StdRng,
    from_bits: impl Fn(u64) -> T,
    is_nan: impl Fn(&T) -> bool,
) -> T {
    loop {
        let v = from_bits(rng.random());
        if !is_nan(&v) {
            return v;
        }
    }
}

/// Decimal text for `decimal(p,s)`: mostly values that fit the column, in several spellings;
/// some with more fraction digits than the scale, which the SDKs round half away from zero.
/// Values that need rounding keep a non-zero integer digit, so python's `str(Decimal)` does not
/// switch to exponent notation, where pyodps reads the wrong rounding digit.
fn random_decimal(rng: &mut StdRng, precision: u8, scale: u8) -> String {
    let integer_room = usize::from(precision - scale);
    let rounding = integer_room > 0 && rng.random_bool(0.2);
    let int_digits = if rounding {
        rng.random_range(1..=integer_room)
    } else {
        rng.random_range(0..=integer_room)
    };
    let frac_digits = if rounding {
        rng.random_range(usize::from(scale) + 1..=usize::from(scale) + 4)
    } else {
        rng.random_range(0..=usize::from(scale))
    };
    let mut text = String::new();
    match rng.random_range(0..10) {
        0..=3 => text.push('-'),
        4 => text.push('+'),
        _ => {}
    }
    if rng.random_bool(0.1) {
        text.push_str("00");
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
            let digit = if rng.random_bool(0.3) {
                0
            } else {
                rng.random_range(1..=9u8)
            };
            text.push(char::from(b'0' + digit));
        }
    }
    // pyodps's records refuse a negative zero in a DECIMAL(1,1) column, and its Cython hasher
    // builds a record; -0 is 0, whose hash the known-answer tests cover.
    if text.bytes().all(|b| matches!(b, b'-' | b'+' | b'0' | b'.')) {
        text.retain(|c| c != '-');
    }
    text
}

fn random_sample(rng: &mut StdRng, ty: &KeyType) -> Sample {
    let ty = match ty {
        KeyType::IntervalDayTime => {
            let (seconds, nanos) = (
                rng.random_range(0..=99_999i64),
                rng.random_range(0..=999_999_999i32),
            );
            return Sample {
                // Carried as a timestamp pair; the test hashes it with the interval rule.
                value: Value::Timestamp { seconds, nanos },
                typed: json!([seconds, nanos]),
            };
        }
        KeyType::Column(ty) => ty,
    };
    let int = |rng: &mut StdRng, min: i64, max: i64| -> i64 {
        match rng.random_range(0..8) {
            0 => min,
            1 => max,
            2 => rng.random_range(-300..=300).clamp(min, max),
            _ => rng.random_range(min..=max),
        }
    };
    let (value, typed) = match ty {
        TypeInfo::Tinyint => {
            let v = int(rng, i8::MIN.into(), i8::MAX.into());
            (Value::Int(v), json!(v))
        }
        TypeInfo::Smallint => {
            let v = int(rng, i16::MIN.into(), i16::MAX.into());
            (Value::Int(v), json!(v))
        }
        TypeInfo::Int => {
            let v = int(rng, i32::MIN.into(), i32::MAX.into());
            (Value::Int(v), json!(v))
        }
        TypeInfo::Bigint => {
            let v = int(rng, i64::MIN, i64::MAX);
            (Value::Int(v), json!(v))
        }
        TypeInfo::Float => {
            let v = match rng.random_range(0..12) {
                0 => f32::NAN,
                1 => f32::INFINITY,
                2 => -0.0,
                _ => random_bits(rng, |b| f32::from_bits(b as u32), |v| v.is_nan()),
            };
            (Value::Float(v), json!(hex::encode(v.to_le_bytes())))
        }
        TypeInfo::Double => {
            let v = match rng.random_range(0..12) {
                0 => f64::NAN,
                1 => f64::NEG_INFINITY,
                2 => -0.0,
                _ => random_bits(rng, f64::from_bits, |v| v.is_nan()),
            };
            (Value::Double(v), json!(hex::encode(v.to_le_bytes())))
        }
        TypeInfo::Boolean => {
            let v = rng.random_bool(0.5);
            (Value::Boolean(v), json!(v))
        }
        TypeInfo::String => {
            let v = random_text(rng, 40);
            (Value::String(v.clone()), json!(v))
        }
        TypeInfo::Varchar(n) | TypeInfo::Char(n) => {
            let v = random_text(rng, *n as usize);
            (Value::String(v.clone()), json!(v))
        }
        TypeInfo::Binary => {
            let v: Vec<u8> = (0..rng.random_range(0..24)).map(|_| rng.random()).collect();
            (Value::Binary(v.clone()), json!(hex::encode(v)))
        }
        // 0001-01-01 ..= 9999-12-31.
        TypeInfo::Date => {
            let v = rng.random_range(-719_162..=2_932_896);
            (Value::Date(v), json!(v))
        }
        TypeInfo::Datetime => {
            let v = rng.random_range(-62_135_596_800_000..=253_402_300_799_999);
            (Value::Datetime(v), json!(v))
        }
        // What pandas holds: 1677-09-22 ..= 2262-04-11.
        TypeInfo::Timestamp | TypeInfo::TimestampNtz => {
            let seconds = rng.random_range(-9_200_000_000..=9_200_000_000);
            let nanos = match rng.random_range(0..4) {
                0 => 0,
                1 => rng.random_range(1..1_000_000),
                _ => rng.random_range(0..=999_999_999),
            };
            (Value::Timestamp { seconds, nanos }, json!([seconds, nanos]))
        }
        TypeInfo::Decimal { precision, scale } => {
            let v = random_decimal(rng, *precision, *scale);
            (Value::Decimal(v.clone()), json!(v))
        }
        other => panic!("{other} is not a key type"),
    };
    Sample { value, typed }
}

// ---- what pyodps computes, in terms of our hash functions ----

/// The type pyodps hashes a value of `ty` as: `typ.scale or 18` turns scale 0 into 18.
fn pyodps_type(ty: &TypeInfo) -> TypeInfo {
    match ty {
        TypeInfo::Decimal {
            precision,
            scale: 0,
        } => TypeInfo::Decimal {
            precision: *precision,
            scale: 18,
        },
        other => other.clone(),
    }
}

/// The value pyodps hashes: its TIMESTAMP seconds are `int(epoch_ms / 1000)`, truncated.
fn pyodps_value(value: &Value) -> Value {
    match value {
        Value::Timestamp { seconds, nanos } if *seconds < 0 && *nanos >= 1_000_000 => {
            Value::Timestamp {
                seconds: seconds + 1,
                nanos: *nanos,
            }
        }
        other => other.clone(),
    }
}

fn ours(family: HashFamily, ty: &KeyType, value: &Value) -> i32 {
    match (ty, value) {
        (KeyType::IntervalDayTime, Value::Timestamp { seconds, nanos }) => {
            family.hash_interval_day_time(*seconds, *nanos)
        }
        (KeyType::Column(ty), value) => family.hash_value(ty, value).unwrap(),
        other => panic!("{other:?}"),
    }
}

fn pyodps_expected(family: HashFamily, ty: &KeyType, value: &Value) -> i32 {
    match ty {
        KeyType::Column(ty) => family
            .hash_value(&pyodps_type(ty), &pyodps_value(value))
            .unwrap(),
        KeyType::IntervalDayTime => ours(family, ty, value),
    }
}

/// True where pyodps's Cython hasher may raise OverflowError: a DECIMAL whose scaled integer,
/// as pyodps scales it, can exceed 64 bits.
fn cython_may_overflow(ty: &KeyType) -> bool {
    matches!(
        ty,
        KeyType::Column(TypeInfo::Decimal { precision, scale }) if *precision > 18 || *scale == 0
    )
}

/// Checks one oracle answer against the expected pyodps hash; returns whether Cython answered.
fn check_answer(answer: &Json, expected: i32, cython_may_fail: bool, what: &str) -> bool {
    assert_eq!(
        answer["python"].as_i64(),
        Some(i64::from(expected)),
        "{what}: pure-Python pyodps ({})",
        answer["python_error"]
    );
    match answer["cython"].as_i64() {
        Some(cy) => {
            assert_eq!(cy, i64::from(expected), "{what}: Cython pyodps");
            true
        }
        None => {
            let err = answer["cython_error"].as_str().unwrap_or("no answer");
            assert!(
                cython_may_fail && err.starts_with("OverflowError"),
                "{what}: Cython pyodps failed: {err}"
            );
            false
        }
    }
}

// ---- tables of rows ----

struct Table {
    schema: TableSchema,
    /// Key column names, in the order given to both hashers.
    keys: Vec<String>,
    rows: Vec<Vec<Sample>>,
}

impl Table {
    fn random(rng: &mut StdRng, types: &[&str], rows: usize) -> Table {
        let mut columns: Vec<Column> = types
            .iter()
            .enumerate()
            .map(|(i, t)| Column::new(format!("k{i}"), TypeInfo::parse(t).unwrap()))
            .collect();
        columns.push(Column::new("payload", TypeInfo::String));
        // Reversed: the sum does not depend on key order, and the Cython hasher walks the
        // schema order while the pure-Python one walks the key order.
        let keys = columns[..types.len()]
            .iter()
            .rev()
            .map(|c| c.name.clone())
            .collect();
        let schema = TableSchema::new(columns, vec![]);
        let rows = (0..rows)
            .map(|_| {
                schema
                    .columns
                    .iter()
                    .map(|c| random_sample(rng, &KeyType::Column(c.type_info.clone())))
                    .collect()
            })
            .collect();
        Table { schema, keys, rows }
    }

    /// The Kafka key: `(topic STRING, partition BIGINT, offset BIGINT)` plus a payload.
    fn kafka(rng: &mut StdRng, rows: usize) -> Table {
        const TOPIC_CHARS: &[u8] =
            b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-";
        let schema = TableSchema::new(
            vec![
                Column::new("topic", TypeInfo::String),
                Column::new("partition", TypeInfo::Bigint),
                Column::new("offset", TypeInfo::Bigint),
                Column::new("payload", TypeInfo::String),
            ],
            vec![],
        );
        let topics: Vec<String> = (0..40)
            .map(|_| {
                // Kafka allows names of up to 249 characters.
                let max = if rng.random_bool(0.1) { 249 } else { 24 };
                let len = rng.random_range(1..=max);
                (0..len)
                    .map(|_| char::from(TOPIC_CHARS[rng.random_range(0..TOPIC_CHARS.len())]))
                    .collect()
            })
            .collect();
        let rows = (0..rows)
            .map(|_| {
                let topic = topics[rng.random_range(0..topics.len())].clone();
                let partition = match rng.random_range(0..10) {
                    0 => rng.random_range(0..=i64::from(i32::MAX)),
                    _ => rng.random_range(0..64),
                };
                let offset = match rng.random_range(0..10) {
                    0 => i64::MAX - rng.random_range(0..1000),
                    1..=4 => rng.random_range(0..1_000_000),
                    _ => rng.random_range(0..=i64::MAX),
                };
                let payload = random_text(rng, 16);
                vec![
                    Sample {
                        value: Value::String(topic.clone()),
                        typed: json!(topic),
                    },
                    Sample {
                        value: Value::Int(partition),
                        typed: json!(partition),
                    },
                    Sample {
                        value: Value::Int(offset),
                        typed: json!(offset),
                    },
                    Sample {
                        value: Value::String(payload.clone()),
                        typed: json!(payload),
                    },
                ]
            })
            .collect();
        Table {
            schema,
            keys: vec!["offset".into(), "topic".into(), "partition".into()],
            rows,
        }
    }

    fn request(&self) -> Json {
        json!({
            "columns": self
                .schema
                .columns
                .iter()
                .map(|c| json!([c.name, c.type_info.to_string()]))
                .collect::<Vec<_>>(),
            "keys": self.keys,
            "rows": self
                .rows
                .iter()
                .map(|row| row.iter().map(|s| s.typed.clone()).collect::<Vec<_>>())
                .collect::<Vec<_>>(),
        })
    }

    fn key_types(&self) -> Vec<(usize, KeyType)> {
        self.keys
            .iter()
            .map(|k| {
                let (i, c) = self.schema.column(k).unwrap();
                (i, KeyType::Column(c.type_info.clone()))
            })
            .collect()
    }
}

// ---- the test ----

fn key_types() -> Vec<(String, KeyType)> {
    KEY_TYPES
        .iter()
        .map(|t| (t.to_string(), KeyType::Column(TypeInfo::parse(t).unwrap())))
        .chain([("interval_day_time".to_string(), KeyType::IntervalDayTime)])
        .collect()
}

#[test]
fn pyodps_hashes_random_keys_of_every_type_as_we_do() {
    for (seed, name) in [(0x5eed_4a51, "default"), (0x5eed_4a52, "legacy")] {
        let family = HashFamily::from_session(name).unwrap();
        let mut rng = StdRng::seed_from_u64(seed);

        let types = key_types();
        let samples: Vec<(usize, Sample)> = types
            .iter()
            .enumerate()
            .flat_map(|(t, (_, ty))| {
                (0..VALUES_PER_TYPE)
                    .map(|_| (t, random_sample(&mut rng, ty)))
                    .collect::<Vec<_>>()
            })
            .collect();
        let ntz = random_sample(&mut rng, &KeyType::Column(TypeInfo::TimestampNtz));

        // Key sets: every column type at once (decimals the Cython hasher handles), the
        // 128-bit decimals, and the Kafka key.
        let all_types = Table::random(
            &mut rng,
            &[
                "tinyint",
                "smallint",
                "int",
                "bigint",
                "float",
                "double",
                "boolean",
                "string",
                "varchar(20)",
                "char(10)",
                "binary",
                "date",
                "datetime",
                "timestamp",
                "decimal(4,2)",
                "decimal(18,6)",
            ],
            ROWS_PER_TABLE,
        );
        let wide_decimals = Table::random(
            &mut rng,
            &["bigint", "decimal(19,4)", "decimal(38,18)", "decimal"],
            ROWS_PER_TABLE,
        );
        let kafka = Table::kafka(&mut rng, KAFKA_ROWS);
        let tables = [&all_types, &wide_decimals, &kafka];

        let mut values: Vec<Json> = samples
            .iter()
            .map(|(t, s)| json!([types[*t].0, s.typed]))
            .collect();
        values.push(json!(["timestamp_ntz", ntz.typed]));
        let answer = oracle(&json!({
            "hasher": name,
            "values": values,
            "tables": tables.iter().map(|t| t.request()).collect::<Vec<_>>(),
        }));
        assert_eq!(answer["modules"]["python"], "odps.tunnel.hasher");
        assert!(
            answer["modules"]["cython"]
                .as_str()
                .unwrap()
                .contains("hasher_c"),
            "{}",
            answer["modules"]
        );

        // Single values.
        let answers = answer["values"].as_array().unwrap();
        assert_eq!(answers.len(), samples.len() + 1);
        let mut cython_answers = vec![0usize; types.len()];
        let mut java_departures = 0;
        for ((t, sample), got) in samples.iter().zip(answers) {
            let (type_name, ty) = &types[*t];
            let what = format!("{name} {type_name} {:?}", sample.value);
            let expected = pyodps_expected(family, ty, &sample.value);
            if expected != ours(family, ty, &sample.value) {
                java_departures += 1;
            }
            if check_answer(got, expected, cython_may_overflow(ty), &what) {
                cython_answers[*t] += 1;
            }
        }
        for ((type_name, _), n) in types.iter().zip(&cython_answers) {
            assert!(
                *n > 0,
                "{name} {type_name}: the Cython hasher never answered"
            );
        }
        println!(
            "{name}: {} values of {} key types, {java_departures} through a pyodps departure, \
             {} also answered by Cython",
            samples.len(),
            types.len(),
            cython_answers.iter().sum::<usize>()
        );
        // The departures from Java are real: scale-0 decimals and pre-1970 timestamps occur.
        assert!(
            java_departures > 0,
            "{name}: no value exercised a pyodps departure"
        );
        let ntz_answer = &answers[samples.len()];
        for imp in ["python_error", "cython_error"] {
            assert!(
                ntz_answer[imp]
                    .as_str()
                    .is_some_and(|e| e.contains("TIMESTAMP_NTZ not supported")),
                "{name}: pyodps hashed a TIMESTAMP_NTZ: {ntz_answer}"
            );
        }

        // Rows: pyodps's own RecordHasher, which its upsert writer routes by.
        let table_answers = answer["tables"].as_array().unwrap();
        for (ti, (table, answers)) in tables.iter().zip(table_answers).enumerate() {
            let hasher = KeyHasher::new(&table.schema, name, &table.keys).unwrap();
            let key_types = table.key_types();
            let may_overflow = key_types.iter().any(|(_, ty)| cython_may_overflow(ty));
            let answers = answers.as_array().unwrap();
            assert_eq!(answers.len(), table.rows.len());
            let mut cython_rows = 0;
            let mut departures = 0;
            for (ri, (row, got)) in table.rows.iter().zip(answers).enumerate() {
                let values: Vec<Value> = row.iter().map(|s| s.value.clone()).collect();
                let what = format!("{name} table {ti} row {ri}: {values:?}");
                let combined = hasher.hash_row(&values).unwrap();
                let by_columns = combine(
                    key_types
                        .iter()
                        .map(|(i, ty)| ours(family, ty, &values[*i])),
                );
                assert_eq!(combined, by_columns, "{what}: row hash");
                // Pre-1970 timestamps are the only departure from Java these tables can hold.
                let expected = combine(
                    key_types
                        .iter()
                        .map(|(i, ty)| pyodps_expected(family, ty, &values[*i])),
                );
                if expected != combined {
                    departures += 1;
                }
                if check_answer(got, expected, may_overflow, &what) {
                    cython_rows += 1;
                }
            }
            // Most rows are compared directly with our hash, not through the departure model.
            assert!(
                departures * 2 < table.rows.len(),
                "{name} table {ti}: {departures} rows depart from Java"
            );
            println!(
                "{name} table {ti} ({} keys): {} rows, {departures} through a pyodps \
                 departure, {cython_rows} also answered by Cython",
                key_types.len(),
                table.rows.len()
            );
            assert!(cython_rows > 0, "{name} table {ti}: Cython never answered");
        }
    }
}
