//! What the sink is built from, once per process: connect, load the table schema and check it
//! against the format, choose the table writer. Every problem here is a start-up error, never a
//! per-record one.

use std::sync::Arc;
use std::time::Duration;

use maxcompute_tunnel::auth::CredentialProvider;
use maxcompute_tunnel::{ClientConfig, RetryConfig, TunnelClient};
use tokio::time::Instant;

use super::batch::BatchWriter;
use super::encode::Encoder;
use super::stream::StreamWriter;
use super::table::Table;
use super::writer::DynTableWriter;
use crate::config::SinkConfig;
use crate::convert::{Converter, SchemaMismatch};
use crate::partition::{PartitionColumnError, Partitioner};

pub const USER_AGENT: &str = concat!("maxcompute-kafka-sink/", env!("CARGO_PKG_VERSION"));

/// Time the start-up checks may take. Lambda gives the init phase 10 s; an unreachable endpoint
/// or a refused AssumeRole must fail within it with its own message, not a platform timeout.
pub const STARTUP_BUDGET: Duration = Duration::from_secs(8);

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot build the MaxCompute client: {0}")]
    Client(#[source] maxcompute_tunnel::Error),
    #[error("cannot read the schema of table {table} in project {project} (check project, table, endpoint and credentials): {source}")]
    Schema {
        project: String,
        table: String,
        #[source]
        source: maxcompute_tunnel::Error,
    },
    #[error(transparent)]
    Mismatch(#[from] SchemaMismatch),
    #[error(transparent)]
    Partition(#[from] PartitionColumnError),
}

/// What `Sink::build` needs besides the error policy: connects, loads the table schema and
/// checks it against the format and the partition column.
pub async fn connect(
    config: &SinkConfig,
    credentials: Arc<dyn CredentialProvider>,
) -> Result<(Encoder, Box<dyn DynTableWriter>), StartupError> {
    let client = client(config, credentials).map_err(StartupError::Client)?;
    let schema = client
        .table_schema(&config.target.table, Some(Instant::now() + STARTUP_BUDGET))
        .await
        .map_err(|source| StartupError::Schema {
            project: config.target.project.clone(),
            table: config.target.table.clone(),
            source,
        })?;
    let schema = Arc::new(schema);
    let converter = Converter::new(config, &schema)?;
    let partitioner = Partitioner::new(&config.partition)?;
    tracing::info!(
        project = %config.target.project,
        table = %config.target.table,
        format = config.format.name(),
        mode = config.mode.name(),
        streaming = config.use_streaming,
        "table schema loaded and checked"
    );
    let block_bytes = config.buffer_size_kb as usize * 1024;
    let table = Table {
        client,
        name: config.target.table.clone(),
        schema: Arc::clone(&schema),
    };
    let encoder = Encoder::new(converter, partitioner, schema, block_bytes);
    Ok((encoder, writer(config, table)))
}

fn client(
    config: &SinkConfig,
    credentials: Arc<dyn CredentialProvider>,
) -> Result<TunnelClient, maxcompute_tunnel::Error> {
    let target = &config.target;
    let mut client_config = ClientConfig::new(&target.endpoint, &target.project, credentials)
        .with_user_agent(USER_AGENT)
        .with_retry(RetryConfig {
            max_attempts: config.retry_times + 1,
            ..RetryConfig::default()
        });
    if let Some(tunnel) = &target.tunnel_endpoint {
        client_config = client_config.with_tunnel_endpoint(tunnel);
    }
    if let Some(schema) = &target.schema {
        client_config = client_config.with_schema(schema);
    }
    TunnelClient::new(client_config)
}

/// The one place the table writer is chosen.
fn writer(config: &SinkConfig, table: Table) -> Box<dyn DynTableWriter> {
    if config.use_streaming {
        Box::new(StreamWriter::new(table))
    } else {
        Box::new(BatchWriter::new(table))
    }
}
