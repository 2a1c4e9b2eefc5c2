//! ODPS request signature v2, the same for API and tunnel requests.
//!
//! Specification: <https://help.aliyun.com/zh/maxcompute/user-guide/signature-method> and the three
//! official SDKs (pyodps `accounts.py` `BaseAccount._build_canonical_str`, java
//! `SecurityUtils.buildCanonicalString`, go `account/aliyun_account.go`).
//! The functions are public so that a server (the emulator) can verify signatures with exactly the
//! code that produces them.

use std::collections::BTreeMap;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use http::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION, DATE};
use sha1::Sha1;

use super::Credentials;

/// Header carrying the STS security token; not part of the signature.
pub const STS_TOKEN_HEADER: &str = "authorization-sts-token";

/// Prefix of the headers (and query parameters) that take part in the signature.
const SIGNED_PREFIX: &str = "x-odps-";

/// A request could not be signed.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// The value would not be a legal HTTP header; the value itself is not shown (it may be a
    /// token).
    #[error("the `{header}` header cannot be built: the credentials contain characters not allowed in HTTP headers")]
    InvalidHeaderValue { header: &'static str },
}

/// The string to sign.
///
/// `resource` is the URL path relative to the endpoint (the endpoint's own path prefix such as
/// `/api` removed), already URL-decoded. `query` holds the decoded `(name, value)` pairs; an empty
/// value is written as the bare name. Lines: method, `Content-MD5`, `Content-Type`, `Date`, the
/// sorted `x-odps-*` headers (and `x-odps-*` query parameters) as `name:value`, then the resource
/// with its sorted query.
pub fn canonical_string(
    method: &str,
    resource: &str,
    query: &[(String, String)],
    headers: &HeaderMap,
) -> String {
    // One sorted map for content-md5, content-type, date and x-odps-*: their names sort into the
    // order the specification lists them in.
    let mut signed: BTreeMap<String, String> = BTreeMap::new();
    signed.insert("content-md5".into(), String::new());
    signed.insert("content-type".into(), String::new());
    signed.insert("date".into(), String::new());
    for name in headers.keys() {
        let lower = name.as_str(); // `http` stores names lower-cased
        let wanted = matches!(lower, "content-md5" | "content-type" | "date")
            || lower.starts_with(SIGNED_PREFIX);
        if wanted {
            let joined = headers
                .get_all(name)
                .iter()
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .collect::<Vec<_>>()
                .join(",");
            signed.insert(lower.to_owned(), joined);
        }
    }
    for (name, value) in query {
        let lower = name.to_ascii_lowercase();
        if lower.starts_with(SIGNED_PREFIX) {
            signed.insert(lower, value.clone());
        }
    }

    let mut out = String::with_capacity(256);
    out.push_str(&method.to_ascii_uppercase());
    for (name, value) in &signed {
        out.push('\n');
        if name.starts_with(SIGNED_PREFIX) {
            out.push_str(name);
            out.push(':');
        }
        out.push_str(value);
    }
    out.push('\n');
    out.push_str(resource);
    if !query.is_empty() {
        let mut sorted: Vec<&(String, String)> = query.iter().collect();
        // Stable: repeated names keep their order, as the SDKs' sorted() does.
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        out.push('?');
        for (i, (name, value)) in sorted.into_iter().enumerate() {
            if i > 0 {
                out.push('&');
            }
            out.push_str(name);
            if !value.is_empty() {
                out.push('=');
                out.push_str(value);
            }
        }
    }
    out
}

/// The signature: `base64(HMAC-SHA1(secret, canonical))`.
pub fn signature_v2(secret: &str, canonical: &str) -> String {
    let mut mac =
        Hmac::<Sha1>::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(canonical.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// The `Authorization` header value: `ODPS <access_id>:<signature>`.
fn authorization_header(access_id: &str, signature: &str) -> String {
    format!("ODPS {access_id}:{signature}")
}

/// Splits an `Authorization: ODPS <id>:<signature>` value into `(id, signature)`; `None` for any
/// other shape. The id may contain `:`-free v4 scope segments (`id/date/region/...`).
pub fn parse_authorization_header(value: &str) -> Option<(&str, &str)> {
    let rest = value.strip_prefix("ODPS ")?;
    let (id, signature) = rest.rsplit_once(':')?;
    if id.is_empty() || signature.is_empty() {
        return None;
    }
    Some((id, signature))
}

/// The `Date` header, RFC 1123 in GMT (`Mon, 01 Jan 2024 00:00:00 GMT`).
fn format_date(now: DateTime<Utc>) -> String {
    now.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// Signs a request in place: sets `Date` (from `now`), `Authorization`, and, for STS credentials,
/// `authorization-sts-token`. All other headers must already be set, since `x-odps-*`,
/// `Content-Type` and `Content-MD5` are part of the signature.
///
/// A server verifies with the same pieces: it rebuilds the canonical string from what it
/// received and compares signatures.
///
/// ```
/// use maxcompute_tunnel::auth::{
///     canonical_string, parse_authorization_header, sign_request, signature_v2, Credentials,
///     STS_TOKEN_HEADER,
/// };
/// let creds = Credentials::new("test-id", "test-secret").with_security_token("token");
/// let mut headers = http::HeaderMap::new();
/// headers.insert("x-odps-tunnel-version", "6".parse().unwrap());
/// let query = vec![("uploads".to_string(), String::new())];
/// let resource = "/projects/p/tables/t";
/// sign_request(&creds, "POST", resource, &query, &mut headers, chrono::Utc::now()).unwrap();
/// assert_eq!(headers[STS_TOKEN_HEADER], "token");
///
/// let authorization = headers["authorization"].to_str().unwrap();
/// let (id, signature) = parse_authorization_header(authorization).unwrap();
/// assert_eq!(id, "test-id");
/// let canonical = canonical_string("POST", resource, &query, &headers);
/// assert_eq!(signature, signature_v2("test-secret", &canonical));
/// ```
pub fn sign_request(
    credentials: &Credentials,
    method: &str,
    resource: &str,
    query: &[(String, String)],
    headers: &mut HeaderMap,
    now: DateTime<Utc>,
) -> Result<(), SignError> {
    let date = HeaderValue::from_str(&format_date(now))
        .map_err(|_| SignError::InvalidHeaderValue { header: "Date" })?;
    headers.insert(DATE, date);
    let canonical = canonical_string(method, resource, query, headers);
    let signature = signature_v2(credentials.access_key_secret(), &canonical);
    let mut authorization =
        HeaderValue::from_str(&authorization_header(credentials.access_id(), &signature)).map_err(
            |_| SignError::InvalidHeaderValue {
                header: "Authorization",
            },
        )?;
    authorization.set_sensitive(true);
    headers.insert(AUTHORIZATION, authorization);
    match credentials.security_token() {
        Some(token) => {
            let mut value =
                HeaderValue::from_str(token).map_err(|_| SignError::InvalidHeaderValue {
                    header: STS_TOKEN_HEADER,
                })?;
            value.set_sensitive(true);
            headers.insert(HeaderName::from_static(STS_TOKEN_HEADER), value);
        }
        None => {
            headers.remove(STS_TOKEN_HEADER);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn golden_headers() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(DATE, "Mon, 01 Jan 2024 00:00:00 GMT".parse().unwrap());
        h.insert("content-type", "application/octet-stream".parse().unwrap());
        h.insert("x-odps-tunnel-version", "6".parse().unwrap());
        h.insert("odps-tunnel-date-transform", "v1".parse().unwrap());
        h.insert("x-odps-user-agent", "test-agent".parse().unwrap());
        h
    }

    fn golden_query() -> Vec<(String, String)> {
        [
            ("uploadid", "U1"),
            ("blockid", "0"),
            ("partition", "pt=p1,dt=2024"),
            ("curr_project", "proj"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    const GOLDEN_CANONICAL: &str = "PUT\n\napplication/octet-stream\nMon, 01 Jan 2024 00:00:00 GMT\nx-odps-tunnel-version:6\nx-odps-user-agent:test-agent\n/projects/proj/tables/events?blockid=0&curr_project=proj&partition=pt=p1,dt=2024&uploadid=U1";

    /// A block upload signed by pyodps 0.13.2 `CloudAccount` (`odps/accounts.py`).
    #[test]
    fn golden_vector_canonical_string_and_signature() {
        let canonical = canonical_string(
            "PUT",
            "/projects/proj/tables/events",
            &golden_query(),
            &golden_headers(),
        );
        assert_eq!(canonical, GOLDEN_CANONICAL);
        let signature = signature_v2("test-secret", &canonical);
        assert_eq!(signature, "2/3uKydIXtpc0OJhAct97knTSNc=");
        assert_eq!(
            authorization_header("test-id", &signature),
            "ODPS test-id:2/3uKydIXtpc0OJhAct97knTSNc="
        );
    }

    #[test]
    fn sign_request_reproduces_the_golden_vector() {
        let mut headers = golden_headers();
        headers.remove(DATE);
        let now = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
        let creds = Credentials::new("test-id", "test-secret");
        sign_request(
            &creds,
            "PUT",
            "/projects/proj/tables/events",
            &golden_query(),
            &mut headers,
            now,
        )
        .unwrap();
        assert_eq!(headers[DATE], "Mon, 01 Jan 2024 00:00:00 GMT");
        assert_eq!(
            headers[AUTHORIZATION],
            "ODPS test-id:2/3uKydIXtpc0OJhAct97knTSNc="
        );
        assert!(headers.get(STS_TOKEN_HEADER).is_none());
    }

    #[test]
    fn sts_token_is_sent_but_not_signed() {
        let now = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
        let plain = Credentials::new("test-id", "test-secret");
        let sts = plain.clone().with_security_token("the-token");
        let mut a = golden_headers();
        let mut b = golden_headers();
        let q = golden_query();
        sign_request(
            &plain,
            "PUT",
            "/projects/proj/tables/events",
            &q,
            &mut a,
            now,
        )
        .unwrap();
        sign_request(&sts, "PUT", "/projects/proj/tables/events", &q, &mut b, now).unwrap();
        assert_eq!(a[AUTHORIZATION], b[AUTHORIZATION]);
        assert_eq!(b[STS_TOKEN_HEADER], "the-token");
        assert!(b[STS_TOKEN_HEADER].is_sensitive());
    }

    #[test]
    fn bare_query_names_and_x_odps_query_parameters() {
        let mut h = HeaderMap::new();
        h.insert(DATE, "Mon, 01 Jan 2024 00:00:00 GMT".parse().unwrap());
        h.insert("content-md5", "abc".parse().unwrap());
        h.insert("user-agent", "not-signed".parse().unwrap());
        let q = vec![
            ("uploads".to_string(), String::new()),
            ("x-odps-extra".to_string(), "1".to_string()),
            ("curr_project".to_string(), "p".to_string()),
        ];
        let c = canonical_string("post", "/projects/p/tables/t", &q, &h);
        assert_eq!(
            c,
            "POST\nabc\n\nMon, 01 Jan 2024 00:00:00 GMT\nx-odps-extra:1\n/projects/p/tables/t?curr_project=p&uploads&x-odps-extra=1"
        );
    }

    #[test]
    fn no_query_means_no_question_mark() {
        let h = HeaderMap::new();
        assert_eq!(
            canonical_string("GET", "/projects/p", &[], &h),
            "GET\n\n\n\n/projects/p"
        );
    }

    #[test]
    fn parses_authorization_header() {
        assert_eq!(
            parse_authorization_header("ODPS test-id:2/3uKydIXtpc0OJhAct97knTSNc="),
            Some(("test-id", "2/3uKydIXtpc0OJhAct97knTSNc="))
        );
        assert_eq!(parse_authorization_header("Bearer x"), None);
        assert_eq!(parse_authorization_header("ODPS nocolon"), None);
    }

    #[test]
    fn rejects_a_token_that_is_not_a_header_value_without_showing_it() {
        let creds = Credentials::new("id", "secret").with_security_token("bad\ntoken");
        let mut h = HeaderMap::new();
        let err = sign_request(&creds, "GET", "/", &[], &mut h, Utc::now()).unwrap_err();
        assert!(!err.to_string().contains("bad"), "{err}");
    }
}
