//! What the STS unit tests share: a service with one role and one caller, and signed calls.

use axum::http::Method;
use chrono::Utc;
use maxcompute_tunnel::auth::{rpc_signature, rpc_string_to_sign};
use serde_json::Value;

use super::rpc::{Params, RpcError, API_VERSION};
use super::{Sts, StsConfig};

pub const ROLE: &str = "acs:ram::1234567890:role/sink-role";

pub fn sts() -> Sts {
    Sts::new(
        StsConfig {
            role_arns: vec![ROLE.to_owned()],
            ..StsConfig::default()
        },
        [("LTAI-caller".to_owned(), "caller-secret".to_owned())],
    )
}

pub fn unsigned(nonce: &str) -> Vec<(String, String)> {
    [
        ("Action", "AssumeRole"),
        ("Version", API_VERSION),
        ("Format", "JSON"),
        ("AccessKeyId", "LTAI-caller"),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureVersion", "1.0"),
        ("SignatureNonce", nonce),
        ("RoleArn", ROLE),
        ("RoleSessionName", "kafka-session-1234567890"),
        ("DurationSeconds", "3600"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .chain([(
        "Timestamp".to_owned(),
        Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
    )])
    .collect()
}

pub fn set(params: &mut Vec<(String, String)>, name: &str, value: &str) {
    params.retain(|(k, _)| k != name);
    params.push((name.to_owned(), value.to_owned()));
}

pub fn signed(
    method: &str,
    mut params: Vec<(String, String)>,
    secret: &str,
) -> Vec<(String, String)> {
    let signature = rpc_signature(secret, &rpc_string_to_sign(method, &params));
    params.push(("Signature".to_owned(), signature));
    params
}

pub fn call(sts: &Sts, params: &[(String, String)]) -> Result<Value, RpcError> {
    call_with(sts, Method::POST, params)
}

/// AssumeRole called with `method`; a success as the JSON document it answers.
pub fn call_with(
    sts: &Sts,
    method: Method,
    params: &[(String, String)],
) -> Result<Value, RpcError> {
    sts.assume_role(&method, &Params::new(params.to_vec()))
        .map(|answer| answer.to_json("TEST-REQUEST"))
}

/// AssumeRole with the caller's signature over `unsigned(nonce)` with `name` set to `value`.
pub fn call_setting(sts: &Sts, nonce: &str, name: &str, value: &str) -> Result<Value, RpcError> {
    let mut params = unsigned(nonce);
    set(&mut params, name, value);
    call(sts, &signed("POST", params, "caller-secret"))
}

/// AssumeRole with the caller's signature over `unsigned(nonce)` without `name`.
pub fn call_without(sts: &Sts, nonce: &str, name: &str) -> Result<Value, RpcError> {
    let mut params = unsigned(nonce);
    params.retain(|(k, _)| k != name);
    call(sts, &signed("POST", params, "caller-secret"))
}

pub fn code_of(r: Result<Value, RpcError>) -> (u16, &'static str) {
    let e = r.expect_err("AssumeRole should be refused");
    (e.status, e.code)
}

pub fn encode(params: &[(String, String)]) -> String {
    params
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                maxcompute_tunnel::auth::pop_percent_encode(k),
                maxcompute_tunnel::auth::pop_percent_encode(v)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}
