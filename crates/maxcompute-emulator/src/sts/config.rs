//! What STS accepts: the roles that exist and the limits of `DurationSeconds`.

use std::time::Duration;

/// Roles that can be assumed and the limits of `DurationSeconds`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StsConfig {
    /// Role ARNs that exist, e.g. `acs:ram::1234567890:role/sink-role`.
    pub role_arns: Vec<String>,
    /// Lifetime when the request has no `DurationSeconds` (real STS: 3600 s).
    pub default_duration: Duration,
    /// Smallest accepted `DurationSeconds` (real STS: 900 s).
    pub min_duration: Duration,
    /// Largest accepted `DurationSeconds` (real STS: the role's MaxSessionDuration, 3600 s by
    /// default).
    pub max_duration: Duration,
    /// For tests: issue credentials with this lifetime whatever `DurationSeconds` asked for, so
    /// a client requesting an hour gets a token that expires in seconds.
    pub lifetime_override: Option<Duration>,
}

impl Default for StsConfig {
    fn default() -> Self {
        Self {
            role_arns: Vec::new(),
            default_duration: Duration::from_secs(3600),
            min_duration: Duration::from_secs(900),
            max_duration: Duration::from_secs(3600),
            lifetime_override: None,
        }
    }
}
