//! Batch mode: per invocation and partition value, one upload session, its blocks uploaded
//! deflate-compressed, and a commit before the invocation returns. Nothing is visible before
//! the commit, so a failed invocation leaves no partial partition behind.

use maxcompute_tunnel::{Compression, PartitionSpec, TableSchema, TunnelClient, UploadOptions};
use tokio::time::Instant;

use super::encode::PartitionBatch;
use super::error::InvocationError;

pub async fn write(
    client: &TunnelClient,
    table: &str,
    schema: &TableSchema,
    spec: PartitionSpec,
    batch: PartitionBatch,
    deadline: Option<Instant>,
) -> Result<(), InvocationError> {
    let tunnel = |source| InvocationError::tunnel(table, &batch.value, source);
    let options = UploadOptions {
        partition: Some(spec),
        create_partition: true,
        overwrite: false,
    };
    let mut session = client
        .create_upload_session(table, &options, deadline)
        .await
        .map_err(tunnel)?;
    super::check_schema(table, schema, session.schema())?;
    let rows = batch.rows();
    let mut ids = Vec::with_capacity(batch.blocks.len());
    for (id, block) in batch.blocks.into_iter().enumerate() {
        let id = u32::try_from(id).unwrap_or(u32::MAX);
        session
            .upload_block(id, block.bytes.into(), Compression::Deflate, deadline)
            .await
            .map_err(tunnel)?;
        ids.push(id);
    }
    session.commit(&ids, deadline).await.map_err(tunnel)?;
    tracing::debug!(
        table,
        partition = %batch.value,
        upload_id = session.upload_id(),
        blocks = ids.len(),
        rows,
        "committed upload session"
    );
    Ok(())
}
