//! Upsert sessions' client-side rules: which bucket a row belongs to ([`KeyHasher`]) and how an
//! upsert record is laid out ([`UpsertLayout`]), exactly as the official SDKs compute them.
//!
//! Upsert sessions write into MaxCompute Delta tables (Transaction Table 2.0, tables with a
//! primary key and `"transactional"="true"`): a row replaces the row with the same key instead
//! of adding a copy. The session spreads the table over buckets; each row must be sent to the
//! bucket its key hashes to.

mod hasher;
mod layout;

pub use hasher::{bucket_of, combine, is_hashable, HashError, HashFamily, KeyHasher, ValueError};
pub use layout::{
    LayoutError, Operation, UpsertLayout, APP_VERSION_COLUMN, HIDDEN_COLUMNS, KEY_COLS_COLUMN,
    OPERATION_COLUMN, VALUE_COLS_COLUMN, VERSION_COLUMN,
};
