//! A string whose `Debug` and `Display` never show its content, so that a secret cannot leak
//! through a log line or an error message.

use std::fmt;

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself, for the one place that signs requests with it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(******)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("******")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_redact() {
        let s = Secret::new("S0uZvwDYDa56WZ1t");
        assert!(!format!("{s:?}").contains("S0uZ"));
        assert!(!format!("{s}").contains("S0uZ"));
        assert_eq!(s.expose(), "S0uZvwDYDa56WZ1t");
    }
}
