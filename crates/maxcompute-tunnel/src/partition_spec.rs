//! Partition specs as the tunnel wants them: `k1=v1,k2=v2`, no quotes, no spaces (pyodps
//! `odps/types.py` `PartitionSpec`, the Java SDK's
//! `odps-sdk-commons/src/main/java/com/aliyun/odps/PartitionSpec.java`).

use std::fmt;
use std::str::FromStr;

/// An ordered list of `(key, value)` partition assignments, outermost first.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PartitionSpec {
    parts: Vec<(String, String)>,
}

/// A partition spec string that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PartitionSpecError {
    #[error("partition spec is empty")]
    Empty,
    #[error("partition spec part `{0}` is not `key=value`")]
    NotKeyValue(String),
    #[error(
        "partition spec part `{part}` contains `{ch}`, which the tunnel cannot carry in a spec"
    )]
    ReservedCharacter { part: String, ch: char },
}

impl PartitionSpec {
    /// Builds a spec from pairs; keys and values must not contain `,` or `=`.
    pub fn new<K: Into<String>, V: Into<String>>(
        parts: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self, PartitionSpecError> {
        let parts: Vec<(String, String)> = parts
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        if parts.is_empty() {
            return Err(PartitionSpecError::Empty);
        }
        for (k, v) in &parts {
            if k.is_empty() {
                return Err(PartitionSpecError::NotKeyValue(format!("{k}={v}")));
            }
            for ch in [',', '='] {
                if k.contains(ch) || v.contains(ch) {
                    return Err(PartitionSpecError::ReservedCharacter {
                        part: format!("{k}={v}"),
                        ch,
                    });
                }
            }
        }
        Ok(PartitionSpec { parts })
    }
}

impl FromStr for PartitionSpec {
    type Err = PartitionSpecError;

    /// Accepts `pt=1,dt='2024'` and `pt = "1"` alike: whitespace and quotes around keys and
    /// values are dropped, as the official SDKs normalise them.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let strip = |t: &str| t.trim().trim_matches(|c| c == '\'' || c == '"').to_owned();
        let mut parts = Vec::new();
        for part in s.split(',') {
            if part.trim().is_empty() {
                continue;
            }
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| PartitionSpecError::NotKeyValue(part.trim().to_owned()))?;
            parts.push((strip(k), strip(v)));
        }
        PartitionSpec::new(parts)
    }
}

impl fmt::Display for PartitionSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (k, v)) in self.parts.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{k}={v}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_quotes_and_spaces() {
        let spec: PartitionSpec = " pt = 'p1' , dt=\"2024\"".parse().unwrap();
        assert_eq!(spec.to_string(), "pt=p1,dt=2024");
        assert_eq!(spec.parts[1], ("dt".to_string(), "2024".to_string()));
    }

    #[test]
    fn rejects_bad_specs() {
        assert_eq!("".parse::<PartitionSpec>(), Err(PartitionSpecError::Empty));
        assert!(matches!(
            "pt".parse::<PartitionSpec>(),
            Err(PartitionSpecError::NotKeyValue(_))
        ));
        assert!(matches!(
            "pt=a=b".parse::<PartitionSpec>(),
            Err(PartitionSpecError::ReservedCharacter { ch: '=', .. })
        ));
        assert!(PartitionSpec::new([("pt", "a,b")]).is_err());
    }
}
