//! A MaxCompute (ODPS) Tunnel client: request signing, the record codec, and batch and stream
//! upload sessions. It knows nothing of Lambda or Kafka.

pub mod schema;
pub mod types;
pub mod value;

pub use schema::{Column, SchemaError, TableSchema};
pub use types::{TypeInfo, TypeParseError};
pub use value::Value;
