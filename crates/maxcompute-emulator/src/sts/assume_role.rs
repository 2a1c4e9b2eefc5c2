//! AssumeRole: its own parameters (the role, the session name, the duration) and the temporary
//! credentials it answers with, once the RPC call itself has been verified.

use std::time::Duration;

use axum::http::Method;
use serde_json::{json, Value};
use sha1::{Digest, Sha1};

use super::credentials::TemporaryCredentials;
use super::rpc::{Params, RpcError};
use super::Sts;

/// What a successful AssumeRole answers.
#[derive(Debug, Clone)]
pub(super) struct AssumedRole {
    role_arn: String,
    /// `<role id>:<session name>`.
    assumed_role_id: String,
    session_name: String,
    credentials: TemporaryCredentials,
}

impl AssumedRole {
    /// The answer's JSON document for the request `request_id`.
    pub fn to_json(&self, request_id: &str) -> Value {
        let c = &self.credentials;
        json!({
            "RequestId": request_id,
            "AssumedRoleUser": {
                "Arn": format!("{}/{}", self.role_arn, self.session_name),
                "AssumedRoleId": self.assumed_role_id,
            },
            "Credentials": {
                "AccessKeyId": c.access_id,
                "AccessKeySecret": c.secret,
                "SecurityToken": c.token,
                "Expiration": c.expires_at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            },
        })
    }
}

impl Sts {
    /// Runs AssumeRole on the decoded parameters of a call made with `method`.
    pub(super) fn assume_role(
        &self,
        method: &Method,
        params: &Params,
    ) -> Result<AssumedRole, RpcError> {
        let caller = params.verify(method, &self.accounts, &self.nonces)?;
        let role_arn = params.required("RoleArn")?;
        let (account_id, role_name) = parse_role_arn(role_arn).ok_or_else(|| {
            RpcError::new(
                400,
                "InvalidParameter.RoleArn",
                "The parameter RoleArn is wrongly formed.",
            )
        })?;
        if !self
            .config
            .role_arns
            .iter()
            .any(|r| r.eq_ignore_ascii_case(role_arn))
        {
            return Err(RpcError::new(
                404,
                "EntityNotExist.Role",
                "The specified Role not exists .",
            ));
        }
        let session_name = params.required("RoleSessionName")?;
        if !valid_session_name(session_name) {
            return Err(RpcError::new(
                400,
                "InvalidParameter.RoleSessionName",
                "The parameter RoleSessionName is wrongly formed.",
            ));
        }
        let duration = self.duration(params.get("DurationSeconds"))?;
        let lifetime = self.config.lifetime_override.unwrap_or(duration);
        let credentials = self.issue(lifetime);
        tracing::info!(
            caller,
            role = role_arn,
            session = session_name,
            expires_at = %credentials.expires_at,
            "STS credentials issued"
        );
        Ok(AssumedRole {
            role_arn: role_arn.to_owned(),
            assumed_role_id: format!("{}:{session_name}", role_id(account_id, role_name)),
            session_name: session_name.to_owned(),
            credentials,
        })
    }

    /// `DurationSeconds` within the configured limits, or the default when it is absent.
    fn duration(&self, raw: Option<&str>) -> Result<Duration, RpcError> {
        let Some(raw) = raw else {
            return Ok(self.config.default_duration);
        };
        let (min, max) = (self.config.min_duration, self.config.max_duration);
        raw.parse::<u64>()
            .ok()
            .map(Duration::from_secs)
            .filter(|d| (min..=max).contains(d))
            .ok_or_else(|| {
                RpcError::new(
                    400,
                    "InvalidParameter.DurationSeconds",
                    format!(
                        "The Min/Max value of DurationSeconds is {}/{}.",
                        human_duration(min),
                        human_duration(max)
                    ),
                )
            })
    }
}

/// `acs:ram::<account id>:role/<role name>` -> (account id, role name).
fn parse_role_arn(arn: &str) -> Option<(&str, &str)> {
    let rest = arn.strip_prefix("acs:ram::")?;
    let (account, role) = rest.split_once(":role/")?;
    let valid_account = !account.is_empty() && account.bytes().all(|b| b.is_ascii_digit());
    let valid_role = !role.is_empty()
        && role
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
    (valid_account && valid_role).then_some((account, role))
}

/// STS: 2 to 64 characters of `[A-Za-z0-9.@_-]`.
fn valid_session_name(name: &str) -> bool {
    (2..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'@' | b'-' | b'_'))
}

/// A stable 17-digit role id, like the numeric ids real roles have.
fn role_id(account_id: &str, role_name: &str) -> String {
    let digest = Sha1::digest(format!("{account_id}:{role_name}").as_bytes());
    let mut n = [0u8; 8];
    n.copy_from_slice(&digest[..8]);
    format!("3{:016}", u64::from_be_bytes(n) % 10_u64.pow(16))
}

/// 900 s -> "15min", 3600 s -> "1hr", as in the real error message.
fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s > 0 && s.is_multiple_of(3600) {
        format!("{}hr", s / 3600)
    } else if s > 0 && s.is_multiple_of(60) {
        format!("{}min", s / 60)
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, TimeDelta, Utc};

    use super::super::test_support::*;
    use super::*;
    use crate::sts::is_temporary_access_id;

    #[test]
    fn issues_credentials_that_validate() {
        let sts = sts();
        let answer = call(&sts, &signed("POST", unsigned("n1"), "caller-secret")).unwrap();
        let creds = &answer["Credentials"];
        let id = creds["AccessKeyId"].as_str().unwrap();
        let secret = creds["AccessKeySecret"].as_str().unwrap();
        let token = creds["SecurityToken"].as_str().unwrap();
        assert!(is_temporary_access_id(id));
        assert_eq!(
            answer["AssumedRoleUser"]["Arn"],
            format!("{ROLE}/kafka-session-1234567890")
        );
        assert!(answer["AssumedRoleUser"]["AssumedRoleId"]
            .as_str()
            .unwrap()
            .ends_with(":kafka-session-1234567890"));
        let expiration = DateTime::parse_from_rfc3339(creds["Expiration"].as_str().unwrap())
            .unwrap()
            .with_timezone(&Utc);
        let lifetime = expiration - Utc::now();
        assert!(lifetime <= TimeDelta::seconds(3600) && lifetime > TimeDelta::seconds(3500));
        assert_eq!(sts.validate(id, Some(token), sts.now()).unwrap(), secret);
        assert_eq!(sts.credentials_issued(), 1);
    }

    #[test]
    fn get_signature_does_not_verify_a_post() {
        let sts = sts();
        let params = signed("GET", unsigned("n1"), "caller-secret");
        assert_eq!(code_of(call(&sts, &params)), (400, "SignatureDoesNotMatch"));
        assert!(call_with(&sts, Method::GET, &params).is_ok());
    }

    #[test]
    fn rejects_wrong_secret_and_tampering() {
        let sts = sts();
        let bad = signed("POST", unsigned("n1"), "wrong-secret");
        let err = call(&sts, &bad).unwrap_err();
        assert_eq!((err.status, err.code), (400, "SignatureDoesNotMatch"));
        assert!(err
            .message
            .contains("server string to sign is:POST&%2F&AccessKeyId"));
        assert!(!err.message.contains("caller-secret"));

        let mut tampered = signed("POST", unsigned("n2"), "caller-secret");
        set(&mut tampered, "DurationSeconds", "1800");
        assert_eq!(
            code_of(call(&sts, &tampered)),
            (400, "SignatureDoesNotMatch")
        );
        assert_eq!(sts.credentials_issued(), 0);
    }

    #[test]
    fn rejects_bad_parameter_values() {
        let sts = sts();
        let old = Utc::now() - TimeDelta::minutes(16);
        let old = old.format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let cases = [
            (
                "AccessKeyId",
                "LTAI-nobody",
                (404, "InvalidAccessKeyId.NotFound"),
            ),
            (
                "Action",
                "GetCallerIdentity",
                (404, "InvalidAction.NotFound"),
            ),
            ("Version", "2014-05-26", (400, "InvalidVersion")),
            (
                "SignatureMethod",
                "HMAC-SHA256",
                (400, "IncompleteSignature"),
            ),
            ("Timestamp", &old, (400, "InvalidTimeStamp.Expired")),
            ("Timestamp", "yesterday", (400, "InvalidTimeStamp.Format")),
            (
                "RoleArn",
                "acs:ram::1234567890:role/other-role",
                (404, "EntityNotExist.Role"),
            ),
            (
                "RoleArn",
                "arn:aws:iam::1234567890:role/sink-role",
                (400, "InvalidParameter.RoleArn"),
            ),
            (
                "RoleSessionName",
                "a",
                (400, "InvalidParameter.RoleSessionName"),
            ),
            (
                "RoleSessionName",
                "has space",
                (400, "InvalidParameter.RoleSessionName"),
            ),
            (
                "RoleSessionName",
                "abc*abc",
                (400, "InvalidParameter.RoleSessionName"),
            ),
        ];
        for (i, (name, value, expected)) in cases.into_iter().enumerate() {
            let refusal = code_of(call_setting(&sts, &format!("n{i}"), name, value));
            assert_eq!(refusal, expected, "{name}={value}");
        }
        assert_eq!(sts.credentials_issued(), 0);
    }

    #[test]
    fn rejects_durations_outside_the_limits() {
        let sts = sts();
        for (i, d) in ["899", "3601", "abc", "-5"].iter().enumerate() {
            let err = call_setting(&sts, &format!("d{i}"), "DurationSeconds", d).unwrap_err();
            assert_eq!(
                (err.status, err.code),
                (400, "InvalidParameter.DurationSeconds"),
                "{d}"
            );
            assert_eq!(
                err.message,
                "The Min/Max value of DurationSeconds is 15min/1hr."
            );
        }
        assert!(call_without(&sts, "default", "DurationSeconds").is_ok());
    }

    #[test]
    fn rejects_missing_parameters() {
        let sts = sts();
        for name in [
            "AccessKeyId",
            "SignatureNonce",
            "Timestamp",
            "Version",
            "Action",
            "RoleArn",
        ] {
            let err = call_without(&sts, name, name).unwrap_err();
            assert_eq!((err.status, err.code), (400, "MissingParameter"));
            assert!(err.message.contains(name), "{}", err.message);
        }
        assert_eq!(
            code_of(call(&sts, &unsigned("no-signature"))),
            (400, "MissingParameter")
        );
    }

    #[test]
    fn rejects_replays() {
        let sts = sts();
        let p = signed("POST", unsigned("same"), "caller-secret");
        call(&sts, &p).unwrap();
        assert_eq!(code_of(call(&sts, &p)), (400, "SignatureNonceUsed"));
    }
}
