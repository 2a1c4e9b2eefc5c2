//! The function's configuration: the connector's `odps-sink-connector.json` keys plus our
//! extensions, read once at start-up and validated there, never per record.
//! Every key is documented in `docs/configuration.md`.

mod error;
pub mod keys;
mod secret;
mod source;
mod values;

pub use error::ConfigError;
pub use secret::Secret;
pub use source::{RawConfig, RawValue};

use crate::zone::Zone;

/// Message format of the Kafka key/value (`format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Binary,
    Csv,
    Json,
    Flatten,
}

/// Which part of the Kafka record is written (`mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Key,
    Value,
    /// Key and value (TEXT and BINARY only).
    Default,
}

/// Granularity of the partition value (`partition_window_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowType {
    Day,
    Hour,
    Minute,
}

/// Which clock decides the partition value (`partition_time_source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeSource {
    /// Wall clock at invocation start, one value per invocation (the connector's behaviour).
    Processing,
    /// Each record's Kafka timestamp.
    Record,
}

impl Format {
    /// The name as the `format` key spells it.
    pub fn name(self) -> &'static str {
        match self {
            Format::Text => "TEXT",
            Format::Binary => "BINARY",
            Format::Csv => "CSV",
            Format::Json => "JSON",
            Format::Flatten => "FLATTEN",
        }
    }
}

impl Mode {
    /// The name as the `mode` key spells it.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Key => "KEY",
            Mode::Value => "VALUE",
            Mode::Default => "DEFAULT",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountType {
    Aliyun,
    Sts,
}

/// Where rows go: table and endpoints.
#[derive(Debug, Clone)]
pub struct TargetConfig {
    pub endpoint: String,
    pub tunnel_endpoint: Option<String>,
    pub project: String,
    /// MaxCompute three-level schema; `None` for projects without it.
    pub schema: Option<String>,
    pub table: String,
}

/// Inputs of the credential provider (`credentials::provider`): an AccessKey, used directly or
/// to assume a RAM role through STS. Empty strings are `None`.
#[derive(Debug, Clone)]
pub struct CredentialConfig {
    pub account_type: AccountType,
    pub access_id: Option<String>,
    pub access_key: Option<Secret>,
    pub account_id: Option<String>,
    pub region_id: Option<String>,
    pub role_name: Option<String>,
    pub sts_endpoint: String,
    pub client_timeout_ms: u64,
    /// Lifetime asked of AssumeRole (`DurationSeconds`).
    pub sts_duration_seconds: u64,
}

/// How the partition column's value is computed.
#[derive(Debug, Clone)]
pub struct PartitionConfig {
    pub column: String,
    pub window: WindowType,
    pub zone: Zone,
    pub new_format: bool,
    pub time_source: TimeSource,
}

/// The error topic, active only when both its name and its servers are set.
#[derive(Debug, Clone)]
pub struct ErrorTopicConfig {
    pub topic: String,
    pub bootstrap_servers: String,
    /// `runtime.error.topic.producer.<property>` entries, prefix removed. Values may hold SASL
    /// passwords, hence `Secret`.
    pub producer_properties: Vec<(String, Secret)>,
}

#[derive(Debug, Clone)]
pub struct SinkConfig {
    pub target: TargetConfig,
    pub credentials: CredentialConfig,
    pub format: Format,
    pub mode: Mode,
    pub partition: PartitionConfig,
    pub use_streaming: bool,
    pub buffer_size_kb: u32,
    /// Extra attempts after the first.
    pub retry_times: u32,
    pub skip_error: bool,
    pub error_topic: Option<ErrorTopicConfig>,
    /// Accepted for compatibility; Lambda's concurrency replaces the connector's thread pool.
    pub sink_pool_size: Option<i64>,
    /// Accepted for compatibility; the trigger's batch size replaces it.
    pub record_batch_size: u32,
    /// Whether the trigger has `FunctionResponseTypes: [ReportBatchItemFailures]`, so that a
    /// `batchItemFailures` response is read rather than taken as complete success. The template
    /// sets it from the same parameter as the trigger's setting, so the two cannot disagree.
    pub partial_batch_response: bool,
    /// Kafka Connect keys found in the document and ignored.
    pub ignored_keys: Vec<String>,
}

pub const DEFAULT_BUFFER_SIZE_KB: u32 = 65_536;
pub const BUFFER_SIZE_KB_RANGE: std::ops::RangeInclusive<u32> = 1024..=1_024_000;
pub const DEFAULT_RETRY_TIMES: u32 = 3;
pub const MAX_RETRY_TIMES: u32 = 100;
pub const DEFAULT_CLIENT_TIMEOUT_MS: u64 = 39_600_000;
pub const DEFAULT_STS_DURATION_SECONDS: u64 = 3600;
pub const DEFAULT_STS_ENDPOINT: &str = "sts.aliyuncs.com";
pub const DEFAULT_RECORD_BATCH_SIZE: u32 = 8000;
pub const DEFAULT_PARTITION_COLUMN: &str = "pt";

impl SinkConfig {
    /// Loads the configuration from environment variables. `vars` is the process environment in
    /// production (`std::env::vars()`), a plain list in tests.
    pub fn from_vars<I, K, V>(vars: I) -> Result<SinkConfig, ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let vars: Vec<(String, String)> = vars
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        let tz_env = vars
            .iter()
            .find(|(k, _)| k == "TZ")
            .map(|(_, v)| v.clone())
            .filter(|v| !v.trim().is_empty());
        let raw = RawConfig::gather(vars)?;
        values::build(raw, tz_env.as_deref())
    }

    /// Logs what was accepted but has no effect here, once at start-up.
    pub fn log_startup_notes(&self) {
        for key in &self.ignored_keys {
            tracing::info!(key = %key, "Kafka Connect key ignored: the Lambda trigger does its job");
        }
        if let Some(size) = self.sink_pool_size {
            tracing::info!(
                sink_pool_size = size,
                "sink_pool_size ignored: Lambda concurrency replaces the connector's thread pool"
            );
        }
        if self.partial_batch_response {
            tracing::info!(
                "partial_batch_response set: the trigger must have FunctionResponseTypes ReportBatchItemFailures"
            );
        }
        if self.record_batch_size != DEFAULT_RECORD_BATCH_SIZE {
            tracing::info!(
                record_batch_size = self.record_batch_size,
                "record_batch_size ignored: the trigger's BatchSize decides the batch"
            );
        }
    }
}

#[cfg(test)]
mod tests;
