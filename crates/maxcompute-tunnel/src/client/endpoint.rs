//! Where requests go: the API and tunnel endpoints as parsed URLs, the tunnel endpoint named by a
//! discovery answer, and the resource path of a table.

use std::fmt;

use crate::error::Error;
use crate::percent;

/// A service base URL: origin plus an optional path prefix (`/api`), which the signature's
/// resource does not include.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    scheme: String,
    origin: String,
    prefix: String,
}

impl Endpoint {
    /// Parses `http(s)://host[:port][/prefix]`.
    pub fn parse(url: &str) -> Result<Endpoint, Error> {
        let parsed = reqwest::Url::parse(url.trim())
            .map_err(|e| Error::Config(format!("endpoint `{url}`: {e}")))?;
        let scheme = parsed.scheme().to_owned();
        if scheme != "http" && scheme != "https" {
            return Err(Error::Config(format!(
                "endpoint `{url}`: scheme must be http or https"
            )));
        }
        if parsed.query().is_some() || !parsed.username().is_empty() {
            return Err(Error::Config(format!(
                "endpoint `{url}`: must not carry a query or user info"
            )));
        }
        let host = parsed
            .host_str()
            .ok_or_else(|| Error::Config(format!("endpoint `{url}`: no host")))?;
        let origin = match parsed.port() {
            Some(port) => format!("{scheme}://{host}:{port}"),
            None => format!("{scheme}://{host}"),
        };
        Ok(Endpoint {
            scheme,
            origin,
            prefix: parsed.path().trim_end_matches('/').to_owned(),
        })
    }

    /// The tunnel endpoint named by a discovery answer (`host[:port]`, or a full URL), with the
    /// API endpoint's scheme as pyodps does.
    pub(crate) fn from_discovery(api: &Endpoint, answer: &str) -> Result<Endpoint, Error> {
        let answer = answer.trim();
        if answer.is_empty() || answer.contains(char::is_whitespace) {
            return Err(Error::protocol(
                "discover tunnel endpoint",
                format!("answer `{answer}` is not host[:port]"),
            ));
        }
        if answer.contains("://") {
            Endpoint::parse(answer)
        } else {
            Endpoint::parse(&format!("{}://{answer}", api.scheme))
        }
    }

    /// The full URL of `resource` (decoded path relative to this endpoint) with `query`.
    pub(crate) fn url(&self, resource: &str, query: &[(String, String)]) -> String {
        let mut url = String::with_capacity(self.origin.len() + resource.len() + 64);
        url.push_str(&self.origin);
        url.push_str(&self.prefix);
        for segment in resource.split('/').skip(1) {
            url.push('/');
            url.extend(percent::encode(segment));
        }
        for (i, (name, value)) in query.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.extend(percent::encode(name));
            if !value.is_empty() {
                url.push('=');
                url.extend(percent::encode(value));
            }
        }
        url
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.origin, self.prefix)
    }
}

/// Which endpoint a request goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Service {
    /// REST API (XML): metadata, discovery.
    Api,
    /// Tunnel (JSON + binary): sessions and data.
    Tunnel,
}

/// The resource of a table: `/projects/<p>[/schemas/<s>]/tables/<t>`.
pub(crate) fn table_resource(project: &str, schema: Option<&str>, table: &str) -> String {
    match schema {
        Some(schema) => format!("/projects/{project}/schemas/{schema}/tables/{table}"),
        None => format!("/projects/{project}/tables/{table}"),
    }
}

/// The resource the tunnel endpoint is discovered from.
pub(crate) fn discovery_resource(project: &str) -> String {
    format!("/projects/{project}/tunnel")
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn table_resources_of_two_and_three_level_projects() {
        assert_eq!(
            table_resource("proj", None, "events"),
            "/projects/proj/tables/events"
        );
        assert_eq!(
            table_resource("proj", Some("default"), "events"),
            "/projects/proj/schemas/default/tables/events"
        );
    }
}
