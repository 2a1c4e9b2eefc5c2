//! What the REST and tunnel handlers share.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::catalog::Catalog;
use crate::quota::Quota;
use crate::tunnel::sessions::Sessions;

/// The server's shared state. Cheap to clone.
#[derive(Clone)]
pub struct AppState(pub Arc<Inner>);

pub struct Inner {
    pub catalog: Catalog,
    pub sessions: Sessions,
    pub quota: Quota,
    /// `127.0.0.1:PORT`: what the tunnel reports as its own address (slots, routed server,
    /// endpoint discovery).
    pub host: String,
    pub max_field_size: usize,
    pub session_ttl: Duration,
    pub instances: Mutex<HashMap<String, InstanceRecord>>,
}

/// A SQL instance that ran (only DDL runs here, synchronously).
#[derive(Debug, Clone)]
pub struct InstanceRecord {
    pub project: String,
    pub sql: String,
    pub started: DateTime<Utc>,
}

impl Inner {
    pub fn record_instance(&self, id: String, record: InstanceRecord) {
        self.instances
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, record);
    }

    pub fn instance(&self, id: &str) -> Option<InstanceRecord> {
        self.instances
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
    }
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}
