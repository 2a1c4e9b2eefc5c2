//! Upsert sessions' client-side rules, exactly as the official SDKs compute them: which bucket
//! a row belongs to ([`KeyHasher`]).
//!
//! Upsert sessions write into MaxCompute Delta tables (Transaction Table 2.0, tables with a
//! primary key and `"transactional"="true"`): a row replaces the row with the same key instead
//! of adding a copy. The session spreads the table over buckets; each row must be sent to the
//! bucket its key hashes to.

mod hasher;

pub use hasher::{bucket_of, combine, is_hashable, HashError, HashFamily, KeyHasher, ValueError};
