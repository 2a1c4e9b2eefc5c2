//! Request authentication, a layer in front of every REST and tunnel handler: the
//! `Authorization: ODPS id:signature` header (signature v2, verified with the tunnel crate's own
//! signer over the decoded path and query), the `Date` skew limit, and STS temporary credentials.
//!
//! Error codes chosen (pyodps has an exception class for each, so they surface by name):
//! * no or unparsable `Authorization`, an unknown AccessKeyId, a missing or unparsable `Date`, or a
//!   signature v4 header: `401 Unauthorized`. The message says "invalid or missing", which makes
//!   pyodps fall back from v4 to v2 signing as it does against the real service;
//! * a signature that does not match: `403 SignatureNotMatch`, with the server's string to sign in
//!   the message (it holds no secret) to make client bugs easy to find;
//! * `Date` more than the skew limit (15 min) away from the server clock: `403
//!   RequestTimeTooSkewed`, message `max_interval_date:<ms>,expire_date:..,now_date:..` as pyodps
//!   parses it;
//! * STS: see [`crate::sts`].

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use http::HeaderMap;
use maxcompute_tunnel::auth::{
    canonical_string, parse_authorization_header, signature_v2, STS_TOKEN_HEADER,
};

use crate::error::{ErrorCode, OdpsError};
use crate::request::{signed_resource, Query};
use crate::sts::{Sts, StsAuthError};

/// The answer for an AccessKeyId that is neither a permanent account nor a temporary credential.
fn unknown_access_id() -> OdpsError {
    OdpsError::new(
        ErrorCode::Unauthorized,
        "The request authorization header is invalid or missing: the AccessKeyId does not exist.",
    )
}

/// Who signed a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub access_id: String,
    /// True for STS temporary credentials.
    pub temporary: bool,
}

/// Verifies request signatures against permanent accounts and STS credentials. Cheap to clone.
#[derive(Clone)]
pub struct Authenticator {
    accounts: Arc<HashMap<String, String>>,
    max_skew: Duration,
    sts: Sts,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("access_ids", &self.accounts.keys().collect::<Vec<_>>())
            .field("max_skew", &self.max_skew)
            .finish_non_exhaustive()
    }
}

/// The parts of a request that are signed.
pub struct SignedRequest<'a> {
    pub method: &'a str,
    /// The path relative to the endpoint (`/api` removed for API calls), URL-decoded.
    pub resource: &'a str,
    /// Decoded query parameters, in request order.
    pub query: &'a [(String, String)],
    pub headers: &'a HeaderMap,
}

impl Authenticator {
    pub fn new(accounts: HashMap<String, String>, max_skew: Duration, sts: Sts) -> Self {
        Authenticator {
            accounts: Arc::new(accounts),
            max_skew,
            sts,
        }
    }

    /// Checks the request's signature and date; returns who signed it.
    pub fn verify(
        &self,
        req: &SignedRequest<'_>,
        now: DateTime<Utc>,
    ) -> Result<Principal, OdpsError> {
        let invalid = || {
            OdpsError::new(
                ErrorCode::Unauthorized,
                "The request authorization header is invalid or missing.",
            )
        };
        let header = req
            .headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(invalid)?;
        let (access_id, signature) = parse_authorization_header(header).ok_or_else(invalid)?;
        if access_id.contains('/') {
            return Err(OdpsError::new(
                ErrorCode::Unauthorized,
                "The request authorization header is invalid or missing: signature v4 is not supported by mc-emulator, sign with v2.",
            ));
        }
        self.check_date(req.headers, now)?;

        let (secret, temporary) = match self.accounts.get(access_id) {
            Some(secret) => (secret.clone(), false),
            None => {
                let token = req
                    .headers
                    .get(STS_TOKEN_HEADER)
                    .and_then(|v| v.to_str().ok());
                (self.temporary_secret(access_id, token)?, true)
            }
        };
        let canonical = canonical_string(req.method, req.resource, req.query, req.headers);
        let expected = signature_v2(&secret, &canonical);
        if !constant_time_eq(expected.as_bytes(), signature.as_bytes()) {
            tracing::debug!(access_id, "signature mismatch");
            return Err(OdpsError::new(
                ErrorCode::SignatureNotMatch,
                format!("The request signature does not match. The string to sign on the server is: {canonical:?}"),
            ));
        }
        Ok(Principal {
            access_id: access_id.to_string(),
            temporary,
        })
    }

    /// STS credentials are checked against the STS service's own clock, which tests can
    /// advance to expire tokens without sleeping.
    fn temporary_secret(&self, access_id: &str, token: Option<&str>) -> Result<String, OdpsError> {
        self.sts
            .validate(access_id, token, self.sts.now())
            .map_err(|e| match e {
                StsAuthError::UnknownAccessKey => unknown_access_id(),
                other => OdpsError::new(other.error_code(), other.to_string()),
            })
    }

    fn check_date(&self, headers: &HeaderMap, now: DateTime<Utc>) -> Result<(), OdpsError> {
        let date = headers
            .get(http::header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| DateTime::parse_from_rfc2822(v).ok())
            .ok_or_else(|| {
                OdpsError::new(
                    ErrorCode::Unauthorized,
                    "The request authorization header is invalid or missing: the Date header is missing or not RFC 1123.",
                )
            })?
            .with_timezone(&Utc);
        let skew = (now - date).abs();
        let max = chrono::Duration::from_std(self.max_skew).unwrap_or(chrono::Duration::MAX);
        if skew > max {
            let fmt = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
            return Err(OdpsError::new(
                ErrorCode::RequestTimeTooSkewed,
                format!(
                    "max_interval_date:{},expire_date:{},now_date:{}",
                    max.num_milliseconds(),
                    fmt(date + max),
                    fmt(now)
                ),
            ));
        }
        Ok(())
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Middleware verifying the signature and date of every REST and tunnel request before it is
/// handled; a refusal is answered in the format of the endpoint by the request-id layer.
pub async fn authenticate(
    State(auth): State<Authenticator>,
    request: Request,
    next: Next,
) -> Response {
    let query = Query::parse(request.uri().query());
    let resource = signed_resource(request.uri().path());
    let verified = auth.verify(
        &SignedRequest {
            method: request.method().as_str(),
            resource: &resource,
            query: query.pairs(),
            headers: request.headers(),
        },
        Utc::now(),
    );
    let (method, path) = (request.method(), request.uri().path());
    match verified {
        Ok(principal) => {
            tracing::debug!(%method, path, access_id = %principal.access_id, "request");
            next.run(request).await
        }
        Err(e) => {
            tracing::info!(%method, path, code = %e.code, "request refused");
            e.into_response()
        }
    }
}
