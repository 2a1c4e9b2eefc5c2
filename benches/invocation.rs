//! One invocation on a 6 MB trigger event (TEXT, CSV and FLATTEN variants) against the
//! in-process emulator. Prints records/s, MB/s and peak heap, beside the time to base64-decode
//! the same event's keys and values in the same run, as a ratio rather than an assertion.
//!
//! Run: `cargo bench -p maxcompute-kafka-sink --bench invocation`.
//! The peak heap includes the emulator, which runs in the same process and stores the rows.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use lambda_runtime::{Context, LambdaEvent};
use maxcompute_emulator::config::{DEFAULT_ACCESS_ID, DEFAULT_ACCESS_KEY, DEFAULT_PROJECT};
use maxcompute_emulator::{start, EmulatorConfig};
use maxcompute_kafka_sink::config::SinkConfig;
use maxcompute_kafka_sink::event::KafkaEvent;
use maxcompute_kafka_sink::handler::handler;
use maxcompute_kafka_sink::sink::{ErrorPolicy, Sink};

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const EVENT_BYTES: usize = 6 * 1000 * 1000;
const RECORDS: usize = 10_000;
const RUNS: usize = 3;

struct Variant {
    name: &'static str,
    format: &'static str,
    ddl: &'static str,
    value: fn(usize) -> String,
}

fn text_value(i: usize) -> String {
    format!("message {i} ") + &"lorem ipsum dolor sit amet ".repeat(4)
}

fn csv_value(i: usize) -> String {
    format!(
        "{i},user-{i},\"{}\",{}.{:02},2024-05-01 12:00:00",
        "street, city ".repeat(8),
        i % 1000,
        i % 100
    )
}

fn flatten_value(i: usize) -> String {
    format!(
        r#"{{"id":{i},"name":"user-{i}","note":"{}","amount":{}.{:02},"extra":{{"k":[1,2,3]}}}}"#,
        "lorem ipsum ".repeat(8),
        i % 1000,
        i % 100
    )
}

const VARIANTS: [Variant; 3] = [
    Variant {
        name: "TEXT",
        format: "TEXT",
        ddl: "CREATE TABLE b(topic STRING, `partition` BIGINT, `offset` BIGINT, key STRING, value STRING) PARTITIONED BY (pt STRING);",
        value: text_value,
    },
    Variant {
        name: "CSV",
        format: "CSV",
        ddl: "CREATE TABLE b(topic STRING, `partition` BIGINT, `offset` BIGINT, id BIGINT, name STRING, address STRING, amount DECIMAL(10,2), at DATETIME) PARTITIONED BY (pt STRING);",
        value: csv_value,
    },
    Variant {
        name: "FLATTEN",
        format: "FLATTEN",
        ddl: "CREATE TABLE b(topic STRING, `partition` BIGINT, `offset` BIGINT, id BIGINT, name STRING, note STRING, amount DECIMAL(10,2), extra JSON) PARTITIONED BY (pt STRING);",
        value: flatten_value,
    },
];

/// A trigger event of about `EVENT_BYTES`, values padded evenly, four partitions.
fn build_event(value: fn(usize) -> String) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    let record = |i: usize, pad: usize| {
        let mut v = value(i);
        v.push_str(&" ".repeat(pad));
        serde_json::json!({
            "topic": "bench", "partition": i % 4, "offset": i / 4,
            "timestamp": 1_714_560_000_000_i64 + i as i64, "timestampType": "CREATE_TIME",
            "key": b64.encode(format!("key-{i}")), "value": b64.encode(v),
            "headers": [{"source": [98, 101, 110, 99, 104]}],
        })
    };
    let probe = serde_json::to_string(&record(0, 0)).unwrap().len();
    // Unquoted trailing spaces trim away in CSV, and JSON ignores them, so padding keeps rows equal.
    let pad = (EVENT_BYTES / RECORDS).saturating_sub(probe + 2) * 3 / 4;
    let mut groups = serde_json::Map::new();
    for p in 0..4 {
        let records: Vec<_> = (0..RECORDS)
            .filter(|i| i % 4 == p)
            .map(|i| record(i, pad))
            .collect();
        groups.insert(format!("bench-{p}"), serde_json::Value::Array(records));
    }
    serde_json::to_string(&serde_json::json!({
        "eventSource": "SelfManagedKafka", "bootstrapServers": "k:9092", "records": groups,
    }))
    .unwrap()
}

fn decode_all(event: &KafkaEvent) -> usize {
    event
        .records()
        .map(|r| {
            r.key_bytes().unwrap().map_or(0, |k| k.len())
                + r.value_bytes().unwrap().map_or(0, |v| v.len())
        })
        .sum()
}

fn best<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut out = None;
    let mut best = Duration::MAX;
    for _ in 0..runs {
        let t = Instant::now();
        let v = f();
        best = best.min(t.elapsed());
        out = Some(v);
    }
    (best, out.unwrap())
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    println!(
        "{:<8} {:>8} {:>9} {:>10} {:>9} {:>10} {:>11} {:>10} {:>8}",
        "format",
        "records",
        "event MB",
        "parse ms",
        "run ms",
        "records/s",
        "MB/s",
        "b64 ms",
        "run/b64"
    );
    for variant in VARIANTS {
        let dir = tempfile::tempdir().unwrap();
        let emu = runtime
            .block_on(start(EmulatorConfig::new(dir.path())))
            .unwrap();
        emu.catalog()
            .create_table_ddl(DEFAULT_PROJECT, variant.ddl)
            .unwrap();
        let config = SinkConfig::from_vars([
            ("MC_ENDPOINT", emu.api_endpoint()),
            ("MC_TUNNEL_ENDPOINT", emu.tunnel_endpoint()),
            ("MC_PROJECT", DEFAULT_PROJECT.to_string()),
            ("MC_TABLE", "b".to_string()),
            ("MC_ACCESS_ID", DEFAULT_ACCESS_ID.to_string()),
            ("MC_ACCESS_KEY", DEFAULT_ACCESS_KEY.to_string()),
            ("MC_FORMAT", variant.format.to_string()),
            ("MC_MODE", "VALUE".to_string()),
        ])
        .unwrap();
        let provider =
            maxcompute_kafka_sink::credentials::provider(&config.credentials, |_| None).unwrap();
        let sink: Sink = runtime
            .block_on(Sink::build(&config, provider, ErrorPolicy::Fail))
            .unwrap();

        let text = build_event(variant.value);
        let mb = text.len() as f64 / 1e6;
        let (parse, event) = best(RUNS, || serde_json::from_str::<KafkaEvent>(&text).unwrap());
        let (b64, decoded) = best(RUNS, || decode_all(&event));
        assert!(decoded > 0);

        PEAK.store(CURRENT.load(Ordering::Relaxed), Ordering::Relaxed);
        let base = CURRENT.load(Ordering::Relaxed);
        let (run, summary) = best(RUNS, || {
            let invocation = LambdaEvent::new(event.clone(), Context::default());
            runtime.block_on(handler(&sink, invocation)).unwrap()
        });
        assert_eq!(
            summary.rows_total() as usize,
            RECORDS,
            "every record is written"
        );
        let peak_mb = (PEAK.load(Ordering::Relaxed) - base) as f64 / 1e6;
        println!(
            "{:<8} {:>8} {:>9.2} {:>10.1} {:>9.1} {:>10.0} {:>11.1} {:>10.2} {:>8.1}   peak heap +{:.1} MB over the parsed event",
            variant.name,
            RECORDS,
            mb,
            parse.as_secs_f64() * 1e3,
            run.as_secs_f64() * 1e3,
            RECORDS as f64 / run.as_secs_f64(),
            mb / run.as_secs_f64(),
            b64.as_secs_f64() * 1e3,
            run.as_secs_f64() / b64.as_secs_f64(),
            peak_mb,
        );
        runtime.block_on(emu.shutdown());
    }
}
