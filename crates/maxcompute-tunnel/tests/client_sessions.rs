//! Parsing of session JSON, table metadata XML and error bodies; block-list comparison and
//! stream routing decisions.

use http::{HeaderMap, HeaderValue, StatusCode};
use maxcompute_tunnel::batch::{compare_block_lists, SessionStatus, UploadSessionInfo};
use maxcompute_tunnel::client::parse_table_xml;
use maxcompute_tunnel::stream::{route_change, RouteChange, Slot, StreamSessionInfo};
use maxcompute_tunnel::{Error, ServiceError, TypeInfo};

const SESSION: &str = r#"{
  "UploadID": "20240101abcdef",
  "Status": "normal",
  "Owner": "ALIYUN$someone",
  "Initiated": "Mon, 01 Jan 2024 00:00:00 GMT",
  "IsOverwrite": false,
  "MaxFieldSize": 8388608,
  "QuotaName": "",
  "Schema": {
    "IsVirtualView": false,
    "columns": [
      {"name": "topic", "type": "string", "comment": "", "nullable": true, "column_id": "1"},
      {"name": "offset", "type": "BIGINT"},
      {"name": "amount", "type": "decimal(18,2)"}
    ],
    "partitionKeys": [{"name": "pt", "type": "string"}]
  },
  "UploadedBlockList": [
    {"BlockID": 2, "CreateTime": 1, "Date": "", "FileName": "f", "RecordCount": 10, "Version": 1},
    {"BlockID": 0, "CreateTime": 1, "Date": "", "FileName": "f", "RecordCount": 10, "Version": 1}
  ]
}"#;

#[test]
fn parses_upload_session_json() {
    let info = UploadSessionInfo::from_json("create", SESSION.as_bytes()).unwrap();
    assert_eq!(info.upload_id, "20240101abcdef");
    assert_eq!(info.status, SessionStatus::Normal);
    assert_eq!(info.max_field_size, Some(8_388_608));
    assert_eq!(info.uploaded_blocks, vec![0, 2]);
    let names: Vec<&str> = info
        .schema
        .columns
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(names, ["topic", "offset", "amount"]);
    assert_eq!(info.schema.columns[1].type_info, TypeInfo::Bigint);
    assert_eq!(info.schema.partition_keys[0].name, "pt");
}

#[test]
fn session_without_block_list_and_other_statuses() {
    let body =
        r#"{"UploadID":"U","Status":"CLOSED","Schema":{"columns":[{"name":"a","type":"int"}]}}"#;
    let info = UploadSessionInfo::from_json("commit", body.as_bytes()).unwrap();
    assert_eq!(info.status, SessionStatus::Closed);
    assert!(info.uploaded_blocks.is_empty());
    assert_eq!(info.max_field_size, None);
    assert_eq!(SessionStatus::parse("Expired"), SessionStatus::Expired);
    assert_eq!(
        SessionStatus::parse("weird"),
        SessionStatus::Other("weird".into())
    );
}

#[test]
fn bad_session_json_is_a_protocol_error_naming_the_operation() {
    for body in ["", "{}", r#"{"UploadID":"U","Status":"NORMAL"}"#, "<html>"] {
        let err =
            UploadSessionInfo::from_json("create upload session", body.as_bytes()).unwrap_err();
        assert!(matches!(err, Error::Protocol { .. }), "{body}: {err:?}");
        assert!(
            err.to_string().starts_with("create upload session"),
            "{err}"
        );
        assert!(!err.is_retryable());
    }
    let bad_type =
        r#"{"UploadID":"U","Status":"NORMAL","Schema":{"columns":[{"name":"a","type":"nope"}]}}"#;
    let err = UploadSessionInfo::from_json("create", bad_type.as_bytes()).unwrap_err();
    assert!(matches!(err, Error::Schema { .. }), "{err:?}");
}

#[test]
fn block_list_comparison() {
    assert_eq!(
        compare_block_lists(&[0, 1, 2], &[2, 1, 0]),
        (vec![], vec![])
    );
    assert_eq!(
        compare_block_lists(&[0, 1, 2], &[0, 2, 7]),
        (vec![1], vec![7])
    );
    assert_eq!(compare_block_lists(&[], &[3]), (vec![], vec![3]));
    let err = Error::BlockListMismatch {
        upload_id: "U1".into(),
        missing: vec![1],
        unexpected: vec![7],
    };
    assert_eq!(
        err.to_string(),
        "commit of upload session U1: block lists differ: missing on server [1], unexpected on server [7]"
    );
}

const STREAM: &str = r#"{
  "session_name": "S-1",
  "status": "normal",
  "slots": [[0, "10.0.0.1:80"], [1, "10.0.0.2:80"]],
  "schema": {"columns": [{"name": "v", "type": "string"}], "partitionKeys": []},
  "schema_version": 3,
  "quota_name": "",
  "compress_mode": "",
  "file_format": ""
}"#;

#[test]
fn parses_stream_session_json() {
    let info = StreamSessionInfo::from_json("create", STREAM.as_bytes()).unwrap();
    assert_eq!(info.session_name, "S-1");
    assert_eq!(
        info.slots,
        vec![
            Slot {
                id: "0".into(),
                server: "10.0.0.1:80".into()
            },
            Slot {
                id: "1".into(),
                server: "10.0.0.2:80".into()
            },
        ]
    );
    assert_eq!(info.schema_version, Some(3));
    assert_eq!(info.schema.columns[0].name, "v");
}

#[test]
fn stream_session_needs_usable_slots() {
    let no_slots = STREAM.replace(r#"[[0, "10.0.0.1:80"], [1, "10.0.0.2:80"]]"#, "[]");
    let err = StreamSessionInfo::from_json("create", no_slots.as_bytes()).unwrap_err();
    assert!(err.to_string().contains("no slots"), "{err}");
    let bad_server = STREAM.replace("10.0.0.2:80", "10.0.0.2");
    let err = StreamSessionInfo::from_json("create", bad_server.as_bytes()).unwrap_err();
    assert!(err.to_string().contains("not ip:port"), "{err}");
}

fn route_headers(count: &str, server: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        "odps-tunnel-slot-num",
        HeaderValue::from_str(count).unwrap(),
    );
    h.insert(
        "odps-tunnel-routed-server",
        HeaderValue::from_str(server).unwrap(),
    );
    h
}

#[test]
fn routing_headers_decide_between_nothing_move_and_reload() {
    let slot = Slot {
        id: "1".into(),
        server: "10.0.0.2:80".into(),
    };
    assert_eq!(
        route_change(&route_headers("2", "10.0.0.2:80"), &slot, 2),
        RouteChange::None
    );
    assert_eq!(
        route_change(&route_headers("2", "10.0.0.9:80"), &slot, 2),
        RouteChange::Moved("10.0.0.9:80".into())
    );
    assert_eq!(
        route_change(&route_headers("3", "10.0.0.2:80"), &slot, 2),
        RouteChange::Reload
    );
    assert_eq!(
        route_change(&route_headers("x", "10.0.0.2:80"), &slot, 2),
        RouteChange::Reload
    );
    assert_eq!(
        route_change(&HeaderMap::new(), &slot, 2),
        RouteChange::Reload
    );
}

#[test]
fn parses_table_metadata_xml() {
    let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<Table>
  <Name>events</Name>
  <TableId>abc</TableId>
  <Project>proj</Project>
  <Type>MANAGED_TABLE</Type>
  <Owner>ALIYUN$x</Owner>
  <Comment/>
  <CreationTime>Mon, 01 Jan 2024 00:00:00 GMT</CreationTime>
  <Schema><![CDATA[{"columns":[{"name":"k","type":"string","comment":"","isNullable":true,"label":""},{"name":"m","type":"map<string,bigint>"}],"partitionKeys":[{"name":"pt","type":"string"}],"lifecycle":-1,"Reserved":"{\"Transactional\":\"false\"}"}]]></Schema>
</Table>"#;
    let schema = parse_table_xml("read schema", xml.as_bytes()).unwrap();
    assert_eq!(schema.columns.len(), 2);
    assert_eq!(
        schema.columns[1].type_info.to_string(),
        "map<string,bigint>"
    );
    assert_eq!(schema.partition_keys[0].name, "pt");

    let err = parse_table_xml("read schema", b"<Table><Name>t</Name></Table>").unwrap_err();
    assert!(err.to_string().contains("no <Schema>"), "{err}");
    let err =
        parse_table_xml("read schema", b"<Table><Schema>not json</Schema></Table>").unwrap_err();
    assert!(err.to_string().contains("not JSON"), "{err}");
}

#[test]
fn error_bodies_in_both_formats() {
    let mut headers = HeaderMap::new();
    headers.insert("x-odps-request-id", HeaderValue::from_static("HDR-ID"));
    let xml = ServiceError::from_response(
        StatusCode::NOT_FOUND,
        &headers,
        b"<?xml version=\"1.0\"?><Error><Code>NoSuchTable</Code><Message>no table</Message><RequestId>XML-ID</RequestId><HostId>h</HostId></Error>",
    );
    assert_eq!(xml.code.as_deref(), Some("NoSuchTable"));
    assert_eq!(xml.request_id.as_deref(), Some("XML-ID"));
    let json = ServiceError::from_response(
        StatusCode::TOO_MANY_REQUESTS,
        &headers,
        br#"{"Code":"FlowExceeded","Message":"slow down"}"#,
    );
    assert_eq!(json.code.as_deref(), Some("FlowExceeded"));
    assert_eq!(json.message, "slow down");
    assert_eq!(json.request_id.as_deref(), Some("HDR-ID"));
    let err = Error::Service {
        operation: "create upload session".into(),
        error: json,
    };
    assert_eq!(err.code(), Some("FlowExceeded"));
    assert_eq!(err.request_id(), Some("HDR-ID"));
    assert_eq!(err.status(), Some(StatusCode::TOO_MANY_REQUESTS));
    assert!(err.is_retryable());
}
