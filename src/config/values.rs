//! Turns raw values into a validated `SinkConfig`. Every check names the key, the source of the
//! value, the bad value and what is accepted.

use super::error::ConfigError;
use super::keys::{self, Key};
use super::source::{RawConfig, RawValue};
use super::*;

struct Values {
    raw: RawConfig,
}

impl Values {
    fn raw(&self, name: &str) -> Option<&RawValue> {
        self.raw.values.get(name)
    }

    /// The trimmed value, `None` when absent or empty (the connector's `""` default).
    fn text(&self, name: &str) -> Option<String> {
        self.raw(name)
            .map(|v| v.text.trim().to_string())
            .filter(|t| !t.is_empty())
    }

    fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        self.text(name).ok_or_else(|| ConfigError::Missing {
            key: name,
            env: spec(name).env,
        })
    }

    fn invalid(&self, name: &'static str, allowed: impl Into<String>) -> ConfigError {
        let raw = self.raw(name);
        ConfigError::Invalid {
            key: name,
            origin: raw.map(|r| r.origin.clone()).unwrap_or_default(),
            value: if spec(name).secret {
                "******".to_string()
            } else {
                raw.map(|r| r.text.clone()).unwrap_or_default()
            },
            allowed: allowed.into(),
        }
    }

    fn choice<T: Copy>(
        &self,
        name: &'static str,
        options: &[(&str, T)],
        default: T,
    ) -> Result<T, ConfigError> {
        let Some(text) = self.text(name) else {
            return Ok(default);
        };
        options
            .iter()
            .find(|(label, _)| label.eq_ignore_ascii_case(&text))
            .map(|(_, v)| *v)
            .ok_or_else(|| {
                let labels: Vec<&str> = options.iter().map(|(l, _)| *l).collect();
                self.invalid(name, format!("{} (case-insensitive)", labels.join(", ")))
            })
    }

    /// Kafka's ConfigDef BOOLEAN: `true` or `false`, case-insensitive.
    fn boolean(&self, name: &'static str, default: bool) -> Result<bool, ConfigError> {
        self.choice(name, &[("true", true), ("false", false)], default)
    }

    fn integer<T>(
        &self,
        name: &'static str,
        default: T,
        range: std::ops::RangeInclusive<T>,
    ) -> Result<T, ConfigError>
    where
        T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
    {
        let Some(text) = self.text(name) else {
            return Ok(default);
        };
        match text.parse::<T>() {
            Ok(v) if range.contains(&v) => Ok(v),
            _ => Err(self.invalid(
                name,
                format!("an integer from {} to {}", range.start(), range.end()),
            )),
        }
    }
}

fn spec(name: &str) -> &'static Key {
    keys::find(name).expect("every key used in validation is in keys::KEYS")
}

pub(super) fn build(raw: RawConfig, tz_env: Option<&str>) -> Result<SinkConfig, ConfigError> {
    let v = Values { raw };

    let target = TargetConfig {
        endpoint: v.required(keys::ENDPOINT)?,
        tunnel_endpoint: v.text(keys::TUNNEL_ENDPOINT),
        project: v.required(keys::PROJECT)?,
        schema: v.text(keys::SCHEMA),
        table: v.required(keys::TABLE)?,
    };

    let credentials = CredentialConfig {
        account_type: v.choice(
            keys::ACCOUNT_TYPE,
            &[("ALIYUN", AccountType::Aliyun), ("STS", AccountType::Sts)],
            AccountType::Aliyun,
        )?,
        access_id: v.text(keys::ACCESS_ID),
        access_key: v.text(keys::ACCESS_KEY).map(Secret::new),
        account_id: v.text(keys::ACCOUNT_ID),
        region_id: v.text(keys::REGION_ID),
        role_name: v.text(keys::ROLE_NAME),
        sts_endpoint: v
            .text(keys::STS_ENDPOINT)
            .unwrap_or_else(|| DEFAULT_STS_ENDPOINT.to_string()),
        // Below a minute every invocation would pay an AssumeRole round trip.
        client_timeout_ms: v.integer(
            keys::CLIENT_TIMEOUT_MS,
            DEFAULT_CLIENT_TIMEOUT_MS,
            60_000..=u64::MAX,
        )?,
        // STS accepts 900 s up to the role's maximum session duration (at most 12 h).
        sts_duration_seconds: v.integer(
            keys::STS_DURATION_SECONDS,
            DEFAULT_STS_DURATION_SECONDS,
            900..=43_200,
        )?,
    };
    if credentials.account_type == AccountType::Sts {
        for (name, value) in [
            (keys::ACCOUNT_ID, &credentials.account_id),
            (keys::ROLE_NAME, &credentials.role_name),
        ] {
            if value.is_none() {
                return Err(ConfigError::Combination(format!(
                    "account_type=STS needs `{name}` (set it in the configuration document or in {}): the role ARN is acs:ram::<account_id>:role/<role_name>",
                    spec(name).env
                )));
            }
        }
    }

    let format = v.choice(
        keys::FORMAT,
        &[
            ("TEXT", Format::Text),
            ("BINARY", Format::Binary),
            ("CSV", Format::Csv),
            ("JSON", Format::Json),
            ("FLATTEN", Format::Flatten),
        ],
        Format::Text,
    )?;
    let mode = v.choice(
        keys::MODE,
        &[
            ("KEY", Mode::Key),
            ("VALUE", Mode::Value),
            ("DEFAULT", Mode::Default),
        ],
        Mode::Default,
    )?;
    if mode == Mode::Default && matches!(format, Format::Csv | Format::Json | Format::Flatten) {
        return Err(ConfigError::Combination(format!(
            "format={} cannot be used with mode=DEFAULT (the default mode): set `mode` to KEY or VALUE to say which part of the Kafka record holds the {} data",
            format.name(),
            format.name()
        )));
    }

    let zone = match v.text(keys::TIME_ZONE) {
        Some(text) => Zone::parse(&text).ok_or_else(|| {
            v.invalid(
                keys::TIME_ZONE,
                "an IANA zone ID such as Asia/Shanghai or UTC, or an offset such as GMT+8 or GMT+08:00",
            )
        })?,
        None => match tz_env {
            Some(tz) => Zone::parse(tz).ok_or_else(|| ConfigError::Invalid {
                key: keys::TIME_ZONE,
                origin: "the TZ environment variable (used because time_zone is not set)"
                    .to_string(),
                value: tz.to_string(),
                allowed: "an IANA zone ID such as Asia/Shanghai or UTC; or set time_zone explicitly"
                    .to_string(),
            })?,
            None => Zone::Named(chrono_tz::UTC),
        },
    };

    let partition_column = v
        .text(keys::PARTITION_COLUMN)
        .unwrap_or_else(|| DEFAULT_PARTITION_COLUMN.to_string());
    if !partition_column
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return Err(v.invalid(
            keys::PARTITION_COLUMN,
            "a column name of letters, digits and underscores",
        ));
    }
    let partition = PartitionConfig {
        column: partition_column,
        window: v.choice(
            keys::PARTITION_WINDOW_TYPE,
            &[
                ("DAY", WindowType::Day),
                ("HOUR", WindowType::Hour),
                ("MINUTE", WindowType::Minute),
            ],
            WindowType::Hour,
        )?,
        zone,
        new_format: v.boolean(keys::USE_NEW_PARTITION_FORMAT, false)?,
        time_source: v.choice(
            keys::PARTITION_TIME_SOURCE,
            &[
                ("processing", TimeSource::Processing),
                ("record", TimeSource::Record),
            ],
            TimeSource::Processing,
        )?,
    };

    let error_name = v.text(keys::ERROR_TOPIC_NAME);
    let error_servers = v.text(keys::ERROR_TOPIC_SERVERS);
    let producer_properties: Vec<(String, Secret)> = v
        .raw
        .values
        .iter()
        .filter_map(|(k, raw)| {
            k.strip_prefix(keys::ERROR_PRODUCER_PREFIX)
                .map(|p| (p.to_string(), Secret::new(raw.text.clone())))
        })
        .collect();
    let error_topic = match (error_name, error_servers) {
        (Some(topic), Some(bootstrap_servers)) => Some(ErrorTopicConfig {
            topic,
            bootstrap_servers,
            producer_properties,
        }),
        (None, None) if producer_properties.is_empty() => None,
        (None, None) => {
            return Err(ConfigError::Combination(format!(
                "`{}*` properties are set but no error topic is: set `{}` and `{}`, or remove them",
                keys::ERROR_PRODUCER_PREFIX,
                keys::ERROR_TOPIC_NAME,
                keys::ERROR_TOPIC_SERVERS
            )))
        }
        (Some(_), None) | (None, Some(_)) => {
            return Err(ConfigError::Combination(format!(
                "only one of `{}` and `{}` is set; the error topic needs both (set the missing one), or neither to use skip_error or fail on bad records",
                keys::ERROR_TOPIC_NAME,
                keys::ERROR_TOPIC_SERVERS
            )))
        }
    };

    let sink_pool_size =
        match v.text(keys::SINK_POOL_SIZE) {
            None => None,
            Some(text) => Some(text.parse::<i64>().map_err(|_| {
                v.invalid(keys::SINK_POOL_SIZE, "an integer (the value is ignored)")
            })?),
        };

    Ok(SinkConfig {
        target,
        credentials,
        format,
        mode,
        partition,
        use_streaming: v.boolean(keys::USE_STREAMING, false)?,
        buffer_size_kb: v.integer(
            keys::BUFFER_SIZE_KB,
            DEFAULT_BUFFER_SIZE_KB,
            BUFFER_SIZE_KB_RANGE,
        )?,
        retry_times: v.integer(keys::RETRY_TIMES, DEFAULT_RETRY_TIMES, 0..=MAX_RETRY_TIMES)?,
        skip_error: v.boolean(keys::SKIP_ERROR, false)?,
        error_topic,
        sink_pool_size,
        record_batch_size: v.integer(
            keys::RECORD_BATCH_SIZE,
            DEFAULT_RECORD_BATCH_SIZE,
            1..=u32::MAX,
        )?,
        partial_batch_response: v.boolean(keys::PARTIAL_BATCH_RESPONSE, false)?,
        ignored_keys: v.raw.ignored.clone(),
    })
}
