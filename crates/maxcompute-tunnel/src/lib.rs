#![doc = include_str!("../README.md")]

pub mod auth;
pub mod codec;
pub mod upsert;

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
