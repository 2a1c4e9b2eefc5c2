//! A MaxCompute (ODPS) Tunnel client: request signing, the record codec, and batch and stream
//! upload sessions. It knows nothing of Lambda or Kafka.

pub mod auth;
pub mod client;
pub mod error;
pub mod partition_spec;
pub mod retry;
pub mod codec;
pub mod compress;
pub mod schema;
pub mod types;
pub mod value;

pub use auth::{CredentialProvider, Credentials, StaticCredentialProvider};
pub use client::{ClientConfig, Endpoint, RequestSpec, Service, TunnelClient};
pub use error::{Error, ServiceError};
pub use partition_spec::PartitionSpec;
pub use retry::RetryConfig;
pub use codec::{decode_stream, DecodeError, EncodeError, RecordEncoder};
pub use compress::Compression;
pub use schema::{Column, SchemaError, TableSchema};
pub use types::{TypeInfo, TypeParseError};
pub use value::Value;
