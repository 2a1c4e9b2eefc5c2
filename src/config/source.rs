//! Gathers raw key values: the connector JSON document (inline or from a file) first, then one
//! environment variable per key, which wins. Validation happens later, in one place.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::error::ConfigError;
use super::keys;

/// A raw value and where it came from, so that errors can say which source to fix.
#[derive(Debug, Clone)]
pub struct RawValue {
    pub text: String,
    pub origin: String,
}

/// Raw values by key name, plus the Connect-only keys that were seen and ignored.
#[derive(Debug, Default)]
pub struct RawConfig {
    pub values: BTreeMap<String, RawValue>,
    pub ignored: Vec<String>,
}

impl RawConfig {
    /// Reads the document and per-key variables from `vars` (the process environment in
    /// production, a plain list in tests); a later variable wins over an earlier one.
    pub fn gather(vars: Vec<(String, String)>) -> Result<RawConfig, ConfigError> {
        let env: BTreeMap<String, String> = vars.into_iter().collect();
        let mut raw = RawConfig::default();

        let inline = env.get(keys::ENV_DOCUMENT).filter(|v| !v.trim().is_empty());
        let file = env
            .get(keys::ENV_DOCUMENT_FILE)
            .filter(|v| !v.trim().is_empty());
        match (inline, file) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::TwoDocuments {
                    inline: keys::ENV_DOCUMENT,
                    file: keys::ENV_DOCUMENT_FILE,
                })
            }
            (Some(text), None) => raw.add_document(text, keys::ENV_DOCUMENT.to_string())?,
            (None, Some(path)) => {
                let path = PathBuf::from(path);
                let text =
                    std::fs::read_to_string(&path).map_err(|source| ConfigError::ReadDocument {
                        env: keys::ENV_DOCUMENT_FILE,
                        path: path.clone(),
                        source,
                    })?;
                raw.add_document(&text, format!("{}", path.display()))?;
            }
            (None, None) => {}
        }

        for key in keys::KEYS {
            if let Some(text) = env.get(key.env) {
                raw.values.insert(
                    key.name.to_string(),
                    RawValue {
                        text: text.clone(),
                        origin: key.env.to_string(),
                    },
                );
            }
        }
        Ok(raw)
    }

    fn add_document(&mut self, text: &str, origin: String) -> Result<(), ConfigError> {
        let doc: serde_json::Value =
            serde_json::from_str(text).map_err(|source| ConfigError::DocumentJson {
                origin: origin.clone(),
                source,
            })?;
        let Some(top) = doc.as_object() else {
            return Err(ConfigError::DocumentShape { origin });
        };
        // The connector file nests the keys under "config"; a bare object holds them directly.
        let entries = match top.get("config") {
            Some(serde_json::Value::Object(inner)) => inner,
            Some(_) => return Err(ConfigError::DocumentShape { origin }),
            None => top,
        };
        for (name, value) in entries {
            let text = match value {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Bool(b) => b.to_string(),
                serde_json::Value::Number(n) => n.to_string(),
                // JSON null means "not set", like an absent key.
                serde_json::Value::Null => continue,
                serde_json::Value::Array(_) | serde_json::Value::Object(_) => {
                    return Err(ConfigError::ValueType {
                        key: name.clone(),
                        origin,
                        found: if value.is_array() {
                            "an array"
                        } else {
                            "an object"
                        },
                    })
                }
            };
            if keys::is_connect_only(name) {
                self.ignored.push(name.clone());
                continue;
            }
            if keys::find(name).is_none() && !name.starts_with(keys::ERROR_PRODUCER_PREFIX) {
                let hint = keys::suggestion(name)
                    .map(|s| format!(" (did you mean `{s}`?)"))
                    .unwrap_or_default();
                return Err(ConfigError::UnknownKey {
                    key: name.clone(),
                    origin,
                    hint,
                });
            }
            self.values.insert(
                name.clone(),
                RawValue {
                    text,
                    origin: origin.clone(),
                },
            );
        }
        Ok(())
    }
}
