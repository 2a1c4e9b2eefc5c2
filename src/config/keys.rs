//! The configuration keys: the connector's names, our environment variable for each, and the
//! Kafka Connect keys that an existing connector file may carry but that mean nothing here.

/// A key this function understands. `env` is `MC_` + the key upper-cased with `.` as `_`.
pub struct Key {
    pub name: &'static str,
    pub env: &'static str,
    /// Values that must never be logged or echoed in an error.
    pub secret: bool,
}

const fn key(name: &'static str, env: &'static str) -> Key {
    Key {
        name,
        env,
        secret: false,
    }
}

pub const ENDPOINT: &str = "endpoint";
pub const PROJECT: &str = "project";
pub const TABLE: &str = "table";
pub const SCHEMA: &str = "schema";
pub const TUNNEL_ENDPOINT: &str = "tunnel_endpoint";
pub const ACCOUNT_TYPE: &str = "account_type";
pub const ACCESS_ID: &str = "access_id";
pub const ACCESS_KEY: &str = "access_key";
pub const ACCOUNT_ID: &str = "account_id";
pub const REGION_ID: &str = "region_id";
pub const ROLE_NAME: &str = "role_name";
pub const STS_ENDPOINT: &str = "sts.endpoint";
pub const CLIENT_TIMEOUT_MS: &str = "client_timeout_ms";
pub const STS_DURATION_SECONDS: &str = "sts.duration_seconds";
pub const FORMAT: &str = "format";
pub const MODE: &str = "mode";
pub const PARTITION_WINDOW_TYPE: &str = "partition_window_type";
pub const TIME_ZONE: &str = "time_zone";
pub const USE_NEW_PARTITION_FORMAT: &str = "use_new_partition_format";
pub const USE_STREAMING: &str = "use_streaming";
pub const BUFFER_SIZE_KB: &str = "buffer_size_kb";
pub const RETRY_TIMES: &str = "retry_times";
pub const SINK_POOL_SIZE: &str = "sink_pool_size";
pub const RECORD_BATCH_SIZE: &str = "record_batch_size";
pub const SKIP_ERROR: &str = "skip_error";
pub const ERROR_TOPIC_NAME: &str = "runtime.error.topic.name";
pub const ERROR_TOPIC_SERVERS: &str = "runtime.error.topic.bootstrap.servers";
pub const PARTITION_COLUMN: &str = "partition_column";
pub const PARTITION_TIME_SOURCE: &str = "partition_time_source";
pub const PARTIAL_BATCH_RESPONSE: &str = "partial_batch_response";

/// librdkafka properties for the error-topic producer: `runtime.error.topic.producer.<property>`.
pub const ERROR_PRODUCER_PREFIX: &str = "runtime.error.topic.producer.";

pub const KEYS: &[Key] = &[
    key(ENDPOINT, "MC_ENDPOINT"),
    key(PROJECT, "MC_PROJECT"),
    key(TABLE, "MC_TABLE"),
    key(SCHEMA, "MC_SCHEMA"),
    key(TUNNEL_ENDPOINT, "MC_TUNNEL_ENDPOINT"),
    key(ACCOUNT_TYPE, "MC_ACCOUNT_TYPE"),
    key(ACCESS_ID, "MC_ACCESS_ID"),
    Key {
        name: ACCESS_KEY,
        env: "MC_ACCESS_KEY",
        secret: true,
    },
    key(ACCOUNT_ID, "MC_ACCOUNT_ID"),
    key(REGION_ID, "MC_REGION_ID"),
    key(ROLE_NAME, "MC_ROLE_NAME"),
    key(STS_ENDPOINT, "MC_STS_ENDPOINT"),
    key(CLIENT_TIMEOUT_MS, "MC_CLIENT_TIMEOUT_MS"),
    key(STS_DURATION_SECONDS, "MC_STS_DURATION_SECONDS"),
    key(FORMAT, "MC_FORMAT"),
    key(MODE, "MC_MODE"),
    key(PARTITION_WINDOW_TYPE, "MC_PARTITION_WINDOW_TYPE"),
    key(TIME_ZONE, "MC_TIME_ZONE"),
    key(USE_NEW_PARTITION_FORMAT, "MC_USE_NEW_PARTITION_FORMAT"),
    key(USE_STREAMING, "MC_USE_STREAMING"),
    key(BUFFER_SIZE_KB, "MC_BUFFER_SIZE_KB"),
    key(RETRY_TIMES, "MC_RETRY_TIMES"),
    key(SINK_POOL_SIZE, "MC_SINK_POOL_SIZE"),
    key(RECORD_BATCH_SIZE, "MC_RECORD_BATCH_SIZE"),
    key(SKIP_ERROR, "MC_SKIP_ERROR"),
    key(ERROR_TOPIC_NAME, "MC_RUNTIME_ERROR_TOPIC_NAME"),
    key(
        ERROR_TOPIC_SERVERS,
        "MC_RUNTIME_ERROR_TOPIC_BOOTSTRAP_SERVERS",
    ),
    key(PARTITION_COLUMN, "MC_PARTITION_COLUMN"),
    key(PARTITION_TIME_SOURCE, "MC_PARTITION_TIME_SOURCE"),
    key(PARTIAL_BATCH_RESPONSE, "MC_PARTIAL_BATCH_RESPONSE"),
];

/// Environment variable holding the whole connector JSON document inline.
pub const ENV_DOCUMENT: &str = "MC_SINK_CONFIG";
/// Environment variable holding the path of the connector JSON document.
pub const ENV_DOCUMENT_FILE: &str = "MC_SINK_CONFIG_FILE";

pub fn find(name: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.name == name)
}

/// Kafka Connect framework keys: the Lambda trigger does their job (topics, converters, task
/// count), so they are accepted and ignored.
pub fn is_connect_only(name: &str) -> bool {
    const EXACT: &[&str] = &[
        "name",
        "connector.class",
        "tasks.max",
        "topics",
        "topics.regex",
        "config.action.reload",
    ];
    const PREFIXES: &[&str] = &[
        "key.converter",
        "value.converter",
        "header.converter",
        "errors.",
        "transforms",
        "predicates",
        "consumer.override.",
        "producer.override.",
        "admin.override.",
    ];
    EXACT.contains(&name) || PREFIXES.iter().any(|p| name.starts_with(p))
}

/// Well-known misspellings, so the start-up error can point at the right key.
pub fn suggestion(name: &str) -> Option<&'static str> {
    match name.to_ascii_lowercase().as_str() {
        "timezone" | "time.zone" | "timezone_id" => Some(TIME_ZONE),
        "fail_retry_times" | "retry" | "retries" => Some(RETRY_TIMES),
        "sts_endpoint" => Some(STS_ENDPOINT),
        "use_stream" | "streaming" => Some(USE_STREAMING),
        "partition_window" | "window_type" => Some(PARTITION_WINDOW_TYPE),
        other => KEYS
            .iter()
            .find(|k| k.name.eq_ignore_ascii_case(other) || k.name.replace('.', "_") == other)
            .map(|k| k.name),
    }
}
