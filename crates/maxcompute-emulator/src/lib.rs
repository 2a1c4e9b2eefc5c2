//! A local MaxCompute service for tests and local runs, strict like the real one: REST metadata
//! under `/api`, the Tunnel (batch uploads, streams, downloads) at the root, STS AssumeRole under
//! `/sts/`, and fault injection under `/__admin/faults`, all on one 127.0.0.1 port.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use maxcompute_emulator::{start, EmulatorConfig};
//! let dir = tempfile::tempdir()?;
//! let emulator = start(EmulatorConfig::new(dir.path())).await?;
//! emulator.catalog().create_table_ddl(
//!     "emulator",
//!     "CREATE TABLE t (topic STRING, `offset` BIGINT) PARTITIONED BY (pt STRING);",
//! )?;
//! println!("API {} tunnel {}", emulator.api_endpoint(), emulator.tunnel_endpoint());
//! emulator.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! See the crate README for the error codes chosen where MaxCompute's behaviour is not
//! documented.

pub mod auth;
pub mod catalog;
pub mod config;
pub mod ddl;
pub mod error;
pub mod faults;
pub mod partition;
pub mod quota;
pub mod records;
pub mod request;
pub mod request_id;
pub mod rest;
mod server;
pub mod show;
pub mod state;
pub mod storage;
pub mod sts;
#[cfg(test)]
mod test_support;
pub mod tunnel;

pub use catalog::{Catalog, CatalogError, PartitionInfo, TableInfo};
pub use config::{Account, EmulatorConfig};
pub use error::OdpsError;
pub use faults::{FaultAction, FaultKind, Faults};
pub use partition::ResolvedPartitionSpec;
pub use server::{start, EmulatorHandle, StartError};
