//! A MaxCompute (ODPS) Tunnel client: request signing, the record codec, and batch and stream
//! upload sessions. It knows nothing of Lambda or Kafka.

pub mod auth;
pub mod batch;
pub mod client;
pub mod codec;
pub mod compress;
pub mod error;
pub mod partition_spec;
mod percent;
pub mod schema;
pub mod stream;
pub mod types;
pub mod value;

pub use auth::{CredentialProvider, Credentials, StaticCredentialProvider};
pub use client::{ClientConfig, Endpoint, RetryConfig, TunnelClient};
pub use codec::{decode_stream, DecodeError, EncodeError, RecordEncoder};
pub use compress::Compression;
pub use error::{Error, ServiceError};
pub use partition_spec::PartitionSpec;
pub use schema::{Column, SchemaError, TableSchema};
pub use types::{TypeInfo, TypeParseError};
pub use value::Value;
