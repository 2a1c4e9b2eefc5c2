//! Every strict check of the emulator, reached with raw requests signed by the tunnel crate's
//! signer, answered with MaxCompute's error code and status.

mod strict_support;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use http::{HeaderMap, Method};
use maxcompute_tunnel::auth::Credentials;
use maxcompute_tunnel::{Column, Compression, TypeInfo, Value};
use strict_support::*;

const TABLE: &str = "/projects/emulator/tables/events";

#[tokio::test]
async fn requests_without_a_valid_signature_are_refused() {
    let env = env().await;
    let query = [("uploads", "1"), ("partition", "pt=a")];

    let unsigned = env
        .send_as(
            None,
            Utc::now(),
            Method::POST,
            TABLE,
            &query,
            HeaderMap::new(),
            vec![],
        )
        .await;
    unsigned.assert_error(401, "Unauthorized");

    let wrong_secret = Credentials::new(ID, "not-the-secret");
    let bad = env
        .send_as(
            Some(&wrong_secret),
            Utc::now(),
            Method::POST,
            TABLE,
            &query,
            HeaderMap::new(),
            vec![],
        )
        .await;
    bad.assert_error(403, "SignatureNotMatch");

    let unknown = Credentials::new("nobody", SECRET);
    env.send_as(
        Some(&unknown),
        Utc::now(),
        Method::POST,
        TABLE,
        &query,
        HeaderMap::new(),
        vec![],
    )
    .await
    .assert_error(401, "Unauthorized");

    // REST errors are XML.
    let rest = env
        .send_as(
            None,
            Utc::now(),
            Method::GET,
            "/api/projects/emulator/tables/events",
            &[],
            HeaderMap::new(),
            vec![],
        )
        .await;
    rest.assert_error(401, "Unauthorized");
    assert!(rest.text().starts_with("<?xml"), "{}", rest.text());

    // A signature over other query parameters does not verify: sign one query, send another.
    let mut headers = HeaderMap::new();
    maxcompute_tunnel::auth::sign_request(
        &env.creds,
        "POST",
        TABLE,
        &[
            ("uploads".into(), "1".into()),
            ("partition".into(), "pt=a".into()),
        ],
        &mut headers,
        Utc::now(),
    )
    .unwrap();
    let tampered = env
        .send_as(
            None,
            Utc::now(),
            Method::POST,
            TABLE,
            &[("uploads", "1"), ("partition", "pt=b")],
            headers,
            vec![],
        )
        .await;
    tampered.assert_error(403, "SignatureNotMatch");
}

#[tokio::test]
async fn dates_more_than_15_minutes_off_are_refused() {
    let env = env().await;
    let query = [
        ("uploads", "1"),
        ("partition", "pt=a"),
        ("create_partition", "true"),
    ];
    for minutes in [-16, 16] {
        let when = Utc::now() + chrono::Duration::minutes(minutes);
        let reply = env
            .send_as(
                Some(&env.creds),
                when,
                Method::POST,
                TABLE,
                &query,
                HeaderMap::new(),
                vec![],
            )
            .await;
        reply.assert_error(403, "RequestTimeTooSkewed");
        assert!(reply.json()["Message"]
            .as_str()
            .unwrap()
            .contains("max_interval_date:900000"));
    }
    let near = Utc::now() - chrono::Duration::minutes(14);
    let ok = env
        .send_as(
            Some(&env.creds),
            near,
            Method::POST,
            TABLE,
            &query,
            HeaderMap::new(),
            vec![],
        )
        .await;
    assert_eq!(ok.status, 201, "{}", ok.text());
}

#[tokio::test]
async fn unknown_project_table_and_partition() {
    let env = env().await;
    env.post("/projects/nope/tables/events", &[("uploads", "1")])
        .await
        .assert_error(404, "NoSuchProject");
    env.post("/projects/emulator/tables/nope", &[("uploads", "1")])
        .await
        .assert_error(404, "NoSuchTable");
    env.post(TABLE, &[("uploads", "1"), ("partition", "pt=missing")])
        .await
        .assert_error(404, "NoSuchPartition");
    env.get("/api/projects/emulator/tables/nope", &[])
        .await
        .assert_error(404, "NoSuchTable");
    env.get(
        "/api/projects/emulator/tables/events",
        &[("partition", "pt='missing'")],
    )
    .await
    .assert_error(404, "NoSuchPartition");
    // Streams check the same way.
    env.post(&format!("{TABLE}/streams"), &[("partition", "pt=missing")])
        .await
        .assert_error(404, "NoSuchPartition");
}

#[tokio::test]
async fn create_partition_creates_it_and_rest_then_sees_it() {
    let env = env().await;
    env.create_upload("fresh", true).await;
    let reply = env
        .get(
            "/api/projects/emulator/tables/events",
            &[("partition", "pt='fresh'")],
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(
        reply
            .text()
            .contains("<Column Name=\"pt\" Value=\"fresh\"/>"),
        "{}",
        reply.text()
    );
}

#[tokio::test]
async fn partition_specs_must_match_the_partition_columns() {
    let env = env().await;
    env.post(TABLE, &[("uploads", "1")])
        .await
        .assert_error(400, "MissingPartitionSpec");
    env.post(TABLE, &[("uploads", "1"), ("partition", "dt=x")])
        .await
        .assert_error(400, "InvalidPartitionSpec");
    env.post(
        TABLE,
        &[
            ("uploads", "1"),
            ("partition", "pt=a,dt=x"),
            ("create_partition", "true"),
        ],
    )
    .await
    .assert_error(400, "InvalidPartitionSpec");
    env.handle
        .catalog()
        .create_table_ddl(PROJECT, "CREATE TABLE flat (v STRING)")
        .unwrap();
    env.post(
        "/projects/emulator/tables/flat",
        &[("uploads", "1"), ("partition", "pt=a")],
    )
    .await
    .assert_error(400, "InvalidPartitionSpec");
}

#[tokio::test]
async fn block_ids_outside_0_to_20000_are_refused() {
    let env = env().await;
    let upload = env.create_upload("a", true).await;
    let body = encode(events_schema(&env), &[row("t", 1, None)]);
    for bad in ["20000", "-1", "x"] {
        env.put_block(&upload, "a", bad, body.clone())
            .await
            .assert_error(400, "InvalidBlockID");
    }
    let ok = env.put_block(&upload, "a", "19999", body).await;
    assert_eq!(ok.status, 200, "{}", ok.text());
}

#[tokio::test]
async fn committed_sessions_refuse_writes_and_a_second_commit() {
    let env = env().await;
    let upload = env.create_upload("a", true).await;
    let body = encode(events_schema(&env), &[row("t", 1, None)]);
    assert_eq!(
        env.put_block(&upload, "a", "0", body.clone()).await.status,
        200
    );
    let first = env.commit(&upload, "a").await;
    assert_eq!(first.status, 200, "{}", first.text());
    assert_eq!(first.json()["Status"], "CLOSED");
    env.put_block(&upload, "a", "1", body)
        .await
        .assert_error(409, "StatusConflict");
    env.commit(&upload, "a")
        .await
        .assert_error(409, "StatusConflict");
    assert_eq!(env.rows("a").len(), 1);
}

#[tokio::test]
async fn expired_sessions_refuse_writes_and_commit() {
    let env = env_with(|c| c.session_ttl = Duration::ZERO).await;
    let upload = env.create_upload("a", true).await;
    let body = encode(events_schema(&env), &[row("t", 1, None)]);
    env.put_block(&upload, "a", "0", body)
        .await
        .assert_error(409, "StatusConflict");
    let status = env
        .get(TABLE, &[("uploadid", &upload), ("partition", "pt=a")])
        .await;
    assert_eq!(status.json()["Status"], "EXPIRED");
    env.commit(&upload, "a")
        .await
        .assert_error(409, "StatusConflict");
}

/// The first index of `needle` in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("pattern present")
}

#[tokio::test]
async fn corrupt_streams_are_malformed_data_streams() {
    let env = env().await;
    let schema = events_schema(&env);
    let upload = env.create_upload("a", true).await;
    let good = encode(schema.clone(), &[row("orders", 42, Some("{\"a\":1}"))]);

    // A changed payload byte no longer matches the record CRC.
    let mut crc = good.clone();
    let at = find(&crc, b"orders");
    crc[at] = b'O';
    // The footer's record count says two records.
    let mut count = good.clone();
    let at = find(&count, &[0xf0, 0xff, 0xff, 0x7f]) + 4;
    count[at] = 0x04;
    // Field 7 does not exist in a six-column table.
    let mut wide = (*schema).clone();
    wide.columns.push(Column::new("extra", TypeInfo::Bigint));
    let mut extra_row = row("t", 1, None);
    extra_row.push(Value::Int(5));
    let unknown_field = encode(Arc::new(wide), &[extra_row]);
    // `offset` written as a string: wire type 2 where BIGINT needs 0.
    let mut as_text = (*schema).clone();
    as_text.columns[2].type_info = TypeInfo::String;
    let mut text_row = row("t", 0, None);
    text_row[2] = "42".into();
    let wrong_type = encode(Arc::new(as_text.clone()), &[text_row]);
    // Not JSON in the JSON column.
    as_text.columns[5].type_info = TypeInfo::String;
    let mut json_row = row("t", 0, None);
    json_row[2] = "1".into();
    json_row[5] = "{not json".into();
    let bad_json = encode(Arc::new(as_text), &[json_row]);
    // Truncated: the footer is cut off.
    let truncated = good[..good.len() - 3].to_vec();

    for (what, body) in [
        ("crc", crc),
        ("count", count),
        ("unknown field", unknown_field),
        ("wire type", wrong_type),
        ("json", bad_json),
        ("truncated", truncated),
        ("garbage deflate", b"not zlib".to_vec()),
    ] {
        let deflate = what == "garbage deflate";
        let reply = env
            .put(
                TABLE,
                &[
                    ("uploadid", &upload),
                    ("blockid", "0"),
                    ("partition", "pt=a"),
                ],
                body,
                deflate,
            )
            .await;
        assert_eq!(
            (reply.status, reply.code().as_str()),
            (400, "MalformedDataStream"),
            "{what}: {}",
            reply.text()
        );
    }
    // Nothing was stored by the refused blocks.
    let status = env
        .get(TABLE, &[("uploadid", &upload), ("partition", "pt=a")])
        .await;
    assert_eq!(status.json()["UploadedBlockList"], serde_json::json!([]));
    // The good stream, deflated, is accepted.
    let ok = env
        .put(
            TABLE,
            &[
                ("uploadid", &upload),
                ("blockid", "0"),
                ("partition", "pt=a"),
            ],
            Compression::Deflate.compress(&good),
            true,
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text());
}

#[tokio::test]
async fn values_over_max_field_size_are_refused() {
    let env = env().await;
    let schema = events_schema(&env);
    let upload = env.create_upload("a", true).await;
    let limit = maxcompute_emulator::config::DEFAULT_MAX_FIELD_SIZE;
    let mut at_limit = row("t", 0, None);
    at_limit[4] = Value::String("x".repeat(limit));
    let ok = env
        .put_block(&upload, "a", "0", encode(schema.clone(), &[at_limit]))
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    let mut over = row("t", 0, None);
    over[4] = Value::String("x".repeat(limit + 1));
    env.put_block(&upload, "a", "1", encode(schema, &[over]))
        .await
        .assert_error(400, "MalformedDataStream");
}

#[tokio::test]
async fn stream_writes_check_the_declared_record_count_and_echo_routing_headers() {
    let env = env().await;
    let streams = format!("{TABLE}/streams");
    let created = env
        .post(&streams, &[("partition", "pt=s"), ("create_partition", "")])
        .await;
    assert_eq!(created.status, 200, "{}", created.text());
    let session = created.json()["session_name"].as_str().unwrap().to_string();
    let slot = &created.json()["slots"][0];
    assert_eq!(slot[1], env.handle.addr().to_string());

    let body = encode(events_schema(&env), &[row("s", 1, None), row("s", 2, None)]);
    let q = |count: &'static str| {
        vec![
            ("uploadid", session.clone()),
            ("slotid", "0".to_string()),
            ("partition", "pt=s".into()),
            ("record_count", count.into()),
        ]
    };
    let wrong = q("3");
    let wrong: Vec<(&str, &str)> = wrong.iter().map(|(k, v)| (*k, v.as_str())).collect();
    env.put(&streams, &wrong, body.clone(), false)
        .await
        .assert_error(400, "MalformedDataStream");
    let right = q("2");
    let right: Vec<(&str, &str)> = right.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let ok = env.put(&streams, &right, body, false).await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(
        ok.headers["odps-tunnel-routed-server"],
        env.handle.addr().to_string().as_str()
    );
    assert_eq!(ok.headers["odps-tunnel-slot-num"], "1");
    // Visible at once, without a commit.
    let offsets: Vec<_> = env.rows("s").iter().map(|r| r[2].clone()).collect();
    assert_eq!(offsets, [Value::Int(1), Value::Int(2)]);

    env.put(
        &streams,
        &[
            ("uploadid", &session),
            ("slotid", "1"),
            ("partition", "pt=s"),
        ],
        vec![],
        false,
    )
    .await
    .assert_error(400, "InvalidArgument");
}

#[tokio::test]
async fn batch_upload_commit_and_download_round_trip() {
    let env = env().await;
    let schema = events_schema(&env);
    let upload = env.create_upload("p1", true).await;
    let block0 = encode(
        schema.clone(),
        &[row("a", 1, Some("{\"k\":[1,2]}")), row("a", 2, None)],
    );
    let block1 = encode(schema.clone(), &[row("b", 3, None)]);
    assert_eq!(env.put_block(&upload, "p1", "0", block0).await.status, 200);
    let deflated = env
        .put(
            TABLE,
            &[
                ("uploadid", &upload),
                ("blockid", "1"),
                ("partition", "pt=p1"),
            ],
            Compression::Deflate.compress(&block1),
            true,
        )
        .await;
    assert_eq!(deflated.status, 200, "{}", deflated.text());
    // Nothing is visible before commit.
    assert!(env.rows("p1").is_empty());
    let status = env
        .get(TABLE, &[("uploadid", &upload), ("partition", "pt=p1")])
        .await;
    let ids: Vec<_> = status.json()["UploadedBlockList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["BlockID"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, [0, 1]);
    let committed = env.commit(&upload, "p1").await;
    assert_eq!(committed.status, 200);
    let expected = vec![
        row("a", 1, Some("{\"k\":[1,2]}")),
        row("a", 2, None),
        row("b", 3, None),
    ];
    assert_eq!(env.rows("p1"), expected);

    // Read back through a download session, rows 1..3.
    let dl = env
        .post(TABLE, &[("downloads", ""), ("partition", "pt=p1")])
        .await;
    assert_eq!(dl.json()["RecordCount"], 3);
    let id = dl.json()["DownloadID"].as_str().unwrap().to_string();
    let data = env
        .get(
            TABLE,
            &[
                ("data", ""),
                ("downloadid", &id),
                ("partition", "pt=p1"),
                ("rowrange", "(1,2)"),
            ],
        )
        .await;
    assert_eq!(data.status, 200);
    let rows = maxcompute_tunnel::codec::decode_stream(&schema, &data.body).unwrap();
    assert_eq!(rows, expected[1..].to_vec());
    env.get(
        TABLE,
        &[("data", ""), ("downloadid", &id), ("rowrange", "(2,5)")],
    )
    .await
    .assert_error(400, "InvalidArgument");
}
