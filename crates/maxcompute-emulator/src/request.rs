//! Request parsing shared by the REST and tunnel handlers: decoded query parameters (the SDKs
//! sign them decoded, in the string to sign) and the request path relative to its endpoint.

use std::convert::Infallible;

use axum::extract::FromRequestParts;
use http::request::Parts;
use percent_encoding::percent_decode_str;
use serde::Deserialize;

/// The decoded query parameters of a request, in request order. Names are kept as sent; lookups
/// are exact, as the services' parameters are lower-case.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query(Vec<(String, String)>);

impl Query {
    /// Splits `a=1&b&c=x%3Dy` into decoded pairs; a parameter without `=` has an empty value.
    pub fn parse(raw: Option<&str>) -> Query {
        let Some(raw) = raw else {
            return Query::default();
        };
        let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
        Query(
            raw.split('&')
                .filter(|p| !p.is_empty())
                .map(|p| match p.split_once('=') {
                    Some((k, v)) => (decode(k), decode(v)),
                    None => (decode(p), String::new()),
                })
                .collect(),
        )
    }

    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }

    /// A boolean flag: present with an empty value, `true` or `1` (case-insensitive).
    pub fn flag(&self, name: &str) -> bool {
        self.get(name)
            .is_some_and(|v| v.is_empty() || v.eq_ignore_ascii_case("true") || v == "1")
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Query {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Query::parse(parts.uri.query()))
    }
}

/// The table a request addresses, taken from the `{project}` and `{table}` path parameters. The
/// three-level routes also carry `{schema}`, which is left out: the catalog keys tables by project
/// and name, so both route levels address the same table.
#[derive(Debug, Clone, Deserialize)]
pub struct TableRef {
    pub project: String,
    pub table: String,
}

/// The URL-decoded path.
pub fn decoded_path(raw: &str) -> String {
    percent_decode_str(raw).decode_utf8_lossy().into_owned()
}

/// True for paths served by the REST API (`/api/...`), which answers errors in XML.
pub fn is_api_path(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/")
}

/// The path relative to its endpoint, as signed: `/api` removed for the REST API.
pub fn signed_resource(path: &str) -> String {
    let decoded = decoded_path(path);
    if is_api_path(&decoded) {
        let rest = &decoded[4..];
        if rest.is_empty() {
            "/".to_string()
        } else {
            rest.to_string()
        }
    } else {
        decoded
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_values_and_keeps_bare_names() {
        let q = Query::parse(Some(
            "uploadid=U1&blockid=0&partition=pt%3Dp1%2Cdt%3D2024&uploads&curr_project=proj",
        ));
        assert_eq!(q.get("partition"), Some("pt=p1,dt=2024"));
        assert!(q.has("uploads"));
        assert!(q.flag("uploads"));
        assert_eq!(q.get("uploads"), Some(""));
        assert!(!q.has("downloads"));
        assert_eq!(q.pairs().len(), 5);
    }

    #[test]
    fn strips_the_api_prefix_only_for_api_paths() {
        assert_eq!(
            signed_resource("/api/projects/p/tables/t"),
            "/projects/p/tables/t"
        );
        assert_eq!(
            signed_resource("/projects/p/tables/a%20b"),
            "/projects/p/tables/a b"
        );
        assert_eq!(signed_resource("/apix/y"), "/apix/y");
    }
}
