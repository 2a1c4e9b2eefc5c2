//! The credential seam. AccessKey credentials are built here; STS AssumeRole with its cache is
//! issue 6's provider and plugs in through `maxcompute_tunnel::CredentialProvider`.

use std::sync::Arc;

use maxcompute_tunnel::{CredentialProvider, Credentials, StaticCredentialProvider};

use crate::config::{AccountType, CredentialConfig};

pub const ENV_ACCESS_KEY_ID: &str = "ALIBABA_CLOUD_ACCESS_KEY_ID";
pub const ENV_ACCESS_KEY_SECRET: &str = "ALIBABA_CLOUD_ACCESS_KEY_SECRET";

#[derive(Debug, thiserror::Error)]
pub enum CredentialSetupError {
    #[error("account_type=ALIYUN needs an AccessKey: set access_id and access_key (or MC_ACCESS_ID and MC_ACCESS_KEY), or {ENV_ACCESS_KEY_ID} and {ENV_ACCESS_KEY_SECRET}")]
    MissingAccessKey,
    #[error("account_type=STS needs the STS credential provider, which this build does not include yet; use account_type=ALIYUN")]
    StsUnavailable,
}

/// Builds the provider for `config`; `env` looks up the process environment (a map in tests).
pub fn provider(
    config: &CredentialConfig,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Arc<dyn CredentialProvider>, CredentialSetupError> {
    match config.account_type {
        AccountType::Sts => Err(CredentialSetupError::StsUnavailable),
        AccountType::Aliyun => {
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
                (Some(id), Some(secret)) => Ok(Arc::new(StaticCredentialProvider::new(
                    Credentials::new(id, secret),
                ))),
                _ => Err(CredentialSetupError::MissingAccessKey),
            }
        }
    }
}
