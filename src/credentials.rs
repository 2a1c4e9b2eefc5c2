//! The credentials MaxCompute requests are signed with: a fixed AccessKey (`account_type=ALIYUN`)
//! or temporary STS credentials from AssumeRole (`account_type=STS`), cached for the life of the
//! process so that warm invocations reuse them and refresh only before they expire.

use std::sync::Arc;
use std::time::Duration;

use maxcompute_tunnel::auth::{
    AssumeRoleConfig, CredentialProvider, Credentials, StaticCredentialProvider, StsClient,
    StsCredentialProvider, StsError,
};

use crate::config::{AccountType, CredentialConfig};

pub const ENV_ACCESS_KEY_ID: &str = "ALIBABA_CLOUD_ACCESS_KEY_ID";
pub const ENV_ACCESS_KEY_SECRET: &str = "ALIBABA_CLOUD_ACCESS_KEY_SECRET";

#[derive(Debug, thiserror::Error)]
pub enum CredentialSetupError {
    #[error("account_type={account_type} needs an AccessKey: set access_id and access_key (or MC_ACCESS_ID and MC_ACCESS_KEY), or {ENV_ACCESS_KEY_ID} and {ENV_ACCESS_KEY_SECRET}")]
    MissingAccessKey { account_type: &'static str },
    #[error("account_type=STS: cannot set up the STS client for `sts.endpoint`: {0}")]
    Sts(#[from] StsError),
}

/// Builds the provider for `config`; `env` looks up the process environment (a map in tests).
///
/// Building does no network call: the first `credentials()` call assumes the role, so the
/// caller decides when a bad AccessKey or role surfaces (`main` does it at start-up).
pub fn provider(
    config: &CredentialConfig,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Arc<dyn CredentialProvider>, CredentialSetupError> {
    match config.account_type {
        AccountType::Aliyun => Ok(Arc::new(StaticCredentialProvider::new(access_key(
            config, &env, "ALIYUN",
        )?))),
        AccountType::Sts => {
            let permanent = access_key(config, &env, "STS")?;
            // Both are required for STS by configuration validation.
            let account_id = config.account_id.as_deref().unwrap_or_default();
            let role_name = config.role_name.as_deref().unwrap_or_default();
            let mut assume = AssumeRoleConfig::new(permanent, account_id, role_name)
                .with_endpoint(config.sts_endpoint.clone())
                .with_duration(Duration::from_secs(config.sts_duration_seconds));
            if let Some(region) = &config.region_id {
                assume = assume.with_region_id(region.clone());
            }
            let client = StsClient::new(assume)?;
            Ok(Arc::new(StsCredentialProvider::new(client).with_max_age(
                Duration::from_millis(config.client_timeout_ms),
            )))
        }
    }
}

/// The permanent AccessKey: configuration first, then Alibaba Cloud's standard variables.
fn access_key(
    config: &CredentialConfig,
    env: &impl Fn(&str) -> Option<String>,
    account_type: &'static str,
) -> Result<Credentials, CredentialSetupError> {
    let id = config
        .access_id
        .clone()
        .or_else(|| env(ENV_ACCESS_KEY_ID).filter(|v| !v.is_empty()));
    let secret = config
        .access_key
        .as_ref()
        .map(|s| s.expose().to_string())
        .or_else(|| env(ENV_ACCESS_KEY_SECRET).filter(|v| !v.is_empty()));
    match (id, secret) {
        (Some(id), Some(secret)) => Ok(Credentials::new(id, secret)),
        _ => Err(CredentialSetupError::MissingAccessKey { account_type }),
    }
}
