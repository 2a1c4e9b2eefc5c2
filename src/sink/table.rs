//! The one table every writer writes: the client, the table's name, and the schema the rows
//! were encoded against (loaded and checked at start-up).

use std::sync::Arc;

use maxcompute_tunnel::{TableSchema, TunnelClient};

use super::error::InvocationError;

#[derive(Debug)]
pub struct Table {
    pub client: TunnelClient,
    pub name: String,
    pub schema: Arc<TableSchema>,
}

impl Table {
    /// Rows are encoded against the start-up schema; a session over a changed table would
    /// misplace or reject them, so that is an error rather than a guess.
    pub fn check_session(&self, session: &TableSchema) -> Result<(), InvocationError> {
        if self.schema.same_data_columns(session) {
            return Ok(());
        }
        Err(InvocationError::SchemaChanged {
            table: self.name.clone(),
            detail: format!(
                "start-up: [{}]; now: [{}]",
                self.schema.describe_data_columns(),
                session.describe_data_columns()
            ),
        })
    }

    /// A Tunnel call failed while writing the partition `value`.
    pub fn tunnel_error(&self, value: &str, source: maxcompute_tunnel::Error) -> InvocationError {
        InvocationError::Tunnel {
            table: self.name.clone(),
            partition_value: value.to_string(),
            source: Box::new(source),
        }
    }
}
