//! The `maxcompute_tunnel` client's batch upload against the in-process emulator over HTTP:
//! schema load, tunnel endpoint discovery, sessions with and without `create_partition`,
//! plain and deflate blocks, re-upload, status, commit, overwrite, three-level paths; every
//! row read back from the emulator's catalog.

mod client_support;

use std::sync::Arc;

use client_support::{
    encode, event_rows, service_error, upload_and_commit, Env, EVENTS_DDL, FLAT_DDL, PROJECT,
};
use http::StatusCode;
use maxcompute_tunnel::{
    Column, Compression, Endpoint, Error, PartitionSpec, SessionStatus, TableSchema, TypeInfo,
    UploadOptions, Value,
};

const ALL_TYPES_DDL: &str = "CREATE TABLE all_types (
    c_bigint BIGINT, c_int INT, c_smallint SMALLINT, c_tinyint TINYINT,
    c_double DOUBLE, c_float FLOAT, c_boolean BOOLEAN,
    c_string STRING, c_varchar VARCHAR(10), c_char CHAR(5), c_binary BINARY,
    c_datetime DATETIME, c_date DATE, c_timestamp TIMESTAMP, c_timestamp_ntz TIMESTAMP_NTZ,
    c_decimal DECIMAL(10,2), c_json JSON
) PARTITIONED BY (pt STRING);";

fn all_types_schema() -> TableSchema {
    let columns = [
        ("c_bigint", TypeInfo::Bigint),
        ("c_int", TypeInfo::Int),
        ("c_smallint", TypeInfo::Smallint),
        ("c_tinyint", TypeInfo::Tinyint),
        ("c_double", TypeInfo::Double),
        ("c_float", TypeInfo::Float),
        ("c_boolean", TypeInfo::Boolean),
        ("c_string", TypeInfo::String),
        ("c_varchar", TypeInfo::Varchar(10)),
        ("c_char", TypeInfo::Char(5)),
        ("c_binary", TypeInfo::Binary),
        ("c_datetime", TypeInfo::Datetime),
        ("c_date", TypeInfo::Date),
        ("c_timestamp", TypeInfo::Timestamp),
        ("c_timestamp_ntz", TypeInfo::TimestampNtz),
        (
            "c_decimal",
            TypeInfo::Decimal {
                precision: 10,
                scale: 2,
            },
        ),
        ("c_json", TypeInfo::Json),
    ];
    TableSchema::new(
        columns
            .into_iter()
            .map(|(name, ty)| Column::new(name, ty))
            .collect(),
        vec![Column::new("pt", TypeInfo::String)],
    )
}

/// Row `i` of a varied set: extremes, unicode, and (for odd `i`) NULL in every other column.
fn all_types_row(i: i64) -> Vec<Value> {
    let nulls = i % 2 == 1;
    let maybe = |v: Value, col: usize| {
        if nulls && col % 2 == 1 {
            Value::Null
        } else {
            v
        }
    };
    let row = vec![
        if i == 0 {
            Value::Int(i64::MAX)
        } else {
            Value::Int(i64::MIN + i)
        },
        Value::Int(i32::MIN as i64 + i),
        Value::Int(i16::MAX as i64 - i),
        Value::Int(i8::MIN as i64 + i),
        Value::Double(-1.5e300 + i as f64),
        Value::Float(3.25 * i as f32),
        Value::Boolean(i % 3 == 0),
        Value::String(format!("s-{i} ünïcødé ✓")),
        Value::String(format!("v{i}")),
        Value::String(format!("c{i}")),
        Value::Binary(vec![0, 0xff, i as u8, 0x80]),
        Value::Datetime(1_700_000_000_123 + i),
        Value::Date(19_000 + i),
        Value::Timestamp {
            seconds: 1_700_000_000 + i,
            nanos: 123_456_789,
        },
        Value::Timestamp {
            seconds: -86_400 * 365 + i,
            nanos: 1,
        },
        Value::Decimal(format!("-{}.91", 12_345_678 + i)),
        Value::Json(format!(r#"{{"i":{i},"a":[true,null,"x"]}}"#)),
    ];
    row.into_iter()
        .enumerate()
        .map(|(col, v)| maybe(v, col))
        .collect()
}

fn all_null_row() -> Vec<Value> {
    vec![Value::Null; 17]
}

#[tokio::test]
async fn every_primitive_type_round_trips_through_blocks_with_discovery() {
    let env = Env::start(&[ALL_TYPES_DDL]).await;
    let client = env.client();

    // Schema over REST.
    let schema = client.table_schema("all_types", None).await.unwrap();
    assert_eq!(schema, all_types_schema());

    // No tunnel endpoint configured: discovered through /api/projects/<p>/tunnel?service.
    let tunnel = client.tunnel_endpoint(None).await.unwrap();
    assert_eq!(
        tunnel,
        Endpoint::parse(&env.handle.tunnel_endpoint()).unwrap()
    );

    let pt: PartitionSpec = "pt=a".parse().unwrap();
    assert!(!env.partition_exists("all_types", "pt=a"));
    let options = UploadOptions {
        partition: Some(pt.clone()),
        create_partition: true,
        overwrite: false,
    };
    let mut session = client
        .create_upload_session("all_types", &options, None)
        .await
        .unwrap();
    assert_eq!(**session.schema(), all_types_schema());
    assert_eq!(session.info().status, SessionStatus::Normal);
    assert_eq!(session.info().uploaded_blocks, Vec::<u32>::new());
    assert_eq!(session.info().max_field_size, Some(8 * 1024 * 1024));
    assert!(env.partition_exists("all_types", "pt=a"));

    let schema = Arc::clone(session.schema());
    let block0: Vec<Vec<Value>> = (0..4).map(all_types_row).collect();
    let block1: Vec<Vec<Value>> = (4..7).map(all_types_row).chain([all_null_row()]).collect();
    let block2_first: Vec<Vec<Value>> = (100..103).map(all_types_row).collect();
    let block2: Vec<Vec<Value>> = (7..9).map(all_types_row).collect();

    session
        .upload_block(0, encode(&schema, &block0), Compression::None, None)
        .await
        .unwrap();
    session
        .upload_block(1, encode(&schema, &block1), Compression::Deflate, None)
        .await
        .unwrap();
    session
        .upload_block(2, encode(&schema, &block2_first), Compression::None, None)
        .await
        .unwrap();
    // Re-uploading an id replaces the block.
    session
        .upload_block(2, encode(&schema, &block2), Compression::Deflate, None)
        .await
        .unwrap();

    let info = session.reload(None).await.unwrap();
    assert_eq!(info.status, SessionStatus::Normal);
    assert_eq!(info.uploaded_blocks, vec![0, 1, 2]);
    assert_eq!(
        env.rows("all_types", Some("pt=a")),
        Vec::<Vec<Value>>::new(),
        "nothing is visible before the commit"
    );

    let committed = session.commit(&[0, 1, 2], None).await.unwrap();
    assert_eq!(committed.status, SessionStatus::Closed);
    assert_eq!(committed.uploaded_blocks, vec![0, 1, 2]);

    let expected: Vec<Vec<Value>> = block0.into_iter().chain(block1).chain(block2).collect();
    assert_eq!(env.rows("all_types", Some("pt=a")), expected);

    // A second commit of the same session is refused with the typed error, not retried.
    let err = session.commit(&[0, 1, 2], None).await.unwrap_err();
    let service = service_error(&err);
    assert_eq!(service.status, StatusCode::CONFLICT);
    assert_eq!(service.code.as_deref(), Some("StatusConflict"));
    assert!(service.request_id.is_some());
    assert_eq!(env.rows("all_types", Some("pt=a")).len(), expected.len());
}

#[tokio::test]
async fn missing_partition_needs_create_partition() {
    let env = Env::start(&[EVENTS_DDL]).await;
    let client = env.client();
    let options = UploadOptions {
        partition: Some("pt=missing".parse().unwrap()),
        create_partition: false,
        overwrite: false,
    };
    let err = client
        .create_upload_session("events", &options, None)
        .await
        .unwrap_err();
    let Error::Service { operation, error } = &err else {
        panic!("expected a service error, got {err:?}");
    };
    assert_eq!(operation, "create upload session for table events");
    assert_eq!(error.status, StatusCode::NOT_FOUND);
    assert_eq!(error.code.as_deref(), Some("NoSuchPartition"));
    assert!(!error.message.is_empty());
    assert!(error.request_id.as_deref().is_some_and(|id| !id.is_empty()));
    assert!(!err.is_retryable());
    assert!(!env.partition_exists("events", "pt=missing"));

    // An existing partition needs no create_partition.
    let catalog = env.handle.catalog();
    let spec = catalog
        .resolve_partition(PROJECT, "events", Some("pt=existing"))
        .unwrap();
    assert!(catalog.create_partition(PROJECT, "events", &spec).unwrap());
    let options = UploadOptions {
        partition: Some("pt=existing".parse().unwrap()),
        ..Default::default()
    };
    let rows = event_rows("t", 0..3);
    upload_and_commit(&client, "events", &options, &rows).await;
    assert_eq!(env.rows("events", Some("pt=existing")), rows);
}

#[tokio::test]
async fn commit_refuses_a_block_list_that_differs_and_commits_nothing() {
    let env = Env::start(&[FLAT_DDL]).await;
    let client = env.client();
    let mut session = client
        .create_upload_session("flat", &UploadOptions::default(), None)
        .await
        .unwrap();
    let schema = Arc::clone(session.schema());
    session
        .upload_block(
            0,
            encode(&schema, &event_rows("t", 0..2)),
            Compression::None,
            None,
        )
        .await
        .unwrap();
    session
        .upload_block(
            5,
            encode(&schema, &event_rows("t", 2..4)),
            Compression::None,
            None,
        )
        .await
        .unwrap();
    let err = session.commit(&[0, 1], None).await.unwrap_err();
    match err {
        Error::BlockListMismatch {
            upload_id,
            missing,
            unexpected,
        } => {
            assert_eq!(upload_id, session.upload_id());
            assert_eq!(missing, vec![1]);
            assert_eq!(unexpected, vec![5]);
        }
        other => panic!("expected BlockListMismatch, got {other:?}"),
    }
    assert_eq!(env.rows("flat", None), Vec::<Vec<Value>>::new());
    assert_eq!(
        session.reload(None).await.unwrap().status,
        SessionStatus::Normal
    );

    // Block id 20000 is refused by the client before anything is sent.
    let err = session
        .upload_block(20_000, encode(&schema, &[]), Compression::None, None)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidBlockId {
                block_id: 20_000,
                limit: 20_000
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_block_over_the_callers_cap_is_refused_before_it_is_sent() {
    let env = Env::start(&[FLAT_DDL]).await;
    let session = env
        .client()
        .create_upload_session("flat", &UploadOptions::default(), None)
        .await
        .unwrap();
    let schema = Arc::clone(session.schema());
    let small = encode(&schema, &event_rows("t", 0..1));
    let large = encode(&schema, &event_rows("t", 0..50));
    let cap = small.len();
    let mut session = session.with_max_block_bytes(cap);

    let err = session
        .upload_block(0, large.clone(), Compression::Deflate, None)
        .await
        .unwrap_err();
    match err {
        Error::BlockTooLarge { block_id, len, max } => {
            assert_eq!((block_id, len, max), (0, large.len(), cap));
        }
        other => panic!("expected BlockTooLarge, got {other:?}"),
    }
    assert!(
        session
            .reload(None)
            .await
            .unwrap()
            .uploaded_blocks
            .is_empty(),
        "nothing reached the server"
    );

    // A block exactly at the cap goes through.
    session
        .upload_block(0, small, Compression::Deflate, None)
        .await
        .unwrap();
    session.commit(&[0], None).await.unwrap();
    assert_eq!(env.rows("flat", None), event_rows("t", 0..1));
}

#[tokio::test]
async fn overwrite_replaces_earlier_data() {
    let env = Env::start(&[EVENTS_DDL, FLAT_DDL]).await;
    let client = env.client();
    for (table, partition) in [("events", Some("pt=o")), ("flat", None)] {
        let spec: Option<PartitionSpec> = partition.map(|p| p.parse().unwrap());
        for (round, overwrite) in [(0, false), (1, false), (2, true), (3, false)] {
            let options = UploadOptions {
                partition: spec.clone(),
                create_partition: true,
                overwrite,
            };
            let rows = event_rows(&format!("round{round}"), 0..2);
            upload_and_commit(&client, table, &options, &rows).await;
        }
        let expected: Vec<Vec<Value>> = event_rows("round2", 0..2)
            .into_iter()
            .chain(event_rows("round3", 0..2))
            .collect();
        assert_eq!(env.rows(table, partition), expected, "{table}");
    }
}

#[tokio::test]
async fn three_level_schema_paths_address_the_same_table() {
    let env = Env::start(&[EVENTS_DDL]).await;
    // The three-level resource path itself is checked by the tunnel crate's unit tests.
    let client = maxcompute_tunnel::TunnelClient::new(env.config().with_schema("default")).unwrap();
    let schema = client.table_schema("events", None).await.unwrap();
    assert_eq!(
        schema,
        TableSchema::new(
            vec![
                Column::new("topic", TypeInfo::String),
                Column::new("offset", TypeInfo::Bigint)
            ],
            vec![Column::new("pt", TypeInfo::String)],
        )
    );
    let options = UploadOptions {
        partition: Some("pt=s".parse().unwrap()),
        create_partition: true,
        overwrite: false,
    };
    let rows = event_rows("three-level", 0..5);
    upload_and_commit(&client, "events", &options, &rows).await;
    assert_eq!(env.rows("events", Some("pt=s")), rows);

    // Unknown tables are the typed 404 on both services.
    let err = client.table_schema("nope", None).await.unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::NOT_FOUND));
    assert_eq!(err.code(), Some("NoSuchTable"));
    let err = client
        .create_upload_session("nope", &UploadOptions::default(), None)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::NOT_FOUND));
    assert_eq!(err.code(), Some("NoSuchTable"));
}
