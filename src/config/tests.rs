use super::*;

fn base() -> Vec<(&'static str, String)> {
    vec![
        (
            "MC_ENDPOINT",
            "http://service.cn-shanghai.maxcompute.aliyun.com/api".into(),
        ),
        ("MC_PROJECT", "project_name".into()),
        ("MC_TABLE", "table_text".into()),
    ]
}

fn with(extra: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
    let mut vars = base();
    vars.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
    vars
}

fn err(vars: Vec<(&'static str, String)>) -> String {
    SinkConfig::from_vars(vars).unwrap_err().to_string()
}

/// Each `(variable, value, key, allowed)` is refused with the message naming all four.
fn assert_invalid_values(cases: &[(&'static str, &str, &str, &str)]) {
    for (env, value, key, allowed) in cases {
        let msg = err(with(&[(env, value)]));
        assert_eq!(
            msg,
            format!("key `{key}` (from {env}) has invalid value \"{value}\"; allowed: {allowed}")
        );
    }
}

#[test]
fn defaults_match_the_connector() {
    let c = SinkConfig::from_vars(base()).unwrap();
    assert_eq!(c.format, Format::Text);
    assert_eq!(c.mode, Mode::Default);
    assert_eq!(c.partition.window, WindowType::Hour);
    assert_eq!(c.partition.column, "pt");
    assert_eq!(c.partition.time_source, TimeSource::Processing);
    assert!(!c.partition.new_format);
    assert_eq!(c.partition.zone.to_string(), "UTC");
    assert!(!c.use_streaming);
    assert_eq!(c.buffer_size_kb, 65_536);
    assert_eq!(c.retry_times, 3);
    assert!(!c.skip_error);
    assert!(c.error_topic.is_none());
    assert_eq!(c.credentials.account_type, AccountType::Aliyun);
    assert_eq!(c.credentials.sts_endpoint, "sts.aliyuncs.com");
    assert_eq!(c.credentials.client_timeout_ms, 39_600_000);
    assert_eq!(c.record_batch_size, 8000);
    assert!(!c.partial_batch_response);
    assert!(c.target.schema.is_none() && c.target.tunnel_endpoint.is_none());
}

#[test]
fn partial_batch_response_is_a_boolean_key() {
    let on = SinkConfig::from_vars(with(&[("MC_PARTIAL_BATCH_RESPONSE", "TRUE")])).unwrap();
    assert!(on.partial_batch_response);
    let message = err(with(&[("MC_PARTIAL_BATCH_RESPONSE", "yes")]));
    assert!(
        message.contains("partial_batch_response") && message.contains("yes"),
        "{message}"
    );
}

const SEED_DOCUMENT: &str = r#"{
    "name": "odps-test-runtime-error",
    "config": {
      "connector.class": "com.aliyun.odps.kafka.connect.MaxComputeSinkConnector",
      "tasks.max": "3",
      "topics": "topic_abnormal",
      "endpoint": "http://service.cn-shanghai.maxcompute.aliyun.com/api",
      "project": "project_name",
      "schema":"default",
      "table": "test_flatten",
      "account_type": "ALIYUN",
      "access_id": "LTAI5tM2iHkTd4W69nof****",
      "access_key": "S0uZvwDYDa56WZ1tjVmA67z1YS****",
      "partition_window_type": "MINUTE",
      "mode":"VALUE",
      "format":"FLATTEN",
      "sink_pool_size":"150",
      "record_batch_size":"9000",
      "buffer_size_kb":"600000",
      "use_streaming": false,
      "runtime.error.topic.name":"runtime_error",
      "runtime.error.topic.bootstrap.servers":"http://XXXX",
      "skip_error":"false"
    }
}"#;

#[test]
fn seed_connector_file_loads_unchanged_inline_and_from_a_file() {
    let inline = SinkConfig::from_vars([("MC_SINK_CONFIG", SEED_DOCUMENT)]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("odps-sink-connector.json");
    std::fs::write(&path, SEED_DOCUMENT).unwrap();
    let from_file =
        SinkConfig::from_vars([("MC_SINK_CONFIG_FILE", path.to_str().unwrap())]).unwrap();
    for c in [inline, from_file] {
        assert_eq!(c.target.table, "test_flatten");
        assert_eq!(c.target.schema.as_deref(), Some("default"));
        assert_eq!(c.format, Format::Flatten);
        assert_eq!(c.mode, Mode::Value);
        assert_eq!(c.partition.window, WindowType::Minute);
        assert_eq!(c.buffer_size_kb, 600_000);
        assert_eq!(c.sink_pool_size, Some(150));
        assert_eq!(c.record_batch_size, 9000);
        assert_eq!(
            c.credentials.access_id.as_deref(),
            Some("LTAI5tM2iHkTd4W69nof****")
        );
        let topic = c.error_topic.as_ref().unwrap();
        assert_eq!(topic.topic, "runtime_error");
        assert_eq!(topic.bootstrap_servers, "http://XXXX");
        assert_eq!(
            c.ignored_keys,
            vec!["connector.class", "tasks.max", "topics"]
        );
        assert!(
            !format!("{c:?}").contains("S0uZ"),
            "the access key leaked into Debug"
        );
    }
}

#[test]
fn bare_document_and_env_override() {
    let c = SinkConfig::from_vars(vec![
        (
            "MC_SINK_CONFIG",
            r#"{"endpoint":"e","project":"p","table":"t","format":"csv","mode":"value","retry_times":5}"#.to_string(),
        ),
        ("MC_TABLE", "other".to_string()),
        ("MC_RETRY_TIMES", "0".to_string()),
    ])
    .unwrap();
    assert_eq!(c.target.table, "other");
    assert_eq!(c.retry_times, 0);
    assert_eq!(c.format, Format::Csv);
}

#[test]
fn enums_are_case_insensitive() {
    let c = SinkConfig::from_vars(with(&[
        ("MC_FORMAT", "binary"),
        ("MC_MODE", "Key"),
        ("MC_PARTITION_WINDOW_TYPE", "day"),
        ("MC_ACCOUNT_TYPE", "aliyun"),
        ("MC_USE_STREAMING", "TRUE"),
        ("MC_PARTITION_TIME_SOURCE", "RECORD"),
    ]))
    .unwrap();
    assert_eq!(c.format, Format::Binary);
    assert_eq!(c.mode, Mode::Key);
    assert_eq!(c.partition.window, WindowType::Day);
    assert!(c.use_streaming);
    assert_eq!(c.partition.time_source, TimeSource::Record);
}

#[test]
fn missing_required_key_names_key_and_env() {
    for (drop, key, env) in [
        ("MC_ENDPOINT", "endpoint", "MC_ENDPOINT"),
        ("MC_PROJECT", "project", "MC_PROJECT"),
        ("MC_TABLE", "table", "MC_TABLE"),
    ] {
        let vars: Vec<_> = base().into_iter().filter(|(k, _)| *k != drop).collect();
        let msg = err(vars);
        assert_eq!(
            msg,
            format!("required key `{key}` is missing or empty; set it in the configuration document or in {env}")
        );
    }
    let msg = err(with(&[("MC_TABLE", "  ")]));
    assert!(msg.starts_with("required key `table`"), "{msg}");
}

#[test]
fn bad_enum_values_name_key_value_and_allowed() {
    let cases = [
        (
            "MC_FORMAT",
            "AVRO",
            "format",
            "TEXT, BINARY, CSV, JSON, FLATTEN (case-insensitive)",
        ),
        (
            "MC_MODE",
            "BOTH",
            "mode",
            "KEY, VALUE, DEFAULT (case-insensitive)",
        ),
        (
            "MC_PARTITION_WINDOW_TYPE",
            "WEEK",
            "partition_window_type",
            "DAY, HOUR, MINUTE (case-insensitive)",
        ),
        (
            "MC_ACCOUNT_TYPE",
            "AKLESS",
            "account_type",
            "ALIYUN, STS (case-insensitive)",
        ),
        (
            "MC_PARTITION_TIME_SOURCE",
            "event",
            "partition_time_source",
            "processing, record (case-insensitive)",
        ),
        (
            "MC_USE_STREAMING",
            "yes",
            "use_streaming",
            "true, false (case-insensitive)",
        ),
        (
            "MC_SKIP_ERROR",
            "1",
            "skip_error",
            "true, false (case-insensitive)",
        ),
        (
            "MC_USE_NEW_PARTITION_FORMAT",
            "on",
            "use_new_partition_format",
            "true, false (case-insensitive)",
        ),
    ];
    assert_invalid_values(&cases);
}

#[test]
fn numbers_out_of_range_are_rejected() {
    let cases = [
        (
            "MC_BUFFER_SIZE_KB",
            "1023",
            "buffer_size_kb",
            "an integer from 1024 to 1024000",
        ),
        (
            "MC_BUFFER_SIZE_KB",
            "2097152",
            "buffer_size_kb",
            "an integer from 1024 to 1024000",
        ),
        (
            "MC_BUFFER_SIZE_KB",
            "64MB",
            "buffer_size_kb",
            "an integer from 1024 to 1024000",
        ),
        (
            "MC_RETRY_TIMES",
            "-1",
            "retry_times",
            "an integer from 0 to 100",
        ),
        (
            "MC_RECORD_BATCH_SIZE",
            "0",
            "record_batch_size",
            "an integer from 1 to 4294967295",
        ),
        (
            "MC_CLIENT_TIMEOUT_MS",
            "0",
            "client_timeout_ms",
            "an integer from 60000 to 18446744073709551615",
        ),
        (
            "MC_STS_DURATION_SECONDS",
            "60",
            "sts.duration_seconds",
            "an integer from 900 to 43200",
        ),
        (
            "MC_SINK_POOL_SIZE",
            "many",
            "sink_pool_size",
            "an integer (the value is ignored)",
        ),
    ];
    assert_invalid_values(&cases);
    assert_eq!(
        SinkConfig::from_vars(with(&[("MC_BUFFER_SIZE_KB", "1024")]))
            .unwrap()
            .buffer_size_kb,
        1024
    );
}

#[test]
fn default_mode_with_csv_json_flatten_is_rejected() {
    for format in ["CSV", "JSON", "FLATTEN"] {
        let msg = err(with(&[("MC_FORMAT", format)]));
        assert_eq!(
            msg,
            format!("format={format} cannot be used with mode=DEFAULT (the default mode): set `mode` to KEY or VALUE to say which part of the Kafka record holds the {format} data")
        );
    }
}

#[test]
fn unknown_time_zone_is_rejected_not_gmt() {
    let msg = err(with(&[("MC_TIME_ZONE", "Asia/Shanghi")]));
    assert_eq!(
        msg,
        "key `time_zone` (from MC_TIME_ZONE) has invalid value \"Asia/Shanghi\"; allowed: an IANA zone ID such as Asia/Shanghai or UTC, or an offset such as GMT+8 or GMT+08:00"
    );
    let msg = err(with(&[("TZ", "Nowhere/Land")]));
    assert!(
        msg.contains("TZ environment variable") && msg.contains("Nowhere/Land"),
        "{msg}"
    );
    let c = SinkConfig::from_vars(with(&[("TZ", ":Asia/Shanghai")])).unwrap();
    assert_eq!(c.partition.zone.to_string(), "Asia/Shanghai");
    let c = SinkConfig::from_vars(with(&[("TZ", "UTC"), ("MC_TIME_ZONE", "GMT+8")])).unwrap();
    assert_eq!(c.partition.zone.to_string(), "+08:00");
}

#[test]
fn half_configured_error_topic_is_rejected() {
    let expected = "only one of `runtime.error.topic.name` and `runtime.error.topic.bootstrap.servers` is set; the error topic needs both (set the missing one), or neither to use skip_error or fail on bad records";
    assert_eq!(
        err(with(&[("MC_RUNTIME_ERROR_TOPIC_NAME", "runtime_error")])),
        expected
    );
    assert_eq!(
        err(with(&[(
            "MC_RUNTIME_ERROR_TOPIC_BOOTSTRAP_SERVERS",
            "b:9092"
        )])),
        expected
    );
}

#[test]
fn producer_properties_need_a_topic_and_stay_secret() {
    let doc = r#"{"endpoint":"e","project":"p","table":"t","runtime.error.topic.producer.sasl.password":"hunter2"}"#;
    let msg = err(vec![("MC_SINK_CONFIG", doc.to_string())]);
    assert!(
        msg.starts_with(
            "`runtime.error.topic.producer.*` properties are set but no error topic is"
        ),
        "{msg}"
    );
    let doc = r#"{"endpoint":"e","project":"p","table":"t","runtime.error.topic.name":"err",
        "runtime.error.topic.bootstrap.servers":"b:9092","runtime.error.topic.producer.sasl.password":"hunter2"}"#;
    let c = SinkConfig::from_vars(vec![("MC_SINK_CONFIG", doc.to_string())]).unwrap();
    let props = &c.error_topic.as_ref().unwrap().producer_properties;
    assert_eq!(props[0].0, "sasl.password");
    assert_eq!(props[0].1.expose(), "hunter2");
    assert!(!format!("{c:?}").contains("hunter2"));
}

#[test]
fn sts_needs_account_and_role() {
    let msg = err(with(&[("MC_ACCOUNT_TYPE", "STS"), ("MC_ROLE_NAME", "r")]));
    assert!(msg.starts_with("account_type=STS needs `account_id` (set it in the configuration document or in MC_ACCOUNT_ID)"), "{msg}");
    let msg = err(with(&[
        ("MC_ACCOUNT_TYPE", "sts"),
        ("MC_ACCOUNT_ID", "123"),
    ]));
    assert!(
        msg.starts_with("account_type=STS needs `role_name`"),
        "{msg}"
    );
}

#[test]
fn unknown_keys_are_rejected_with_a_hint() {
    let doc = r#"{"config":{"endpoint":"e","project":"p","table":"t","timezone":"Asia/Shanghai"}}"#;
    let msg = err(vec![("MC_SINK_CONFIG", doc.to_string())]);
    assert_eq!(msg, "unknown configuration key `timezone` (from MC_SINK_CONFIG) (did you mean `time_zone`?); remove it or check its spelling against docs/configuration.md");
    let doc = r#"{"endpoint":"e","project":"p","table":"t","fail_retry_times":2}"#;
    assert!(err(vec![("MC_SINK_CONFIG", doc.to_string())]).contains("did you mean `retry_times`"));
}

#[test]
fn connect_only_keys_are_ignored() {
    let doc = r#"{"endpoint":"e","project":"p","table":"t","key.converter":"org.apache.kafka.connect.storage.StringConverter","errors.tolerance":"all","transforms":"x"}"#;
    let c = SinkConfig::from_vars(vec![("MC_SINK_CONFIG", doc.to_string())]).unwrap();
    assert_eq!(
        c.ignored_keys,
        vec!["errors.tolerance", "key.converter", "transforms"]
    );
}

#[test]
fn document_errors() {
    assert_eq!(
        err(vec![("MC_SINK_CONFIG", "{}".into()), ("MC_SINK_CONFIG_FILE", "/x".into())]),
        "both MC_SINK_CONFIG and MC_SINK_CONFIG_FILE are set; set only one of them to give the connector configuration document"
    );
    let msg = err(vec![("MC_SINK_CONFIG", "{not json".into())]);
    assert!(
        msg.starts_with("the configuration document from MC_SINK_CONFIG is not valid JSON"),
        "{msg}"
    );
    let msg = err(vec![("MC_SINK_CONFIG", "[1]".into())]);
    assert!(msg.contains("must be a JSON object"), "{msg}");
    let msg = err(vec![(
        "MC_SINK_CONFIG",
        r#"{"config":{"table":["a"]}}"#.into(),
    )]);
    assert_eq!(msg, "key `table` in the configuration document from MC_SINK_CONFIG must be a string, number or boolean, got an array");
    let msg = err(vec![(
        "MC_SINK_CONFIG_FILE",
        "/nonexistent/odps.json".into(),
    )]);
    assert!(msg.starts_with("cannot read the configuration document \"/nonexistent/odps.json\" (from MC_SINK_CONFIG_FILE)"), "{msg}");
}

#[test]
fn bad_partition_column_is_rejected() {
    let msg = err(with(&[("MC_PARTITION_COLUMN", "pt; drop")]));
    assert!(
        msg.starts_with("key `partition_column` (from MC_PARTITION_COLUMN) has invalid value"),
        "{msg}"
    );
}
