//! In-memory tunnel sessions: batch uploads (blocks wait here until commit), streams and
//! downloads. Sessions do not survive a restart, as a client would re-create them; committed
//! data does (see [`crate::catalog`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use maxcompute_tunnel::{TableSchema, Value};

use crate::partition::ResolvedPartitionSpec;

/// Where a session writes or reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub project: String,
    pub table: String,
    pub spec: ResolvedPartitionSpec,
    pub schema: Arc<TableSchema>,
}

/// Batch upload session status, as the tunnel names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadStatus {
    Normal,
    Closed,
    Expired,
}

impl UploadStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            UploadStatus::Normal => "NORMAL",
            UploadStatus::Closed => "CLOSED",
            UploadStatus::Expired => "EXPIRED",
        }
    }
}

/// One uploaded, validated block.
#[derive(Debug, Clone)]
pub struct Block {
    pub stream: Vec<u8>,
    pub record_count: u64,
    pub uploaded: DateTime<Utc>,
}

#[derive(Debug)]
pub struct UploadSession {
    pub id: String,
    pub target: Target,
    pub overwrite: bool,
    pub created: DateTime<Utc>,
    pub committed: bool,
    pub blocks: BTreeMap<u32, Block>,
}

impl UploadSession {
    pub fn status(&self, now: DateTime<Utc>, ttl: Duration) -> UploadStatus {
        if self.committed {
            UploadStatus::Closed
        } else if expired(self.created, now, ttl) {
            UploadStatus::Expired
        } else {
            UploadStatus::Normal
        }
    }
}

#[derive(Debug)]
pub struct StreamSession {
    pub id: String,
    pub target: Target,
    pub slots: u32,
    pub created: DateTime<Utc>,
    pub last_write: Option<DateTime<Utc>>,
    pub writes: u64,
}

#[derive(Debug)]
pub struct DownloadSession {
    pub id: String,
    pub target: Target,
    pub created: DateTime<Utc>,
    /// The rows as of session creation: later commits do not change what a download reads.
    pub rows: Arc<Vec<Vec<Value>>>,
}

/// A session older than the TTL is expired (a TTL of zero expires sessions at once, for tests).
pub fn expired(created: DateTime<Utc>, now: DateTime<Utc>, ttl: Duration) -> bool {
    let ttl = chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::MAX);
    now - created >= ttl
}

/// One kind of session, by id. Only the map is locked here; each session that changes has its
/// own lock, so blocks of different sessions upload in parallel.
#[derive(Debug)]
pub struct Registry<T>(Mutex<HashMap<String, Arc<T>>>);

impl<T> Default for Registry<T> {
    fn default() -> Self {
        Registry(Mutex::default())
    }
}

impl<T> Registry<T> {
    pub fn insert(&self, id: String, session: T) -> Arc<T> {
        let session = Arc::new(session);
        lock(&self.0).insert(id, session.clone());
        session
    }

    pub fn get(&self, id: &str) -> Option<Arc<T>> {
        lock(&self.0).get(id).cloned()
    }
}

/// All sessions. Cheap to clone; clones share the sessions.
#[derive(Debug, Clone, Default)]
pub struct Sessions {
    pub uploads: Arc<Registry<Mutex<UploadSession>>>,
    pub streams: Arc<Registry<Mutex<StreamSession>>>,
    /// Downloads never change after creation, so they need no lock of their own.
    pub downloads: Arc<Registry<DownloadSession>>,
}

/// A fresh session id: 32 hex digits with a date prefix, the shape of MaxCompute's ids.
pub fn new_session_id(now: DateTime<Utc>) -> String {
    format!(
        "{}{}",
        now.format("%Y%m%d%H%M%S"),
        &uuid::Uuid::new_v4().simple().to_string()[..18]
    )
}

/// Locks a session or a registry. Session updates are single assignments and registry updates
/// single inserts, so a poisoned lock still holds consistent data.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
