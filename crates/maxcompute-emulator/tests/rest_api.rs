//! The REST calls pyodps makes (table and partition metadata, tunnel endpoint discovery, and
//! those it makes on its own), with raw signed requests.

mod strict_support;

use http::{HeaderMap, HeaderValue, Method};
use strict_support::*;

#[tokio::test]
async fn table_xml_carries_the_schema_json_and_extended_reserved() {
    let env = env().await;
    for path in [
        "/api/projects/emulator/tables/events",
        "/api/projects/emulator/schemas/default/tables/events",
    ] {
        let reply = env
            .get(path, &[("extended", ""), ("curr_project", "emulator")])
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        let text = reply.text();
        assert!(text.contains("<Name>events</Name>"), "{text}");
        let start = text.find("<![CDATA[").unwrap() + 9;
        let end = text.find("]]>").unwrap();
        let schema: serde_json::Value = serde_json::from_str(&text[start..end]).unwrap();
        let names: Vec<_> = schema["columns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            ["topic", "partition", "offset", "key", "value", "payload"]
        );
        assert_eq!(schema["columns"][5]["type"], "json");
        assert_eq!(schema["partitionKeys"][0]["name"], "pt");
        let reserved: serde_json::Value =
            serde_json::from_str(schema["Reserved"].as_str().unwrap()).unwrap();
        assert_eq!(reserved["Transactional"], "false");
    }
}

#[tokio::test]
async fn partitions_listing_tunnel_discovery_and_unemulated_calls() {
    let env = env().await;
    env.create_upload("a", true).await;
    env.create_upload("b", true).await;
    let list = env
        .get(
            "/api/projects/emulator/tables/events",
            &[("partitions", ""), ("expectmarker", "true")],
        )
        .await;
    let text = list.text();
    assert!(
        text.contains("<Column Name=\"pt\" Value=\"a\"/>") && text.contains("Value=\"b\""),
        "{text}"
    );
    assert!(text.contains("<Marker></Marker>"), "{text}");

    let service = env
        .get("/api/projects/emulator/tunnel", &[("service", "")])
        .await;
    assert_eq!(service.text(), env.handle.addr().to_string());

    env.get("/api/tenants", &[])
        .await
        .assert_error(404, "NoSuchObject");
    let unknown = env.get("/api/projects/emulator/resources", &[]).await;
    unknown.assert_error(404, "NoSuchObject");
    assert!(
        unknown.text().contains("not emulated"),
        "{}",
        unknown.text()
    );
}

fn instance_xml(sql: &str) -> Vec<u8> {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<Instance><Job><Priority>9</Priority><Tasks><SQL>\
         <Name>SQLAddPartitionTask</Name><Config><Property><Name>uuid</Name><Value>x</Value></Property></Config>\
         <Query><![CDATA[{sql}]]></Query></SQL></Tasks><DAG><RunMode>Sequence</RunMode></DAG></Job></Instance>"
    )
    .into_bytes()
}

#[tokio::test]
async fn sql_instances_add_partitions_as_pyodps_does() {
    let env = env().await;
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/xml"));
    let created = env
        .send(
            Method::POST,
            "/api/projects/emulator/instances",
            &[("curr_project", "emulator")],
            headers.clone(),
            instance_xml(
                "ALTER TABLE emulator.`events` ADD IF NOT EXISTS  PARTITION (pt='brandnew');",
            ),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text());
    let location = created.headers["location"].to_str().unwrap().to_string();
    let path = location.split_once("/api").unwrap().1.to_string();
    let path = format!("/api{path}");
    let status = env.get(&path, &[]).await;
    assert!(
        status.text().contains("<Status>Terminated</Status>"),
        "{}",
        status.text()
    );
    let tasks = env.get(&path, &[("taskstatus", "")]).await;
    assert!(
        tasks.text().contains("<Status>Success</Status>"),
        "{}",
        tasks.text()
    );
    let part = env
        .get(
            "/api/projects/emulator/tables/events",
            &[("partition", "pt='brandnew'")],
        )
        .await;
    assert_eq!(part.status, 200, "{}", part.text());

    // Other SQL is refused rather than faked.
    env.send(
        Method::POST,
        "/api/projects/emulator/instances",
        &[],
        headers,
        instance_xml("SELECT * FROM events;"),
    )
    .await
    .assert_error(400, "InvalidArgument");
}
