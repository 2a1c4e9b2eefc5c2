//! What one invocation did, returned to the caller and logged.

use std::collections::BTreeMap;

use serde::Serialize;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Records in the trigger event.
    pub records_in: u64,
    /// Rows made durable in MaxCompute, per partition value.
    pub rows_written: BTreeMap<String, u64>,
    /// Records dropped under `skip_error=true`.
    pub skipped: u64,
    /// Records acknowledged by the error topic.
    pub republished: u64,
    /// Records that could not be converted and made the invocation fail (no error topic, no
    /// skip_error).
    pub failed: u64,
}

impl Summary {
    pub fn rows_total(&self) -> u64 {
        self.rows_written.values().sum()
    }

    pub fn log(&self, outcome: &str) {
        tracing::info!(
            outcome,
            records_in = self.records_in,
            rows_written = self.rows_total(),
            rows_per_partition = %serde_json::to_string(&self.rows_written).unwrap_or_default(),
            skipped = self.skipped,
            republished = self.republished,
            failed = self.failed,
            "invocation summary"
        );
    }
}
