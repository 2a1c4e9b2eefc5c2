//! The `maxcompute_tunnel` client's stream sessions against the in-process emulator over HTTP:
//! create with slots, packs written round-robin over the slots (plain and deflate), rows visible
//! after each write, reload, partitions created or refused.

mod client_support;

use client_support::{encode, event_rows, service_error, Env, EVENTS_DDL, FLAT_DDL};
use http::StatusCode;
use maxcompute_tunnel::{Column, Compression, Slot, StreamOptions, TableSchema, TypeInfo, Value};

fn events_schema(partitioned: bool) -> TableSchema {
    TableSchema::new(
        vec![
            Column::new("topic", TypeInfo::String),
            Column::new("offset", TypeInfo::Bigint),
        ],
        if partitioned {
            vec![Column::new("pt", TypeInfo::String)]
        } else {
            vec![]
        },
    )
}

#[tokio::test]
async fn packs_over_three_slots_are_visible_after_each_write() {
    let env = Env::start(&[EVENTS_DDL]).await;
    let client = env.client();
    let options = StreamOptions {
        partition: Some("pt=s".parse().unwrap()),
        create_partition: true,
        slot_num: Some(3),
    };
    let session = client
        .create_stream_session("events", &options, None)
        .await
        .unwrap();
    assert!(env.partition_exists("events", "pt=s"));
    let info = session.info();
    assert!(!info.session_name.is_empty());
    assert_eq!(info.status, "normal");
    assert_eq!(info.schema_version, Some(0));
    assert_eq!(*info.schema, events_schema(true));
    let server = env.handle.addr().to_string();
    assert_eq!(
        info.slots,
        (0..3)
            .map(|i| Slot {
                id: i.to_string(),
                server: server.clone()
            })
            .collect::<Vec<_>>()
    );

    // Seven packs, which the client sends round-robin over the three slots from a random start.
    // The emulator does not record which slot took a pack, but it refuses a slot id that is not
    // one of the session's, so each success shows a valid slot was used. Every pack is visible
    // as soon as write_pack returns.
    let schema = session.schema();
    let mut expected: Vec<Vec<Value>> = Vec::new();
    for i in 0..7i64 {
        let rows = event_rows(&format!("pack{i}"), i * 10..i * 10 + 3);
        let compression = if i % 2 == 0 {
            Compression::Deflate
        } else {
            Compression::None
        };
        session
            .write_pack(encode(&schema, &rows), compression, Some(3), None)
            .await
            .unwrap();
        expected.extend(rows);
        assert_eq!(env.rows("events", Some("pt=s")), expected, "after pack {i}");
    }

    // Reload reads the same session back.
    session.reload(None).await.unwrap();
    assert_eq!(session.info(), info);

    // A pack whose declared record count is wrong is refused with the typed error, not retried,
    // and nothing lands.
    let err = session
        .write_pack(
            encode(&schema, &event_rows("bad", 0..2)),
            Compression::None,
            Some(5),
            None,
        )
        .await
        .unwrap_err();
    let service = service_error(&err);
    assert_eq!(service.status, StatusCode::BAD_REQUEST);
    assert_eq!(service.code.as_deref(), Some("MalformedDataStream"));
    assert!(service.request_id.is_some());
    assert_eq!(env.rows("events", Some("pt=s")), expected);

    // Writes after a reload keep landing.
    let rows = event_rows("after-reload", 0..2);
    session
        .write_pack(encode(&schema, &rows), Compression::Deflate, None, None)
        .await
        .unwrap();
    expected.extend(rows);
    assert_eq!(env.rows("events", Some("pt=s")), expected);
}

#[tokio::test]
async fn concurrent_packs_on_an_unpartitioned_table_all_land_once() {
    let env = Env::start(&[FLAT_DDL]).await;
    let client = env.client();
    let session = client
        .create_stream_session(
            "flat",
            &StreamOptions {
                slot_num: Some(2),
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(session.info().slots.len(), 2);
    assert_eq!(*session.schema(), events_schema(false));
    let schema = session.schema();
    let packs: Vec<Vec<Vec<Value>>> = (0..4i64)
        .map(|i| event_rows(&format!("c{i}"), i * 100..i * 100 + 5))
        .collect();
    let writes = packs
        .iter()
        .map(|rows| session.write_pack(encode(&schema, rows), Compression::Deflate, Some(5), None));
    for result in futures_join_all(writes).await {
        result.unwrap();
    }
    let mut got = env.rows("flat", None);
    let mut expected: Vec<Vec<Value>> = packs.into_iter().flatten().collect();
    let key = |r: &Vec<Value>| match &r[1] {
        Value::Int(o) => *o,
        other => panic!("offset {other:?}"),
    };
    got.sort_by_key(key);
    expected.sort_by_key(key);
    assert_eq!(got, expected);
}

/// Polls the futures together on this task (no extra dependency for `join_all`).
async fn futures_join_all<F: std::future::Future>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output> {
    let mut set = Vec::new();
    for f in futures {
        set.push(Box::pin(f));
    }
    let mut out: Vec<Option<F::Output>> = set.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, slot) in set.iter_mut().zip(out.iter_mut()) {
            if slot.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *slot = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().map(Option::unwrap).collect()
}

#[tokio::test]
async fn stream_to_a_missing_partition_needs_create_partition() {
    let env = Env::start(&[EVENTS_DDL]).await;
    let client = env.client();
    let options = StreamOptions {
        partition: Some("pt=missing".parse().unwrap()),
        create_partition: false,
        slot_num: Some(1),
    };
    let err = client
        .create_stream_session("events", &options, None)
        .await
        .unwrap_err();
    let service = service_error(&err);
    assert_eq!(service.status, StatusCode::NOT_FOUND);
    assert_eq!(service.code.as_deref(), Some("NoSuchPartition"));
    assert!(service.request_id.is_some());
    assert!(!err.is_retryable());
    assert!(!env.partition_exists("events", "pt=missing"));
}
