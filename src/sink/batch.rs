//! Batch mode: per invocation and partition value, one upload session, its blocks uploaded
//! deflate-compressed, and a commit before the invocation returns. Nothing is visible before
//! the commit, so a failed invocation leaves no partial partition behind.

use maxcompute_tunnel::{Compression, UploadOptions};
use tokio::time::Instant;

use super::encode::{Block, PartitionBatch};
use super::table::Table;
use super::writer::{Durable, TableWriter, WriteFailure, Written};

#[derive(Debug)]
pub struct BatchWriter {
    table: Table,
}

impl BatchWriter {
    pub fn new(table: Table) -> Self {
        BatchWriter { table }
    }
}

impl TableWriter for BatchWriter {
    /// One upload session per call, its blocks committed together before it returns.
    async fn write<'e>(&self, batch: PartitionBatch<'e>, deadline: Option<Instant>) -> Written<'e> {
        let table = &self.table;
        // Nothing of the session is durable before its commit.
        let failed = |error| WriteFailure {
            durable: Durable::default(),
            error,
        };
        let tunnel = |source| failed(table.tunnel_error(&batch.value, source));
        let options = UploadOptions {
            partition: Some(batch.spec.clone()),
            create_partition: true,
            overwrite: false,
        };
        let mut session = table
            .client
            .create_upload_session(&table.name, &options, deadline)
            .await
            .map_err(tunnel)?;
        table.check_session(session.schema()).map_err(failed)?;
        let mut ids = Vec::with_capacity(batch.blocks.len());
        let mut uploaded = Durable::default();
        for (id, Block { bytes, records }) in batch.blocks.into_iter().enumerate() {
            let id = u32::try_from(id).unwrap_or(u32::MAX);
            session
                .upload_block(id, bytes.into(), Compression::Deflate, deadline)
                .await
                .map_err(tunnel)?;
            ids.push(id);
            uploaded.add(records);
        }
        session.commit(&ids, deadline).await.map_err(tunnel)?;
        tracing::debug!(
            table = %table.name,
            partition = %batch.value,
            upload_id = session.upload_id(),
            blocks = ids.len(),
            rows = uploaded.rows(),
            "committed upload session"
        );
        Ok(uploaded)
    }
}
