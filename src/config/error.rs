//! Start-up configuration errors. Each names the key, where its value came from, the bad value
//! (never for a secret) and what is accepted.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("both {inline} and {file} are set; set only one of them to give the connector configuration document")]
    TwoDocuments {
        inline: &'static str,
        file: &'static str,
    },
    #[error("cannot read the configuration document {path:?} (from {env}): {source}")]
    ReadDocument {
        env: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the configuration document from {origin} is not valid JSON: {source}")]
    DocumentJson {
        origin: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("the configuration document from {origin} must be a JSON object, either the connector file shape {{\"name\": .., \"config\": {{..}}}} or the bare config object")]
    DocumentShape { origin: String },
    #[error("key `{key}` in the configuration document from {origin} must be a string, number or boolean, got {found}")]
    ValueType {
        key: String,
        origin: String,
        found: &'static str,
    },
    #[error("unknown configuration key `{key}` (from {origin}){hint}; remove it or check its spelling against docs/configuration.md")]
    UnknownKey {
        key: String,
        origin: String,
        hint: String,
    },
    #[error("required key `{key}` is missing or empty; set it in the configuration document or in {env}")]
    Missing {
        key: &'static str,
        env: &'static str,
    },
    #[error("key `{key}` (from {origin}) has invalid value {value:?}; allowed: {allowed}")]
    Invalid {
        key: &'static str,
        origin: String,
        value: String,
        allowed: String,
    },
    #[error("{0}")]
    Combination(String),
}
