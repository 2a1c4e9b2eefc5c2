//! Stream mode: a stream session per partition value, kept across invocations of the same
//! process; each block is written as one pack, durable when the call returns.

use std::sync::Arc;

use maxcompute_tunnel::{Compression, PartitionSpec, StreamOptions, StreamSession};
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::encode::{Block, PartitionBatch};
use super::error::InvocationError;
use super::table::Table;
use super::writer::{Durable, TableWriter, WriteFailure, Written};

/// Sessions beyond this are dropped oldest-first, so that record-time partitioning over a
/// long backlog cannot grow the cache without bound.
const MAX_SESSIONS: usize = 64;

#[derive(Debug)]
pub struct StreamWriter {
    table: Table,
    /// Open sessions by partition value, oldest first.
    sessions: Mutex<Vec<(String, Arc<StreamSession>)>>,
}

impl StreamWriter {
    pub fn new(table: Table) -> Self {
        StreamWriter {
            table,
            sessions: Mutex::default(),
        }
    }

    async fn session(
        &self,
        spec: &PartitionSpec,
        value: &str,
        deadline: Option<Instant>,
    ) -> Result<Arc<StreamSession>, InvocationError> {
        let mut sessions = self.sessions.lock().await;
        if let Some((_, s)) = sessions.iter().find(|(v, _)| v == value) {
            return Ok(Arc::clone(s));
        }
        let options = StreamOptions {
            partition: Some(spec.clone()),
            create_partition: true,
            slot_num: None,
        };
        let table = &self.table;
        let session = table
            .client
            .create_stream_session(&table.name, &options, deadline)
            .await
            .map_err(|source| table.tunnel_error(value, source))?;
        table.check_session(&session.schema())?;
        let session = Arc::new(session);
        if sessions.len() >= MAX_SESSIONS {
            sessions.remove(0);
        }
        sessions.push((value.to_string(), Arc::clone(&session)));
        Ok(session)
    }

    /// Forgets a session after a failure, so that the next invocation starts a fresh one.
    async fn forget(&self, value: &str) {
        self.sessions.lock().await.retain(|(v, _)| v != value);
    }
}

impl TableWriter for StreamWriter {
    /// One pack per block on the partition value's kept session; a failure forgets the
    /// session, and the packs written before it stay durable.
    async fn write<'e>(&self, batch: PartitionBatch<'e>, deadline: Option<Instant>) -> Written<'e> {
        let mut durable = Durable::default();
        let session = match self.session(&batch.spec, &batch.value, deadline).await {
            Ok(session) => session,
            Err(error) => return Err(WriteFailure { durable, error }),
        };
        for Block { bytes, records } in batch.blocks {
            let rows = records.len() as u64;
            let written = session
                .write_pack(bytes.into(), Compression::Deflate, Some(rows), deadline)
                .await;
            if let Err(source) = written {
                self.forget(&batch.value).await;
                let error = self.table.tunnel_error(&batch.value, source);
                return Err(WriteFailure { durable, error });
            }
            durable.add(records);
        }
        Ok(durable)
    }
}
