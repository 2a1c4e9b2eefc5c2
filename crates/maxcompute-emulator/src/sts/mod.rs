//! Emulated Alibaba Cloud STS: `AssumeRole` in the RPC style (API version 2015-04-01), and the
//! check that REST and tunnel requests signed with the temporary credentials carry the matching
//! security token and have not expired.
//!
//! The endpoint verifies the caller's permanent AccessKey signature exactly as the real service
//! does (see `maxcompute_tunnel::auth`) and answers with the real JSON shapes and error
//! codes (STS API reference, "AssumeRole", and the RPC common error codes). Its parts:
//!
//! * `rpc`: the RPC call (parameters from the query and a form body, the common parameters,
//!   the signature, replays) and the RPC error shape;
//! * `assume_role`: the action's own parameters and the credentials it issues;
//! * `credentials`: the issued credentials, the clock that expires them and the token check;
//! * `http`: the endpoint and its layers.

mod assume_role;
mod config;
mod credentials;
mod http;
mod rpc;
#[cfg(test)]
mod test_support;

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

pub use config::StsConfig;
pub use credentials::{is_temporary_access_id, StsAuthError};
pub use http::{router, STS_PATH};
pub use rpc::API_VERSION;

use credentials::CredentialStore;
use rpc::Nonces;

/// The emulated STS service. Cloning shares all state.
#[derive(Clone)]
pub struct Sts {
    config: Arc<StsConfig>,
    /// Permanent AccessKeyId -> secret.
    accounts: Arc<HashMap<String, String>>,
    credentials: CredentialStore,
    nonces: Nonces,
    calls: Arc<AtomicU64>,
}

impl fmt::Debug for Sts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sts")
            .field("config", &self.config)
            .field("accounts", &self.accounts.keys().collect::<Vec<_>>())
            .field("assume_role_calls", &self.assume_role_calls())
            .finish_non_exhaustive()
    }
}

impl Sts {
    /// `accounts` are the permanent `(AccessKeyId, secret)` pairs allowed to call AssumeRole.
    pub fn new(config: StsConfig, accounts: impl IntoIterator<Item = (String, String)>) -> Self {
        Self {
            config: Arc::new(config),
            accounts: Arc::new(accounts.into_iter().collect()),
            credentials: CredentialStore::default(),
            nonces: Nonces::default(),
            calls: Arc::default(),
        }
    }

    pub fn config(&self) -> &StsConfig {
        &self.config
    }

    /// Requests that reached the AssumeRole endpoint, whatever their outcome.
    pub fn assume_role_calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }

    fn count_call(&self) {
        self.calls.fetch_add(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::sts;

    #[test]
    fn debug_hides_secrets() {
        let sts = sts();
        let text = format!("{sts:?}");
        assert!(text.contains("LTAI-caller"));
        assert!(!text.contains("caller-secret"));
    }
}
