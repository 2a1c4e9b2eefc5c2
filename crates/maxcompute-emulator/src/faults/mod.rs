//! Fault injection for reliability tests: make the next N requests of a kind fail, stall, lose
//! their connection, or (for commit and stream write) take effect and then lose the response.
//!
//! Tests queue faults through the library ([`Faults::inject`]) or over HTTP through
//! [`admin_router`] (mounted by the server at `/__admin/faults`). The [`check`] layer in front of
//! the handlers consumes them ([`Faults::take`]) and acts them out.

mod admin;
mod check;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use admin::{admin_router, ActionSpec, FaultSpec};
pub use check::{check, Classify, FaultCheck};

/// The request kinds a fault can target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// `POST …/tables/<t>?uploads` (batch) and `POST …/streams` (stream session creation).
    CreateSession,
    /// `PUT …/tables/<t>?uploadid=&blockid=`.
    BlockUpload,
    /// `POST …/tables/<t>?uploadid=` (batch commit).
    Commit,
    /// `PUT …/streams?uploadid=&slotid=`.
    StreamWrite,
    /// STS `AssumeRole`.
    AssumeRole,
    /// REST `GET /projects/<p>/tables/<t>` (with or without `?extended` / `?partition=`).
    TableMetadata,
}

impl FaultKind {
    /// Kinds whose change can be applied before the response is lost.
    pub fn can_apply_then_drop(self) -> bool {
        matches!(self, FaultKind::Commit | FaultKind::StreamWrite)
    }
}

/// What happens to a request hit by a fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultAction {
    /// Answer with this status and a tunnel-shaped JSON error, without touching any state.
    Fail {
        status: u16,
        code: String,
        message: String,
    },
    /// Wait this long, then handle the request normally.
    Delay(Duration),
    /// Abort the connection without sending a response, without touching any state.
    DropConnection,
    /// Handle the request (the change becomes durable), then abort the connection instead of
    /// answering, so the client cannot tell whether it took effect. Commit and stream write only.
    ApplyThenDrop,
}

/// A rejected [`Faults::inject`] call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InjectError {
    #[error("fail status {0} is not an error status (expected 300..=599)")]
    StatusNotAnError(u16),
    #[error("apply_then_drop only applies to commit and stream_write, not {0:?}")]
    CannotApply(FaultKind),
    #[error("fail code must not be empty")]
    EmptyCode,
}

/// One queued fault and how many more requests it will hit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingFault {
    pub kind: FaultKind,
    pub action: FaultAction,
    pub remaining: u32,
}

/// Per kind, the queued actions with the number of hits each has left.
type Queues = HashMap<FaultKind, VecDeque<(FaultAction, u32)>>;

/// Shared, cloneable fault queue: one FIFO per [`FaultKind`].
#[derive(Debug, Clone, Default)]
pub struct Faults {
    queues: Arc<Mutex<Queues>>,
}

impl Faults {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Queues> {
        // A panic while holding this lock cannot leave the queues half-updated (every update is
        // a single push/pop), so a poisoned lock is still safe to use.
        self.queues.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Makes the next `times` requests of `kind` (after those already queued) hit `action`.
    /// `times == 0` queues nothing.
    pub fn inject(
        &self,
        kind: FaultKind,
        action: FaultAction,
        times: u32,
    ) -> Result<(), InjectError> {
        match &action {
            FaultAction::Fail { status, code, .. } => {
                if !(300..=599).contains(status) {
                    return Err(InjectError::StatusNotAnError(*status));
                }
                if code.is_empty() {
                    return Err(InjectError::EmptyCode);
                }
            }
            FaultAction::ApplyThenDrop if !kind.can_apply_then_drop() => {
                return Err(InjectError::CannotApply(kind));
            }
            _ => {}
        }
        if times > 0 {
            tracing::info!(?kind, ?action, times, "fault injected");
            self.lock()
                .entry(kind)
                .or_default()
                .push_back((action, times));
        }
        Ok(())
    }

    /// Consumes one hit of the oldest fault queued for `kind`.
    pub fn take(&self, kind: FaultKind) -> Option<FaultAction> {
        let mut queues = self.lock();
        let queue = queues.get_mut(&kind)?;
        let (action, remaining) = queue.front_mut()?;
        let taken = action.clone();
        *remaining -= 1;
        if *remaining == 0 {
            queue.pop_front();
        }
        tracing::info!(?kind, action = ?taken, "fault triggered");
        Some(taken)
    }

    /// Removes every queued fault.
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// The queued faults, grouped by kind in a stable order, oldest first within a kind.
    pub fn pending(&self) -> Vec<PendingFault> {
        let queues = self.lock();
        let mut out: Vec<PendingFault> = queues
            .iter()
            .flat_map(|(kind, q)| {
                q.iter().map(|(action, remaining)| PendingFault {
                    kind: *kind,
                    action: action.clone(),
                    remaining: *remaining,
                })
            })
            .collect();
        // HashMap order is arbitrary; a stable sort by kind keeps the FIFO order inside a kind.
        out.sort_by_key(|p| p.kind as u8);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An injected failure whose message names its code.
    pub(super) fn fail(status: u16, code: &str) -> FaultAction {
        FaultAction::Fail {
            status,
            code: code.to_owned(),
            message: format!("injected {code}"),
        }
    }

    #[test]
    fn faults_are_consumed_in_order_and_per_kind() {
        let f = Faults::new();
        f.inject(FaultKind::Commit, fail(500, "InternalServerError"), 2)
            .unwrap();
        f.inject(FaultKind::Commit, FaultAction::ApplyThenDrop, 1)
            .unwrap();
        f.inject(FaultKind::BlockUpload, FaultAction::DropConnection, 1)
            .unwrap();

        assert_eq!(f.take(FaultKind::StreamWrite), None);
        assert_eq!(
            f.take(FaultKind::BlockUpload),
            Some(FaultAction::DropConnection)
        );
        assert_eq!(f.take(FaultKind::BlockUpload), None);
        assert_eq!(
            f.take(FaultKind::Commit),
            Some(fail(500, "InternalServerError"))
        );
        assert_eq!(
            f.pending(),
            vec![
                PendingFault {
                    kind: FaultKind::Commit,
                    action: fail(500, "InternalServerError"),
                    remaining: 1
                },
                PendingFault {
                    kind: FaultKind::Commit,
                    action: FaultAction::ApplyThenDrop,
                    remaining: 1
                },
            ]
        );
        assert_eq!(
            f.take(FaultKind::Commit),
            Some(fail(500, "InternalServerError"))
        );
        assert_eq!(f.take(FaultKind::Commit), Some(FaultAction::ApplyThenDrop));
        assert_eq!(f.take(FaultKind::Commit), None);
        assert!(f.pending().is_empty());
    }

    #[test]
    fn clones_share_and_clear_empties() {
        let f = Faults::new();
        let g = f.clone();
        f.inject(FaultKind::AssumeRole, FaultAction::DropConnection, 3)
            .unwrap();
        assert_eq!(
            g.take(FaultKind::AssumeRole),
            Some(FaultAction::DropConnection)
        );
        assert_eq!(f.pending()[0].remaining, 2);
        g.clear();
        assert_eq!(f.take(FaultKind::AssumeRole), None);
        f.inject(FaultKind::AssumeRole, FaultAction::DropConnection, 0)
            .unwrap();
        assert!(f.pending().is_empty());
    }

    #[test]
    fn invalid_injections_are_refused() {
        let f = Faults::new();
        assert_eq!(
            f.inject(FaultKind::BlockUpload, FaultAction::ApplyThenDrop, 1),
            Err(InjectError::CannotApply(FaultKind::BlockUpload))
        );
        assert_eq!(
            f.inject(FaultKind::Commit, fail(200, "Ok"), 1),
            Err(InjectError::StatusNotAnError(200))
        );
        assert_eq!(
            f.inject(FaultKind::Commit, fail(500, ""), 1),
            Err(InjectError::EmptyCode)
        );
        assert!(f.pending().is_empty());
    }
}
