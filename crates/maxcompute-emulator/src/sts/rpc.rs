//! Alibaba Cloud's RPC style as STS speaks it: the parameters of a call (query string and form
//! body), the common parameters every call carries, the HMAC-SHA1 signature over them, the
//! refusal of replayed nonces, and errors in the RPC JSON shape.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::Query;
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, TimeDelta, Utc};
use maxcompute_tunnel::auth::{rpc_signature, rpc_string_to_sign};
use serde_json::json;

/// The STS API version this endpoint implements.
pub const API_VERSION: &str = "2015-04-01";
/// Largest accepted difference between the request `Timestamp` and the server clock.
const MAX_TIMESTAMP_SKEW: Duration = Duration::from_secs(15 * 60);
/// The only action this endpoint serves.
const ACTION: &str = "AssumeRole";

/// An error in Alibaba's RPC shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct RpcError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl RpcError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn missing(name: &str) -> Self {
        Self::new(
            400,
            "MissingParameter",
            format!(
                "The input parameter \"{name}\" that is mandatory for processing this request is \
                 not supplied."
            ),
        )
    }

    /// The answer to a method other than GET and POST, or to an action other than AssumeRole.
    pub fn no_such_action() -> Self {
        Self::new(
            404,
            "InvalidAction.NotFound",
            "Specified api is not found, please check your url and method.",
        )
    }

    fn invalid(code: &'static str, what: &str) -> Self {
        Self::new(400, code, format!("The {what} is not well formed."))
    }

    /// The error as the answer to request `request_id`, sent to host `host`.
    pub fn reply(self, request_id: &str, host: &str) -> RpcErrorReply {
        RpcErrorReply {
            error: self,
            request_id: request_id.to_owned(),
            host: host.to_owned(),
        }
    }
}

/// An [`RpcError`] with what its JSON body names besides the error.
pub(super) struct RpcErrorReply {
    error: RpcError,
    request_id: String,
    host: String,
}

impl IntoResponse for RpcErrorReply {
    fn into_response(self) -> Response {
        let RpcErrorReply {
            error,
            request_id,
            host,
        } = self;
        let body = json!({
            "RequestId": request_id,
            "HostId": host,
            "Code": error.code,
            "Message": error.message,
            "Recommend": format!(
                "https://api.aliyun.com/troubleshoot?q={}&product=Sts&requestId={request_id}",
                error.code
            ),
        });
        let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_REQUEST);
        (status, Json(body)).into_response()
    }
}

/// The decoded parameters of a call, query first, then form body.
pub(super) struct Params(Vec<(String, String)>);

impl Params {
    /// Query parameters followed by form-body parameters, decoded.
    pub fn from_request(uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Result<Params, RpcError> {
        let Query(mut params) = Query::<Vec<(String, String)>>::try_from_uri(uri)
            .map_err(|_| RpcError::invalid("InvalidParameter", "query string"))?;
        if body.is_empty() {
            return Ok(Params(params));
        }
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !content_type.starts_with("application/x-www-form-urlencoded") {
            return Err(RpcError::new(
                400,
                "InvalidParameter.ContentType",
                "The ContentType request header must be either \"application/json\" or \
                 \"application/x-www-form-urlencoded\".",
            ));
        }
        // The form body has the same syntax as a query string, so the same decoder applies.
        let malformed_form = || RpcError::invalid("InvalidParameter", "form body");
        let as_query: Uri = format!("/?{}", String::from_utf8_lossy(body))
            .parse()
            .map_err(|_| malformed_form())?;
        let Query(form) = Query::<Vec<(String, String)>>::try_from_uri(&as_query)
            .map_err(|_| malformed_form())?;
        params.extend(form);
        Ok(Params(params))
    }

    #[cfg(test)]
    pub fn new(params: Vec<(String, String)>) -> Params {
        Params(params)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A parameter that is there and not empty, or `MissingParameter`.
    pub fn required(&self, name: &str) -> Result<&str, RpcError> {
        self.get(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| RpcError::missing(name))
    }

    /// Checks the common parameters of the call, the caller's signature with its permanent
    /// AccessKey from `accounts`, and that the nonce is new; returns the caller's AccessKeyId.
    pub fn verify(
        &self,
        method: &Method,
        accounts: &HashMap<String, String>,
        nonces: &Nonces,
    ) -> Result<&str, RpcError> {
        for name in [
            "AccessKeyId",
            "Action",
            "Signature",
            "SignatureMethod",
            "SignatureNonce",
            "SignatureVersion",
            "Timestamp",
            "Version",
        ] {
            self.required(name)?;
        }
        let param = |name: &str| self.get(name).unwrap_or_default();
        if param("Action") != ACTION {
            return Err(RpcError::no_such_action());
        }
        if param("Version") != API_VERSION {
            return Err(RpcError::new(
                400,
                "InvalidVersion",
                "Specified parameter Version is not valid.",
            ));
        }
        if param("SignatureMethod") != "HMAC-SHA1" || param("SignatureVersion") != "1.0" {
            return Err(RpcError::new(
                400,
                "IncompleteSignature",
                "The request signature does not conform to Aliyun standards.",
            ));
        }
        let timestamp = check_timestamp(param("Timestamp"))?;

        let access_id = param("AccessKeyId");
        let Some(secret) = accounts.get(access_id) else {
            return Err(RpcError::new(
                404,
                "InvalidAccessKeyId.NotFound",
                "Specified access key is not found.",
            ));
        };
        let unsigned: Vec<(String, String)> = self
            .0
            .iter()
            .filter(|(k, _)| k != "Signature")
            .cloned()
            .collect();
        let string_to_sign = rpc_string_to_sign(method.as_str(), &unsigned);
        if rpc_signature(secret, &string_to_sign) != param("Signature") {
            // Like the real service, show the string to sign (it holds no secret) so a client
            // author can see where the canonicalization differs.
            return Err(RpcError::new(
                400,
                "SignatureDoesNotMatch",
                format!(
                    "Specified signature is not matched with our calculation. server string to \
                     sign is:{string_to_sign}"
                ),
            ));
        }
        nonces.remember(param("SignatureNonce"), timestamp)?;
        Ok(access_id)
    }
}

/// Parses the `Timestamp` parameter and checks it is within the skew limit of real time.
fn check_timestamp(raw: &str) -> Result<DateTime<Utc>, RpcError> {
    let timestamp = DateTime::parse_from_rfc3339(raw)
        .map_err(|_| {
            RpcError::new(
                400,
                "InvalidTimeStamp.Format",
                "Specified time stamp or date value is not well formatted.",
            )
        })?
        .with_timezone(&Utc);
    let skew = (Utc::now() - timestamp).abs();
    if skew > TimeDelta::from_std(MAX_TIMESTAMP_SKEW).unwrap_or(TimeDelta::MAX) {
        return Err(RpcError::new(
            400,
            "InvalidTimeStamp.Expired",
            "Specified time stamp or date value is expired.",
        ));
    }
    Ok(timestamp)
}

/// Nonces seen recently, with their request timestamps, to refuse replays. Cloning shares them.
#[derive(Clone, Default)]
pub(super) struct Nonces(Arc<Mutex<HashMap<String, DateTime<Utc>>>>);

impl Nonces {
    fn remember(&self, nonce: &str, timestamp: DateTime<Utc>) -> Result<(), RpcError> {
        // A map of nonces stays consistent whatever panicked while holding the lock.
        let mut nonces = self.0.lock().unwrap_or_else(|p| p.into_inner());
        // A nonce older than twice the skew window can no longer pass the timestamp check, so
        // there is no need to remember it.
        let horizon = Utc::now() - TimeDelta::from_std(MAX_TIMESTAMP_SKEW * 2).unwrap_or_default();
        nonces.retain(|_, t| *t > horizon);
        if nonces.contains_key(nonce) {
            return Err(RpcError::new(
                400,
                "SignatureNonceUsed",
                "Specified signature nonce was used already.",
            ));
        }
        nonces.insert(nonce.to_owned(), timestamp);
        Ok(())
    }
}
