//! Stream mode: a stream session per partition value, kept across invocations of the same
//! process; each block is written as one pack, durable when the call returns.

use std::sync::Arc;

use maxcompute_tunnel::{
    Compression, PartitionSpec, StreamOptions, StreamSession, TableSchema, TunnelClient,
};
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::encode::PartitionBatch;
use super::error::InvocationError;

/// Sessions beyond this are dropped oldest-first, so that record-time partitioning over a
/// long backlog cannot grow the cache without bound.
const MAX_SESSIONS: usize = 64;

#[derive(Debug, Default)]
pub struct StreamSessions {
    sessions: Mutex<Vec<(String, Arc<StreamSession>)>>,
}

impl StreamSessions {
    async fn get(
        &self,
        client: &TunnelClient,
        table: &str,
        schema: &TableSchema,
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
        let session = client
            .create_stream_session(table, &options, deadline)
            .await
            .map_err(|source| InvocationError::tunnel(table, value, source))?;
        super::check_schema(table, schema, &session.schema())?;
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

    pub async fn write(
        &self,
        client: &TunnelClient,
        table: &str,
        schema: &TableSchema,
        spec: PartitionSpec,
        batch: PartitionBatch,
        deadline: Option<Instant>,
    ) -> Result<(), InvocationError> {
        let session = self
            .get(client, table, schema, &spec, &batch.value, deadline)
            .await?;
        for block in batch.blocks {
            let result = session
                .write_pack(
                    block.bytes.into(),
                    Compression::Deflate,
                    Some(block.records),
                    deadline,
                )
                .await;
            if let Err(source) = result {
                self.forget(&batch.value).await;
                return Err(InvocationError::tunnel(table, &batch.value, source));
            }
        }
        Ok(())
    }
}
