//! Support for the unit tests of the client and the session modules: a client against a local
//! address, requests prepared at a fixed instant, and the server's view of their signature.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use http::StatusCode;

use super::request::{prepare, PreparedRequest};
use super::{ClientConfig, RequestSpec, Service, TunnelClient};
use crate::auth::{
    canonical_string, parse_authorization_header, signature_v2, Credentials,
    StaticCredentialProvider,
};
use crate::error::{Error, ServiceError};

pub(crate) const API: &str = "http://127.0.0.1:8080/api";
pub(crate) const TUNNEL: &str = "http://127.0.0.1:8080";

pub(crate) fn creds() -> Credentials {
    Credentials::new("test-id", "test-secret")
}

/// A client of project `proj` with both endpoints configured, changed by `config`.
pub(crate) fn client_with(config: impl FnOnce(ClientConfig) -> ClientConfig) -> TunnelClient {
    let provider = Arc::new(StaticCredentialProvider::new(creds()));
    let base = ClientConfig::new(API, "proj", provider)
        .with_tunnel_endpoint(TUNNEL)
        .with_user_agent("test-agent");
    TunnelClient::new(config(base)).unwrap()
}

/// `spec` as `client` would send it to its service's endpoint, signed with `credentials` on
/// 2024-01-01T00:00:00Z.
pub(crate) fn prepared(
    client: &TunnelClient,
    spec: &RequestSpec,
    credentials: &Credentials,
) -> PreparedRequest {
    let endpoint = match spec.service {
        Service::Api => &client.inner.api,
        Service::Tunnel => client
            .inner
            .tunnel
            .get()
            .expect("a configured tunnel endpoint"),
    };
    let jan_first = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
    prepare(
        &client.inner.sender.common,
        endpoint,
        spec,
        credentials,
        jan_first,
    )
    .unwrap()
}

/// Verifies the signature as a server would: from the URL on the wire, strip the endpoint's
/// prefix, URL-decode path and query, rebuild the canonical string and compare signatures.
pub(crate) fn assert_signature_verifies(prepared: &PreparedRequest, prefix: &str, secret: &str) {
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
    let (id, signature) =
        parse_authorization_header(prepared.headers["authorization"].to_str().unwrap())
            .expect("ODPS authorization header");
    assert_eq!(id, "test-id");
    assert_eq!(signature, signature_v2(secret, &canonical));
}

/// A service error answer to operation `op` with `status` and `code`.
pub(crate) fn service(status: u16, code: Option<&str>) -> Error {
    Error::Service {
        operation: "op".into(),
        error: ServiceError {
            status: StatusCode::from_u16(status).unwrap(),
            code: code.map(str::to_owned),
            message: String::new(),
            request_id: None,
        },
    }
}
