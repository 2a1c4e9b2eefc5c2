//! Retry policy: which failures to repeat, how long to wait, and when to stop.
//!
//! Backoff is exponential with "equal jitter": the n-th wait (n from 0) is drawn uniformly from
//! `[e/2, e]` with `e = min(cap, base * 2^n)`, so retries of many clients spread out while each
//! still waits at least half the nominal time. A caller-supplied deadline is never slept past:
//! if the next wait would end after it, the policy gives up and says so.

use std::time::Duration;

use tokio::time::Instant;

use crate::error::Error;

/// Retry settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryConfig {
    /// Nominal first wait.
    pub base: Duration,
    /// Longest single wait.
    pub cap: Duration,
    /// Attempts in total, the first included (1 = never retry).
    pub max_attempts: u32,
}

impl Default for RetryConfig {
    /// 0.5 s doubling to 30 s, 8 attempts: rides out a short service hiccup (about a minute and a
    /// half in the worst case) while leaving a Lambda invocation time to report the failure.
    fn default() -> Self {
        RetryConfig {
            base: Duration::from_millis(500),
            cap: Duration::from_secs(30),
            max_attempts: 8,
        }
    }
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Wait this long, then try again.
    RetryAfter(Duration),
    /// The error is final (e.g. a 4xx other than 408/429).
    Fail,
    /// `max_attempts` reached.
    Exhausted,
    /// The next wait would end after the deadline.
    DeadlinePassed,
}

impl RetryConfig {
    /// The nominal wait (before jitter) after the `attempt`-th failure (1-based).
    pub fn nominal_backoff(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(30);
        self.base
            .checked_mul(1u32 << exponent)
            .unwrap_or(self.cap)
            .min(self.cap)
    }

    /// The wait after the `attempt`-th failure, with `jitter` in `[0, 1)` choosing a point in
    /// `[nominal/2, nominal]`.
    pub fn backoff(&self, attempt: u32, jitter: f64) -> Duration {
        let nominal = self.nominal_backoff(attempt);
        let jitter = if jitter.is_finite() {
            jitter.clamp(0.0, 1.0)
        } else {
            0.0
        };
        nominal / 2 + (nominal / 2).mul_f64(jitter)
    }

    /// Decides after the `attempt`-th failed attempt (1-based) with `error`, at `now`.
    /// `jitter` in `[0, 1)` is injected so the decision is deterministic under test.
    pub fn decide(
        &self,
        error: &Error,
        attempt: u32,
        now: Instant,
        deadline: Option<Instant>,
        jitter: f64,
    ) -> Decision {
        if !error.is_retryable() {
            return Decision::Fail;
        }
        if attempt >= self.max_attempts {
            return Decision::Exhausted;
        }
        let wait = self.backoff(attempt, jitter);
        match deadline {
            Some(deadline) if now + wait >= deadline => Decision::DeadlinePassed,
            _ => Decision::RetryAfter(wait),
        }
    }
}

/// Wraps the last error of a retry loop that stopped for `decision`.
pub(crate) fn give_up(decision: Decision, operation: &str, attempts: u32, last: Error) -> Error {
    match decision {
        Decision::Exhausted => Error::RetriesExhausted {
            operation: operation.to_owned(),
            attempts,
            last: Box::new(last),
        },
        Decision::DeadlinePassed => Error::DeadlineExceeded {
            operation: operation.to_owned(),
            attempts,
            last: Box::new(last),
        },
        Decision::Fail | Decision::RetryAfter(_) => last,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nominal_backoff_doubles_up_to_the_cap() {
        let c = RetryConfig {
            base: Duration::from_millis(100),
            cap: Duration::from_millis(1000),
            max_attempts: 50,
        };
        let got: Vec<u128> = (1..=6).map(|a| c.nominal_backoff(a).as_millis()).collect();
        assert_eq!(got, vec![100, 200, 400, 800, 1000, 1000]);
        assert_eq!(c.nominal_backoff(40), Duration::from_millis(1000));
    }

    #[test]
    fn jittered_backoff_stays_within_half_and_full_nominal() {
        let c = RetryConfig::default();
        for attempt in 1..12 {
            let nominal = c.nominal_backoff(attempt);
            for jitter in [0.0, 0.25, 0.5, 0.999, 1.0, -3.0, f64::NAN] {
                let d = c.backoff(attempt, jitter);
                assert!(d >= nominal / 2 && d <= nominal, "{attempt} {jitter} {d:?}");
            }
            assert_eq!(c.backoff(attempt, 0.0), nominal / 2);
        }
    }
}
