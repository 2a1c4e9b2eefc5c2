//! A MaxCompute (ODPS) Tunnel client: request signing, the record codec, and batch and stream
//! upload sessions. It knows nothing of Lambda or Kafka.
//!
//! Every public item has one path: the client, its sessions and the data model at the root;
//! credentials and signatures under [`auth`]; the record format under [`codec`].
//!
//! A batch upload: read the table's schema, encode rows against it, upload them as blocks of one
//! session, and commit, which publishes them all at once.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use std::time::Duration;
//!
//! use maxcompute_tunnel::auth::{Credentials, StaticCredentialProvider};
//! use maxcompute_tunnel::codec::RecordEncoder;
//! use maxcompute_tunnel::{
//!     ClientConfig, Compression, RetryConfig, TunnelClient, UploadOptions, Value,
//! };
//! use tokio::time::Instant;
//!
//! let credentials = Arc::new(StaticCredentialProvider::new(Credentials::new("id", "secret")));
//! let config = ClientConfig::new("http://127.0.0.1:8080/api", "my_project", credentials)
//!     .with_tunnel_endpoint("http://127.0.0.1:8080")
//!     .with_user_agent("my-loader/1.0")
//!     .with_retry(RetryConfig { max_attempts: 4, ..RetryConfig::default() });
//! let client = TunnelClient::new(config)?;
//! // Every call takes an optional deadline that its retries never wait past.
//! let deadline = Some(Instant::now() + Duration::from_secs(60));
//!
//! let schema = Arc::new(client.table_schema("events", deadline).await?);
//! let mut encoder = RecordEncoder::new(Arc::clone(&schema));
//! encoder.append(&[Value::from("hello"), Value::Int(1)])?;
//!
//! let options = UploadOptions {
//!     partition: Some("pt=2024".parse()?),
//!     create_partition: true,
//!     overwrite: false,
//! };
//! let mut session = client
//!     .create_upload_session("events", &options, deadline)
//!     .await?
//!     .with_max_block_bytes(64 << 20);
//! session
//!     .upload_block(0, encoder.finish().into(), Compression::Deflate, deadline)
//!     .await?;
//! session.commit(&[0], deadline).await?;
//! # Ok(()) }
//! ```

pub mod auth;
pub mod codec;

mod batch;
mod client;
mod compress;
mod error;
mod partition_spec;
mod percent;
mod schema;
mod stream;
mod types;
mod value;

pub use batch::{SessionStatus, UploadOptions, UploadSession, UploadSessionInfo};
pub use client::{ClientConfig, Endpoint, RetryConfig, TunnelClient};
pub use compress::Compression;
pub use error::{Error, ServiceError, TransportKind};
pub use partition_spec::{PartitionSpec, PartitionSpecError};
pub use schema::{Column, SchemaError, TableSchema};
pub use stream::{Slot, StreamOptions, StreamSession, StreamSessionInfo};
pub use types::{TypeInfo, TypeParseError};
pub use value::Value;
