//! Request construction without a server: method, URL (path, schema paths, query encoding),
//! common headers, and a signature that verifies when recomputed the way a server does.

use std::sync::Arc;

use bytes::Bytes;
use chrono::{TimeZone, Utc};
use http::Method;
use maxcompute_tunnel::auth::{canonical_string, signature_v2, STS_TOKEN_HEADER};
use maxcompute_tunnel::batch::{self, UploadOptions, BLOCK_ID_LIMIT};
use maxcompute_tunnel::client::PreparedRequest;
use maxcompute_tunnel::stream::{self, PackTarget, Slot, StreamOptions};
use maxcompute_tunnel::{
    ClientConfig, Compression, Credentials, Endpoint, Error, PartitionSpec,
    StaticCredentialProvider, TunnelClient,
};

const API: &str = "http://127.0.0.1:8080/api";
const TUNNEL: &str = "http://127.0.0.1:8080";

fn client_with(config: impl FnOnce(ClientConfig) -> ClientConfig) -> TunnelClient {
    let provider = Arc::new(StaticCredentialProvider::new(creds()));
    let base = ClientConfig::new(API, "proj", provider)
        .with_tunnel_endpoint(TUNNEL)
        .with_user_agent("test-agent");
    TunnelClient::new(config(base)).unwrap()
}

fn creds() -> Credentials {
    Credentials::new("test-id", "test-secret")
}

fn jan_first() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap()
}

/// Verifies the signature as a server would: from the URL on the wire, strip the endpoint's
/// prefix, URL-decode path and query, rebuild the canonical string and compare signatures.
fn assert_signature_verifies(prepared: &PreparedRequest, prefix: &str, secret: &str) {
    let url = reqwest::Url::parse(&prepared.url).unwrap();
    let path = percent_encoding::percent_decode_str(url.path())
        .decode_utf8()
        .unwrap()
        .into_owned();
    let resource = path.strip_prefix(prefix).expect("path under the endpoint");
    let query: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    assert_eq!(
        query, prepared.query,
        "the URL carries exactly the signed query"
    );
    let canonical = canonical_string(
        prepared.method.as_str(),
        resource,
        &query,
        &prepared.headers,
    );
    let (id, signature) = maxcompute_tunnel::auth::parse_authorization_header(
        prepared.headers["authorization"].to_str().unwrap(),
    )
    .expect("ODPS authorization header");
    assert_eq!(id, "test-id");
    assert_eq!(signature, signature_v2(secret, &canonical));
}

#[tokio::test]
async fn upload_block_request_reproduces_the_golden_signature() {
    let client = client_with(|c| c);
    let endpoint = client.tunnel_endpoint(None).await.unwrap();
    let partition: PartitionSpec = "pt=p1,dt=2024".parse().unwrap();
    let spec = batch::upload_block_request(
        &client,
        "events",
        Some(&partition),
        "U1",
        0,
        Bytes::from_static(b"block-bytes"),
        Compression::None,
    )
    .unwrap();
    let prepared = client
        .prepare(&endpoint, &spec, &creds(), jan_first())
        .unwrap();

    assert_eq!(prepared.method, Method::PUT);
    assert_eq!(
        prepared.url,
        "http://127.0.0.1:8080/projects/proj/tables/events?uploadid=U1&blockid=0&partition=pt%3Dp1%2Cdt%3D2024&curr_project=proj"
    );
    let h = &prepared.headers;
    assert_eq!(h["content-type"], "application/octet-stream");
    assert_eq!(h["x-odps-tunnel-version"], "6");
    assert_eq!(h["odps-tunnel-date-transform"], "v1");
    assert_eq!(h["x-odps-user-agent"], "test-agent");
    assert_eq!(h["date"], "Mon, 01 Jan 2024 00:00:00 GMT");
    assert_eq!(h["content-length"], "11");
    assert!(h.get("content-encoding").is_none());
    assert!(h.get(STS_TOKEN_HEADER).is_none());
    // Same request as tunnel-protocol.md §1.5, so the same signature as pyodps.
    assert_eq!(
        h["authorization"],
        "ODPS test-id:2/3uKydIXtpc0OJhAct97knTSNc="
    );
    assert_eq!(prepared.body.as_ref(), b"block-bytes");
    assert_signature_verifies(&prepared, "", "test-secret");
}

#[tokio::test]
async fn create_session_request_with_all_options_and_sts() {
    let client = client_with(|c| c);
    let endpoint = client.tunnel_endpoint(None).await.unwrap();
    let options = UploadOptions {
        partition: Some("pt='a b'".parse().unwrap()),
        create_partition: true,
        overwrite: true,
    };
    let spec = batch::create_request(&client, "events", &options);
    let sts = creds().with_security_token("token-123");
    let prepared = client.prepare(&endpoint, &spec, &sts, jan_first()).unwrap();
    assert_eq!(prepared.method, Method::POST);
    assert_eq!(
        prepared.url,
        "http://127.0.0.1:8080/projects/proj/tables/events?uploads&partition=pt%3Da%20b&create_partition=true&overwrite=true&curr_project=proj"
    );
    assert_eq!(prepared.headers["content-length"], "0");
    assert!(prepared.headers.get("content-type").is_none());
    assert_eq!(prepared.headers[STS_TOKEN_HEADER], "token-123");
    assert!(prepared.body.is_empty());
    assert_signature_verifies(&prepared, "", "test-secret");
}

#[tokio::test]
async fn status_and_commit_requests() {
    let client = client_with(|c| c);
    let endpoint = client.tunnel_endpoint(None).await.unwrap();
    let status = batch::status_request(&client, "events", None, "U9");
    let p = client
        .prepare(&endpoint, &status, &creds(), jan_first())
        .unwrap();
    assert_eq!(p.method, Method::GET);
    assert_eq!(
        p.url,
        "http://127.0.0.1:8080/projects/proj/tables/events?uploadid=U9&curr_project=proj"
    );
    assert_eq!(p.headers["content-length"], "0");
    assert_signature_verifies(&p, "", "test-secret");

    let commit = batch::commit_request(&client, "events", None, "U9");
    let p = client
        .prepare(&endpoint, &commit, &creds(), jan_first())
        .unwrap();
    assert_eq!(p.method, Method::POST);
    assert_eq!(p.headers["content-length"], "0");
    assert!(p.body.is_empty());
    assert_signature_verifies(&p, "", "test-secret");
}

#[tokio::test]
async fn three_level_schema_paths_and_quota() {
    let client = client_with(|c| c.with_schema("s1").with_quota_name("q1"));
    let endpoint = client.tunnel_endpoint(None).await.unwrap();
    let spec = batch::upload_block_request(
        &client,
        "events",
        None,
        "U1",
        19_999,
        Bytes::from_static(b"x"),
        Compression::Deflate,
    )
    .unwrap();
    let p = client
        .prepare(&endpoint, &spec, &creds(), jan_first())
        .unwrap();
    assert_eq!(
        p.url,
        "http://127.0.0.1:8080/projects/proj/schemas/s1/tables/events?uploadid=U1&blockid=19999&curr_project=proj&quotaName=q1"
    );
    assert_eq!(p.headers["content-encoding"], "deflate");
    assert_signature_verifies(&p, "", "test-secret");
}

#[tokio::test]
async fn api_requests_strip_the_endpoint_prefix_from_the_signed_resource() {
    let client = client_with(|c| c);
    let spec = maxcompute_tunnel::RequestSpec::new(
        Method::GET,
        maxcompute_tunnel::Service::Api,
        client.table_resource("events"),
        "read schema",
    );
    let p = client
        .prepare(client.api_endpoint(), &spec, &creds(), jan_first())
        .unwrap();
    assert_eq!(
        p.url,
        "http://127.0.0.1:8080/api/projects/proj/tables/events?curr_project=proj"
    );
    // Tunnel-only headers stay off API calls; the user agent is always there.
    assert!(p.headers.get("x-odps-tunnel-version").is_none());
    assert_eq!(p.headers["x-odps-user-agent"], "test-agent");
    assert_signature_verifies(&p, "/api", "test-secret");
}

#[test]
fn block_ids_outside_the_range_are_refused_before_sending() {
    let client = client_with(|c| c);
    let err = batch::upload_block_request(
        &client,
        "events",
        None,
        "U1",
        BLOCK_ID_LIMIT,
        Bytes::new(),
        Compression::None,
    )
    .unwrap_err();
    assert!(matches!(
        err,
        Error::InvalidBlockId {
            block_id: 20_000,
            limit: 20_000
        }
    ));
}

#[tokio::test]
async fn stream_requests_carry_the_routing_headers() {
    let client = client_with(|c| c);
    let endpoint = client.tunnel_endpoint(None).await.unwrap();
    let options = StreamOptions {
        partition: Some("pt=1".parse().unwrap()),
        create_partition: true,
        slot_num: Some(4),
    };
    let create = stream::create_request(&client, "flat", &options);
    let p = client
        .prepare(&endpoint, &create, &creds(), jan_first())
        .unwrap();
    assert_eq!(p.method, Method::POST);
    assert_eq!(
        p.url,
        "http://127.0.0.1:8080/projects/proj/tables/flat/streams?partition=pt%3D1&create_partition&curr_project=proj"
    );
    assert_eq!(p.headers["odps-tunnel-slot-num"], "4");
    assert_signature_verifies(&p, "", "test-secret");

    let slot = Slot {
        id: "3".into(),
        server: "10.0.0.7:8080".into(),
    };
    let partition: PartitionSpec = "pt=1".parse().unwrap();
    let target = PackTarget {
        table: "flat",
        partition: Some(&partition),
        session_name: "S1",
        schema_version: Some(0),
        slot: &slot,
        slot_count: 4,
    };
    let write = stream::write_request(
        &client,
        &target,
        Bytes::from_static(b"pack"),
        Compression::Deflate,
        Some(10),
    )
    .unwrap();
    let p = client
        .prepare(&endpoint, &write, &creds(), jan_first())
        .unwrap();
    assert_eq!(p.method, Method::PUT);
    assert_eq!(
        p.url,
        "http://127.0.0.1:8080/projects/proj/tables/flat/streams?uploadid=S1&slotid=3&partition=pt%3D1&schema_version=0&record_count=10&curr_project=proj"
    );
    assert_eq!(p.headers["odps-tunnel-slot-num"], "4");
    assert_eq!(p.headers["odps-tunnel-routed-server"], "10.0.0.7:8080");
    assert_eq!(p.headers["content-type"], "application/octet-stream");
    assert_eq!(p.headers["content-encoding"], "deflate");
    assert_signature_verifies(&p, "", "test-secret");

    let reload = stream::reload_request(&client, "flat", None, "S1");
    let p = client
        .prepare(&endpoint, &reload, &creds(), jan_first())
        .unwrap();
    assert_eq!(p.method, Method::GET);
    assert_eq!(
        p.url,
        "http://127.0.0.1:8080/projects/proj/tables/flat/streams?uploadid=S1&curr_project=proj"
    );
}

#[test]
fn discovery_answer_takes_the_api_scheme() {
    let api = Endpoint::parse("https://service.example.com/api").unwrap();
    let tunnel = Endpoint::from_discovery(&api, "dt.example.com:443\n").unwrap();
    // The default port is implied.
    assert_eq!(tunnel.to_string(), "https://dt.example.com");
    let local = Endpoint::parse("http://127.0.0.1:9000/api/").unwrap();
    assert_eq!(
        Endpoint::from_discovery(&local, "127.0.0.1:9001")
            .unwrap()
            .url("/projects/p", &[]),
        "http://127.0.0.1:9001/projects/p"
    );
    assert!(Endpoint::from_discovery(&local, "").is_err());
    assert!(Endpoint::from_discovery(&local, "<html>oops</html> x").is_err());
}

#[test]
fn bad_configuration_is_refused() {
    let provider = Arc::new(StaticCredentialProvider::new(creds()));
    let err =
        TunnelClient::new(ClientConfig::new("ftp://x/api", "p", provider.clone())).unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err}");
    let err = TunnelClient::new(ClientConfig::new(API, " ", provider)).unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err}");
}

#[test]
fn client_debug_shows_no_secret() {
    let provider = Arc::new(StaticCredentialProvider::new(
        creds().with_security_token("sts-token-value"),
    ));
    let config = ClientConfig::new(API, "proj", provider);
    let shown = format!(
        "{config:?} {:?}",
        TunnelClient::new(config.clone()).unwrap()
    );
    assert!(!shown.contains("test-secret"), "{shown}");
    assert!(!shown.contains("sts-token-value"), "{shown}");
}
