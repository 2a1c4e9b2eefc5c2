//! Simulation of MaxCompute's batch-session creation limit: at most 500 upload sessions per
//! table in any 5-minute window (Tunnel docs, "TableTunnel"). Off unless configured, because a
//! real limit would make ordinary test suites flaky; tests that exercise the client's back-off
//! turn it on with a small limit.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::error::{ErrorCode, OdpsError};

/// How many batch sessions a table may create per window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaConfig {
    pub sessions_per_window: u32,
    pub window: Duration,
}

impl Default for QuotaConfig {
    /// MaxCompute's documented limit: 500 sessions per table per 5 minutes.
    fn default() -> Self {
        Self {
            sessions_per_window: 500,
            window: Duration::from_secs(5 * 60),
        }
    }
}

/// A session creation refused by the quota.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "Flow exceeded: table {project}.{table} already created {limit} upload sessions in the last \
     {window_secs} seconds; retry after {retry_after_secs} seconds"
)]
pub struct QuotaExceeded {
    pub project: String,
    pub table: String,
    pub limit: u32,
    pub window_secs: u64,
    /// Time until the oldest session in the window leaves it (rounded up to a second).
    pub retry_after_secs: u64,
}

impl QuotaExceeded {
    /// The code MaxCompute answers when a rate limit is hit: pyodps maps it to
    /// `errors.FlowExceeded`, a `RequestQuotaExceeded`, and its tunnel retry handler backs off.
    pub fn code(&self) -> &'static str {
        ErrorCode::FlowExceeded.as_str()
    }

    /// 429, which SDKs retry with back-off.
    pub fn status(&self) -> u16 {
        ErrorCode::FlowExceeded.status().as_u16()
    }
}

impl From<QuotaExceeded> for OdpsError {
    fn from(e: QuotaExceeded) -> Self {
        OdpsError::new(ErrorCode::FlowExceeded, e.to_string())
    }
}

/// Per `(project, table)`, the instants of the session creations still inside the window.
type Created = HashMap<(String, String), VecDeque<Instant>>;

/// Sliding-window counter of session creations per `(project, table)`. Cloning shares state.
#[derive(Debug, Clone, Default)]
pub struct Quota {
    config: Option<QuotaConfig>,
    created: Arc<Mutex<Created>>,
}

impl Quota {
    /// A quota that never refuses (the default).
    pub fn disabled() -> Self {
        Self::default()
    }

    /// A quota that enforces `config`.
    pub fn new(config: QuotaConfig) -> Self {
        Self {
            config: Some(config),
            created: Arc::default(),
        }
    }

    pub fn config(&self) -> Option<QuotaConfig> {
        self.config
    }

    /// Records one session creation for the table, or refuses it if the window is full.
    /// Refused attempts do not count, as a rejected request creates nothing.
    pub fn check_create_session(&self, project: &str, table: &str) -> Result<(), QuotaExceeded> {
        self.check_create_session_at(project, table, Instant::now())
    }

    /// [`Quota::check_create_session`] at an explicit instant, so tests need not sleep.
    pub fn check_create_session_at(
        &self,
        project: &str,
        table: &str,
        now: Instant,
    ) -> Result<(), QuotaExceeded> {
        let Some(config) = self.config else {
            return Ok(());
        };
        let mut created = self.created.lock().unwrap_or_else(|p| p.into_inner());
        let times = created
            .entry((project.to_owned(), table.to_owned()))
            .or_default();
        while times
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= config.window)
        {
            times.pop_front();
        }
        if times.len() >= config.sessions_per_window as usize {
            let oldest = times.front().copied().unwrap_or(now);
            let wait = config
                .window
                .saturating_sub(now.saturating_duration_since(oldest));
            return Err(QuotaExceeded {
                project: project.to_owned(),
                table: table.to_owned(),
                limit: config.sessions_per_window,
                window_secs: config.window.as_secs(),
                retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
            });
        }
        times.push_back(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Quota {
        Quota::new(QuotaConfig {
            sessions_per_window: 3,
            window: Duration::from_secs(60),
        })
    }

    #[test]
    fn disabled_by_default_never_refuses() {
        let q = Quota::default();
        assert_eq!(q.config(), None);
        let t0 = Instant::now();
        for _ in 0..2_000 {
            q.check_create_session_at("p", "t", t0).unwrap();
        }
    }

    #[test]
    fn default_config_is_maxcompute_limit() {
        let c = QuotaConfig::default();
        assert_eq!(c.sessions_per_window, 500);
        assert_eq!(c.window, Duration::from_secs(300));
    }

    #[test]
    fn refuses_over_limit_within_window_and_recovers_after_it() {
        let q = small();
        let t0 = Instant::now();
        for i in 0..3 {
            q.check_create_session_at("p", "t", t0 + Duration::from_secs(i * 10))
                .unwrap();
        }
        let err = q
            .check_create_session_at("p", "t", t0 + Duration::from_secs(30))
            .unwrap_err();
        assert_eq!(err.code(), "FlowExceeded");
        assert_eq!(err.status(), 429);
        assert_eq!(err.limit, 3);
        assert_eq!(err.window_secs, 60);
        // The oldest creation (t0) leaves the window at t0+60, 30 s later.
        assert_eq!(err.retry_after_secs, 30);
        assert!(err.to_string().contains("p.t"));

        // The refused attempt did not count: at t0+60 exactly one slot is free again.
        q.check_create_session_at("p", "t", t0 + Duration::from_secs(60))
            .unwrap();
        assert!(q
            .check_create_session_at("p", "t", t0 + Duration::from_secs(61))
            .is_err());
        // At t0+70 the creation from t0+10 has left the window too.
        q.check_create_session_at("p", "t", t0 + Duration::from_secs(70))
            .unwrap();
    }

    #[test]
    fn tables_are_counted_separately() {
        let q = small();
        let t0 = Instant::now();
        for _ in 0..3 {
            q.check_create_session_at("p", "a", t0).unwrap();
        }
        assert!(q.check_create_session_at("p", "a", t0).is_err());
        q.check_create_session_at("p", "b", t0).unwrap();
        q.check_create_session_at("other", "a", t0).unwrap();
    }

    #[test]
    fn clones_share_the_counter() {
        let q = small();
        let q2 = q.clone();
        let t0 = Instant::now();
        q.check_create_session_at("p", "t", t0).unwrap();
        q2.check_create_session_at("p", "t", t0).unwrap();
        q.check_create_session_at("p", "t", t0).unwrap();
        assert!(q2.check_create_session_at("p", "t", t0).is_err());
    }
}
