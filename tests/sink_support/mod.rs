//! Shared set-up of the function's emulator tests: an in-process MaxCompute emulator, the
//! function built from environment-style configuration, events from `events/`, rows read back.

#![allow(dead_code)]

use std::path::PathBuf;

use lambda_runtime::{Context, LambdaEvent};
use maxcompute_emulator::config::{DEFAULT_ACCESS_ID, DEFAULT_ACCESS_KEY, DEFAULT_PROJECT};
use maxcompute_emulator::{start, EmulatorConfig, EmulatorHandle};
use maxcompute_kafka_sink::config::SinkConfig;
use maxcompute_kafka_sink::credentials;
use maxcompute_kafka_sink::event::KafkaEvent;
use maxcompute_kafka_sink::sink::{ErrorPolicy, Sink};
use maxcompute_tunnel::Value;

pub struct Emulator {
    pub handle: EmulatorHandle,
    _dir: tempfile::TempDir,
}

impl Emulator {
    pub async fn start() -> Emulator {
        let dir = tempfile::tempdir().expect("temp dir");
        let handle = start(EmulatorConfig::new(dir.path()))
            .await
            .expect("emulator starts");
        Emulator { handle, _dir: dir }
    }

    /// An emulator started by the test with its own configuration, and the directory it keeps.
    pub fn from_parts(handle: EmulatorHandle, dir: tempfile::TempDir) -> Emulator {
        Emulator { handle, _dir: dir }
    }

    pub fn create_table(&self, ddl: &str) {
        self.handle
            .catalog()
            .create_table_ddl(DEFAULT_PROJECT, ddl)
            .expect("table created");
    }

    /// The function's configuration as Lambda environment variables would give it.
    pub fn config(&self, table: &str, extra: &[(&str, &str)]) -> SinkConfig {
        let mut vars: Vec<(String, String)> = vec![
            ("MC_ENDPOINT".into(), self.handle.api_endpoint()),
            ("MC_TUNNEL_ENDPOINT".into(), self.handle.tunnel_endpoint()),
            ("MC_PROJECT".into(), DEFAULT_PROJECT.into()),
            ("MC_TABLE".into(), table.into()),
            ("MC_ACCESS_ID".into(), DEFAULT_ACCESS_ID.into()),
            ("MC_ACCESS_KEY".into(), DEFAULT_ACCESS_KEY.into()),
            ("MC_TIME_ZONE".into(), "Asia/Shanghai".into()),
            ("MC_PARTITION_WINDOW_TYPE".into(), "MINUTE".into()),
        ];
        vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        SinkConfig::from_vars(vars).expect("valid configuration")
    }

    /// The sink as the function builds it, with the error policy the configuration asks for.
    pub async fn sink(&self, config: &SinkConfig) -> Sink {
        let errors = ErrorPolicy::from_config(config, "tests").expect("error policy");
        self.sink_with(config, errors).await
    }

    pub async fn sink_with(&self, config: &SinkConfig, errors: ErrorPolicy) -> Sink {
        let provider = credentials::provider(&config.credentials, |_| None).expect("credentials");
        Sink::build(config, provider, errors)
            .await
            .expect("start-up succeeds")
    }

    /// Every committed row of `table` as (partition value, row), partitions in spec order.
    pub fn rows(&self, table: &str) -> Vec<(String, Vec<Value>)> {
        let catalog = self.handle.catalog();
        let mut out = Vec::new();
        for partition in catalog
            .partitions(DEFAULT_PROJECT, table)
            .expect("partitions")
        {
            let value = partition
                .spec
                .values()
                .next()
                .expect("one partition column")
                .to_string();
            for row in catalog
                .rows(DEFAULT_PROJECT, table, &partition.spec)
                .expect("rows")
            {
                out.push((value.clone(), row));
            }
        }
        out
    }
}

pub fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("events")
}

/// A trigger invocation of the event in `events/<name>.json`.
pub fn event(name: &str) -> LambdaEvent<KafkaEvent> {
    let path = events_dir().join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    invocation(serde_json::from_str(&text).expect("event JSON"))
}

pub fn invocation(payload: KafkaEvent) -> LambdaEvent<KafkaEvent> {
    LambdaEvent::new(payload, Context::default())
}

pub fn s(v: &str) -> Value {
    Value::String(v.into())
}

pub fn int(v: i64) -> Value {
    Value::Int(v)
}

/// JSON cells compared as JSON: MaxCompute may store object keys in another order.
pub fn json_of(v: &Value) -> serde_json::Value {
    match v {
        Value::Json(text) | Value::String(text) => serde_json::from_str(text).expect("JSON text"),
        other => panic!("not a JSON cell: {other:?}"),
    }
}
