//! Encoder throughput against a baseline measured in the same run: copying the same payload
//! bytes into a buffer and computing their CRC-32C, the least any encoder must do.
//!
//! `cargo bench -p maxcompute-tunnel --bench encoder` prints criterion's statistics, then one
//! summary line per case with rows/s, MB/s and the ratio to the baseline.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use maxcompute_tunnel::codec::RecordEncoder;
use maxcompute_tunnel::{Column, TableSchema, TypeInfo, Value};

/// Rows per iteration: one finished stream, like a (small) block.
const ROWS: usize = 1000;

struct Case {
    name: &'static str,
    schema: Arc<TableSchema>,
    row: Vec<Value>,
    /// The bytes the encoder copies and checksums for one row: every non-null value's payload.
    payload: Vec<u8>,
}

fn schema(columns: &[(&str, &str)]) -> Arc<TableSchema> {
    Arc::new(TableSchema::new(
        columns
            .iter()
            .map(|(n, t)| Column::new(*n, TypeInfo::parse(t).unwrap()))
            .collect(),
        vec![],
    ))
}

fn text_case() -> Case {
    let value: String = "lorem ipsum dolor sit amet, ".repeat(40)[..1024].to_string();
    let mut payload = Vec::new();
    payload.extend_from_slice(b"orders.v1");
    payload.extend_from_slice(&7i64.to_le_bytes());
    payload.extend_from_slice(&123_456_789i64.to_le_bytes());
    payload.extend_from_slice(b"customer-0042");
    payload.extend_from_slice(value.as_bytes());
    Case {
        name: "text row (topic, partition, offset, key, 1 KiB value)",
        schema: schema(&[
            ("topic", "string"),
            ("partition", "int"),
            ("offset", "bigint"),
            ("key", "string"),
            ("value", "string"),
        ]),
        row: vec![
            "orders.v1".into(),
            Value::Int(7),
            Value::Int(123_456_789),
            "customer-0042".into(),
            Value::String(value),
        ],
        payload,
    }
}

fn mixed_case() -> Case {
    let json = r#"{"id":42,"tags":["a","b"],"price":12.5,"ok":true}"#;
    let row = vec![
        Value::Int(1_234_567_890_123),
        Value::Int(42),
        Value::Double(3.25),
        Value::Float(1.5),
        Value::Boolean(true),
        Value::String("a moderately short string value".into()),
        Value::String("varchar".into()),
        Value::Datetime(1_704_164_645_000),
        Value::Timestamp {
            seconds: 1_704_164_645,
            nanos: 123_456_789,
        },
        Value::Decimal("12345.67".into()),
        Value::Json(json.into()),
        Value::Array(vec![Value::Int(1), Value::Int(2), Value::Int(3)]),
    ];
    let mut payload = Vec::new();
    payload.extend_from_slice(&1_234_567_890_123i64.to_le_bytes());
    payload.extend_from_slice(&42i64.to_le_bytes());
    payload.extend_from_slice(&3.25f64.to_le_bytes());
    payload.extend_from_slice(&1.5f32.to_le_bytes());
    payload.push(1);
    payload.extend_from_slice(b"a moderately short string value");
    payload.extend_from_slice(b"varchar");
    payload.extend_from_slice(&1_704_164_645_000i64.to_le_bytes());
    payload.extend_from_slice(&1_704_164_645i64.to_le_bytes());
    payload.extend_from_slice(&123_456_789i32.to_le_bytes());
    payload.extend_from_slice(b"12345.67");
    payload.extend_from_slice(json.as_bytes());
    for v in [1i64, 2, 3] {
        payload.extend_from_slice(&v.to_le_bytes());
    }
    Case {
        name: "12-column mixed row",
        schema: schema(&[
            ("c_bigint", "bigint"),
            ("c_int", "int"),
            ("c_double", "double"),
            ("c_float", "float"),
            ("c_boolean", "boolean"),
            ("c_string", "string"),
            ("c_varchar", "varchar(32)"),
            ("c_datetime", "datetime"),
            ("c_timestamp", "timestamp"),
            ("c_decimal", "decimal(18,2)"),
            ("c_json", "json"),
            ("c_array", "array<bigint>"),
        ]),
        row,
        payload,
    }
}

/// One block of `ROWS` rows through the encoder; returns the stream length.
fn encode_block(encoder: &mut RecordEncoder, row: &[Value]) -> usize {
    for _ in 0..ROWS {
        encoder.append(black_box(row)).unwrap();
    }
    black_box(encoder.finish()).len()
}

/// The baseline: the same payload bytes copied into a block buffer, with their CRC-32C.
fn baseline_block(buf: &mut Vec<u8>, payload: &[u8]) -> usize {
    let mut crc = 0;
    for _ in 0..ROWS {
        let payload = black_box(payload);
        buf.extend_from_slice(payload);
        crc = crc32c::crc32c_append(crc, payload);
    }
    black_box(crc);
    let block = std::mem::replace(buf, Vec::with_capacity(buf.capacity()));
    black_box(block).len()
}

fn criterion_benches(c: &mut Criterion, case: &Case) {
    let mut group = c.benchmark_group(case.name);
    group.throughput(Throughput::Elements(ROWS as u64));
    let mut encoder = RecordEncoder::new(case.schema.clone());
    group.bench_function("encoder", |b| {
        b.iter(|| encode_block(&mut encoder, &case.row))
    });
    let mut buf = Vec::new();
    group.bench_function("baseline copy+crc32c", |b| {
        b.iter(|| baseline_block(&mut buf, &case.payload))
    });
    group.finish();
}

/// Runs `block` repeatedly for about `time`; returns (blocks per second, bytes per block).
fn rate(time: Duration, mut block: impl FnMut() -> usize) -> (f64, usize) {
    let bytes = block(); // warm-up
    let start = Instant::now();
    let mut blocks = 0u64;
    while start.elapsed() < time {
        block();
        blocks += 1;
    }
    (blocks as f64 / start.elapsed().as_secs_f64(), bytes)
}

fn summary(case: &Case, time: Duration) {
    let mut encoder = RecordEncoder::new(case.schema.clone());
    let (enc_blocks, enc_bytes) = rate(time, || encode_block(&mut encoder, &case.row));
    let mut buf = Vec::new();
    let (base_blocks, base_bytes) = rate(time, || baseline_block(&mut buf, &case.payload));
    let rows = |blocks: f64| blocks * ROWS as f64;
    let mb = |blocks: f64, bytes: usize| blocks * bytes as f64 / 1e6;
    println!(
        "SUMMARY {}: encoder {:.0} rows/s, {:.1} MB/s encoded | baseline {:.0} rows/s, {:.1} MB/s \
         payload | encoder/baseline rows/s = {:.2}",
        case.name,
        rows(enc_blocks),
        mb(enc_blocks, enc_bytes),
        rows(base_blocks),
        mb(base_blocks, base_bytes),
        enc_blocks / base_blocks,
    );
}

fn main() {
    // `cargo bench` passes --bench; under `cargo test --benches` everything runs just once.
    let bench_mode = std::env::args().any(|a| a == "--bench");
    let mut criterion = Criterion::default()
        .configure_from_args()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    let cases = [text_case(), mixed_case()];
    for case in &cases {
        criterion_benches(&mut criterion, case);
    }
    criterion.final_summary();
    let time = Duration::from_millis(if bench_mode { 700 } else { 10 });
    for case in &cases {
        summary(case, time);
    }
}
