//! The seed document's examples (TEXT, CSV, JSON, FLATTEN, abnormal data), each as an MSK and a
//! self-managed trigger event, through the real handler into the MaxCompute emulator; the rows
//! read back equal the seed's result tables, and the partition value has the seed's format and
//! the invocation's minute.

mod sink_support;

use chrono::{DateTime, Utc};
use maxcompute_kafka_sink::handler::handler;
use maxcompute_kafka_sink::sink::InvocationError;
use maxcompute_tunnel::Value;
use sink_support::{event, int, json_of, s, Emulator};

const FORMS: [&str; 2] = ["msk", "self-managed"];

/// `MM-dd-yyyy HH:mm` of `t` in Asia/Shanghai (the seed's MINUTE partitions).
fn legacy_minute(t: DateTime<Utc>) -> String {
    t.with_timezone(&chrono_tz::Asia::Shanghai)
        .format("%m-%d-%Y %H:%M")
        .to_string()
}

/// The partition value is the invocation's minute: between the minutes before and after.
fn assert_processing_pt(pt: &str, before: DateTime<Utc>, after: DateTime<Utc>) {
    let allowed = [legacy_minute(before), legacy_minute(after)];
    assert!(
        allowed.contains(&pt.to_string()),
        "pt {pt:?} not in {allowed:?}"
    );
}

#[tokio::test]
async fn text_value_mode() {
    for form in FORMS {
        let emu = Emulator::start().await;
        emu.create_table(
            "CREATE TABLE IF NOT EXISTS table_text(topic STRING, `partition` BIGINT, `offset` BIGINT, key STRING, value STRING) PARTITIONED BY (pt STRING);",
        );
        let config = emu.config("table_text", &[("MC_FORMAT", "TEXT"), ("MC_MODE", "VALUE")]);
        let sink = emu.sink(&config).await;
        let before = Utc::now();
        let summary = handler(&sink, event(&format!("{form}-text")))
            .await
            .unwrap();
        let after = Utc::now();
        assert_eq!((summary.records_in, summary.rows_total()), (2, 2), "{form}");
        let rows = emu.rows("table_text");
        let expected = vec![
            vec![s("topic_text"), int(0), int(0), Value::Null, s("abc")],
            vec![s("topic_text"), int(0), int(1), Value::Null, s("edf")],
        ];
        assert_eq!(
            rows.iter().map(|(_, r)| r.clone()).collect::<Vec<_>>(),
            expected,
            "{form}"
        );
        for (pt, _) in &rows {
            assert_processing_pt(pt, before, after);
        }
        assert_eq!(
            summary.rows_written.keys().collect::<Vec<_>>(),
            vec![&rows[0].0]
        );
    }
}

#[tokio::test]
async fn csv_value_mode() {
    for form in FORMS {
        let emu = Emulator::start().await;
        emu.create_table(
            "CREATE TABLE IF NOT EXISTS table_csv(topic STRING, `partition` BIGINT, `offset` BIGINT, id BIGINT, name STRING, region STRING) PARTITIONED BY (pt STRING);",
        );
        let config = emu.config("table_csv", &[("MC_FORMAT", "CSV"), ("MC_MODE", "VALUE")]);
        let sink = emu.sink(&config).await;
        let before = Utc::now();
        handler(&sink, event(&format!("{form}-csv"))).await.unwrap();
        let after = Utc::now();
        let rows = emu.rows("table_csv");
        let expected = vec![
            vec![
                s("csv_test"),
                int(0),
                int(0),
                int(1103),
                s("zhangsan"),
                s("china"),
            ],
            vec![
                s("csv_test"),
                int(0),
                int(1),
                int(1104),
                s("lisi"),
                s("usa"),
            ],
        ];
        assert_eq!(
            rows.iter().map(|(_, r)| r.clone()).collect::<Vec<_>>(),
            expected,
            "{form}"
        );
        for (pt, _) in &rows {
            assert_processing_pt(pt, before, after);
        }
    }
}

#[tokio::test]
async fn json_value_mode() {
    for form in FORMS {
        let emu = Emulator::start().await;
        emu.create_table(
            "CREATE TABLE IF NOT EXISTS table_json(topic STRING, `partition` BIGINT, `offset` BIGINT, key STRING, value JSON) PARTITIONED BY (pt STRING);",
        );
        let config = emu.config("table_json", &[("MC_FORMAT", "JSON"), ("MC_MODE", "VALUE")]);
        let sink = emu.sink(&config).await;
        let before = Utc::now();
        handler(&sink, event(&format!("{form}-json")))
            .await
            .unwrap();
        let after = Utc::now();
        let rows = emu.rows("table_json");
        assert_eq!(rows.len(), 2, "{form}");
        let values = [
            r#"{"id":123,"name":"json-1","region":"beijing"}"#,
            r#"{"id":456,"name":"json-2","region":"hangzhou"}"#,
        ];
        for (i, (pt, row)) in rows.iter().enumerate() {
            assert_eq!(
                &row[..4],
                &[s("Topic_json"), int(0), int(i as i64), Value::Null]
            );
            assert!(matches!(row[4], Value::Json(_)), "{:?}", row[4]);
            assert_eq!(
                json_of(&row[4]),
                serde_json::from_str::<serde_json::Value>(values[i]).unwrap()
            );
            assert_processing_pt(pt, before, after);
        }
    }
}

const FLATTEN_DDL: &str = "CREATE TABLE IF NOT EXISTS table_flatten(topic STRING, `partition` BIGINT, `offset` BIGINT, id BIGINT, name STRING, extendinfo JSON) PARTITIONED BY (pt STRING);";

#[tokio::test]
async fn flatten_value_mode() {
    for form in FORMS {
        let emu = Emulator::start().await;
        emu.create_table(FLATTEN_DDL);
        let config = emu.config(
            "table_flatten",
            &[("MC_FORMAT", "FLATTEN"), ("MC_MODE", "VALUE")],
        );
        let sink = emu.sink(&config).await;
        let before = Utc::now();
        handler(&sink, event(&format!("{form}-flatten")))
            .await
            .unwrap();
        let after = Utc::now();
        let rows = emu.rows("table_flatten");
        let expected = [
            (123, "json-1", r#"{"sex":"M","region":"beijing"}"#),
            (456, "json-2", r#"{"sex":"W","region":"hangzhou"}"#),
        ];
        assert_eq!(rows.len(), 2, "{form}");
        for (i, ((pt, row), (id, name, info))) in rows.iter().zip(expected).enumerate() {
            assert_eq!(
                &row[..5],
                &[s("topic_flatten"), int(0), int(i as i64), int(id), s(name)]
            );
            assert_eq!(
                json_of(&row[5]),
                serde_json::from_str::<serde_json::Value>(info).unwrap()
            );
            assert_processing_pt(pt, before, after);
        }
    }
}

#[tokio::test]
async fn abnormal_data_is_skipped_with_skip_error() {
    for form in FORMS {
        let emu = Emulator::start().await;
        emu.create_table(FLATTEN_DDL);
        let config = emu.config(
            "table_flatten",
            &[
                ("MC_FORMAT", "FLATTEN"),
                ("MC_MODE", "VALUE"),
                ("MC_SKIP_ERROR", "true"),
            ],
        );
        let sink = emu.sink(&config).await;
        let summary = handler(&sink, event(&format!("{form}-abnormal")))
            .await
            .unwrap();
        assert_eq!(
            (summary.records_in, summary.rows_total(), summary.skipped),
            (3, 2, 1)
        );
        let rows = emu.rows("table_flatten");
        let ids: Vec<(Value, Value, Value)> = rows
            .iter()
            .map(|(_, r)| (r[2].clone(), r[3].clone(), r[4].clone()))
            .collect();
        assert_eq!(
            ids,
            vec![
                (int(2), int(100), s("json-3")),
                (int(4), int(102), s("json-5"))
            ],
            "{form}"
        );
        assert_eq!(
            json_of(&rows[1].1[5]),
            serde_json::json!({"gender":"M","region":"beijing"})
        );
    }
}

#[tokio::test]
async fn abnormal_data_fails_the_invocation_without_skip_error() {
    let emu = Emulator::start().await;
    emu.create_table(FLATTEN_DDL);
    let config = emu.config(
        "table_flatten",
        &[("MC_FORMAT", "FLATTEN"), ("MC_MODE", "VALUE")],
    );
    let sink = emu.sink(&config).await;
    let err = handler(&sink, event("msk-abnormal")).await.unwrap_err();
    match &err {
        InvocationError::RecordRejected { first, count, .. } => {
            assert_eq!(
                (first.topic.as_str(), first.partition, first.offset),
                ("flatten_test", 0, 3)
            );
            assert_eq!(*count, 1);
        }
        other => panic!("unexpected error {other}"),
    }
    assert!(err.to_string().starts_with(
        "cannot convert the record at topic \"flatten_test\" partition 0 offset 3: FLATTEN key \"extendinfos\" has no column of that name in the table"
    ), "{err}");
    assert!(
        emu.rows("table_flatten").is_empty(),
        "nothing may be written when the batch fails"
    );
}

#[tokio::test]
async fn record_time_partitions_match_the_seed_minute() {
    let emu = Emulator::start().await;
    emu.create_table(
        "CREATE TABLE t(topic STRING, `partition` BIGINT, `offset` BIGINT, value STRING) PARTITIONED BY (pt STRING);",
    );
    let config = emu.config(
        "t",
        &[("MC_MODE", "VALUE"), ("MC_PARTITION_TIME_SOURCE", "record")],
    );
    let sink = emu.sink(&config).await;
    handler(&sink, event("msk-text")).await.unwrap();
    let pts: Vec<String> = emu.rows("t").into_iter().map(|(pt, _)| pt).collect();
    assert_eq!(pts, vec!["07-13-2023 21:13", "07-13-2023 21:13"]);

    let emu = Emulator::start().await;
    emu.create_table(
        "CREATE TABLE t(topic STRING, `partition` BIGINT, `offset` BIGINT, value STRING) PARTITIONED BY (pt STRING);",
    );
    let config = emu.config(
        "t",
        &[
            ("MC_MODE", "VALUE"),
            ("MC_PARTITION_TIME_SOURCE", "record"),
            ("MC_USE_NEW_PARTITION_FORMAT", "true"),
            ("MC_PARTITION_WINDOW_TYPE", "HOUR"),
        ],
    );
    let sink = emu.sink(&config).await;
    handler(&sink, event("self-managed-text")).await.unwrap();
    let pts: Vec<String> = emu.rows("t").into_iter().map(|(pt, _)| pt).collect();
    assert_eq!(pts, vec!["2023-07-13 21", "2023-07-13 21"]);
}

/// The seed's own connector file, unchanged, with only the endpoint, project and AccessKey
/// overridden by environment variables to point at the emulator.
#[tokio::test]
async fn seed_connector_file_works_unchanged() {
    use maxcompute_emulator::config::{DEFAULT_ACCESS_ID, DEFAULT_ACCESS_KEY, DEFAULT_PROJECT};
    use maxcompute_kafka_sink::config::SinkConfig;

    let emu = Emulator::start().await;
    emu.create_table(
        "CREATE TABLE IF NOT EXISTS table_text(topic STRING, `partition` BIGINT, `offset` BIGINT, key STRING, value STRING) PARTITIONED BY (pt STRING);",
    );
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/odps-sink-connector-text.json");
    let config = SinkConfig::from_vars([
        ("MC_SINK_CONFIG_FILE", file.to_str().unwrap().to_string()),
        ("MC_ENDPOINT", emu.handle.api_endpoint()),
        ("MC_TUNNEL_ENDPOINT", emu.handle.tunnel_endpoint()),
        ("MC_PROJECT", DEFAULT_PROJECT.to_string()),
        ("MC_ACCESS_ID", DEFAULT_ACCESS_ID.to_string()),
        ("MC_ACCESS_KEY", DEFAULT_ACCESS_KEY.to_string()),
        ("TZ", ":UTC".to_string()),
    ])
    .unwrap();
    assert_eq!(config.target.schema.as_deref(), Some("default"));
    let sink = emu.sink(&config).await;
    let before = Utc::now();
    handler(&sink, event("self-managed-text")).await.unwrap();
    let after = Utc::now();
    let rows = emu.rows("table_text");
    let utc_minute = |t: DateTime<Utc>| t.format("%m-%d-%Y %H:%M").to_string();
    for (pt, _) in &rows {
        assert!([utc_minute(before), utc_minute(after)].contains(pt), "{pt}");
    }
    let values: Vec<Value> = rows.into_iter().map(|(_, r)| r[4].clone()).collect();
    assert_eq!(values, vec![s("abc"), s("edf")]);
}
