//! The emulator's settings, with defaults fit for local tests.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// A permanent AccessKey pair. `Debug` hides the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Account {
    pub access_id: String,
    pub secret: String,
}

impl Account {
    pub fn new(access_id: impl Into<String>, secret: impl Into<String>) -> Self {
        Account {
            access_id: access_id.into(),
            secret: secret.into(),
        }
    }
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("access_id", &self.access_id)
            .field("secret", &"******")
            .finish()
    }
}

/// The AccessKeyId accepted by default (local use only).
pub const DEFAULT_ACCESS_ID: &str = "mc-emulator-id";
/// The AccessKey secret accepted by default (local use only).
pub const DEFAULT_ACCESS_KEY: &str = "mc-emulator-secret";
/// The project created by default.
pub const DEFAULT_PROJECT: &str = "emulator";

/// MaxCompute's `MaxFieldSize`: the largest string or binary value, 8 MiB.
pub const DEFAULT_MAX_FIELD_SIZE: usize = 8 * 1024 * 1024;
/// Tunnel sessions are valid for 24 hours.
pub const DEFAULT_SESSION_TTL: Duration = Duration::from_secs(24 * 3600);
/// Requests whose `Date` is further than this from the server clock are refused.
pub const DEFAULT_MAX_CLOCK_SKEW: Duration = Duration::from_secs(15 * 60);

/// Everything [`start`](crate::start) needs.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// Where tables and committed data live; reopening the same directory restores them.
    pub data_dir: PathBuf,
    /// Address to listen on; the default `127.0.0.1:0` picks a free port.
    pub bind: SocketAddr,
    /// Permanent AccessKey pairs.
    pub accounts: Vec<Account>,
    /// Projects created at start (existing ones under `data_dir` are always loaded).
    pub projects: Vec<String>,
    /// Largest string/binary value accepted in a record (`MaxFieldSize`).
    pub max_field_size: usize,
    /// How long an upload, stream or download session stays usable.
    pub session_ttl: Duration,
    /// Largest accepted difference between a request's `Date` and the server clock.
    pub max_clock_skew: Duration,
    /// STS AssumeRole settings.
    pub sts: crate::sts::StsConfig,
    /// Session-creation quota; `None` (the default) means unlimited.
    pub quota: Option<crate::quota::QuotaConfig>,
}

impl EmulatorConfig {
    /// Defaults (one account, one project, 127.0.0.1 on a free port) storing data in `data_dir`.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        EmulatorConfig {
            data_dir: data_dir.into(),
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            accounts: vec![Account::new(DEFAULT_ACCESS_ID, DEFAULT_ACCESS_KEY)],
            projects: vec![DEFAULT_PROJECT.to_string()],
            max_field_size: DEFAULT_MAX_FIELD_SIZE,
            session_ttl: DEFAULT_SESSION_TTL,
            max_clock_skew: DEFAULT_MAX_CLOCK_SKEW,
            sts: crate::sts::StsConfig::default(),
            quota: None,
        }
    }
}
