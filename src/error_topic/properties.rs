//! The librdkafka configuration of the error-topic producer: the configured servers, the
//! guarantees the error topic depends on, and the operator's pass-through properties.

use rdkafka::config::RDKafkaLogLevel;
use rdkafka::ClientConfig;

use crate::config::ErrorTopicConfig;

use super::error::ErrorTopicError;

/// Properties the producer always sets. An operator value that contradicts one is refused at
/// start-up rather than silently overridden: without idempotence and acks=all an
/// "acknowledged" error record may still be lost or duplicated within one send.
const ENFORCED: &[(&str, &[&str], &str)] = &[
    ("enable.idempotence", &["true"], "true"),
    ("acks", &["all", "-1"], "all"),
];

/// librdkafka's own default (1,000,000) would refuse, on the client side, records the trigger
/// delivered (its payload cap is 6 MB) before the broker's limit is even asked; 8 MiB leaves
/// room for the context headers. The topic's `max.message.bytes` still decides.
const DEFAULT_MESSAGE_MAX_BYTES: &str = "8388608";

/// Set from `runtime.error.topic.bootstrap.servers`; a second source would be ambiguous.
const OWN_KEYS: &[&str] = &["bootstrap.servers", "metadata.broker.list"];

/// Substrings of property names whose values must never reach a log line or an error text.
/// Broad on purpose: a false positive costs a less specific message, a false negative a leak.
const SECRET_MARKERS: &[&str] = &[
    "sasl.",
    "password",
    "secret",
    "token",
    "jaas",
    "credential",
    "ssl.key",
    "keystore",
    "pem",
];

pub fn is_secret(property: &str) -> bool {
    let name = property.to_ascii_lowercase();
    SECRET_MARKERS.iter().any(|m| name.contains(m))
        && !matches!(name.as_str(), "sasl.mechanism" | "sasl.mechanisms")
}

/// The values of secret-ish properties, to scrub from any text librdkafka produces.
#[derive(Clone, Default)]
pub struct Redactor {
    secrets: Vec<String>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor({} value(s))", self.secrets.len())
    }
}

impl Redactor {
    pub fn redact(&self, text: &str) -> String {
        self.secrets
            .iter()
            .fold(text.to_string(), |acc, s| acc.replace(s.as_str(), "******"))
    }
}

/// Builds the producer configuration; every problem found here is a start-up error.
pub fn client_config(
    config: &ErrorTopicConfig,
) -> Result<(ClientConfig, Redactor), ErrorTopicError> {
    let mut redactor = Redactor::default();
    for (name, value) in &config.producer_properties {
        // Very short values ("1", "all") would scrub unrelated text and are no secret anyway.
        if is_secret(name) && value.expose().len() >= 4 {
            redactor.secrets.push(value.expose().to_string());
        }
    }

    let mut client = ClientConfig::new();
    client
        .set("bootstrap.servers", &config.bootstrap_servers)
        .set("client.id", "maxcompute-kafka-sink-error-topic")
        .set("message.max.bytes", DEFAULT_MESSAGE_MAX_BYTES)
        .set_log_level(RDKafkaLogLevel::Warning);
    for (name, value) in &config.producer_properties {
        let name = name.trim();
        if OWN_KEYS.contains(&name) {
            return Err(ErrorTopicError::Property {
                property: name.to_string(),
                reason: "the servers come from runtime.error.topic.bootstrap.servers; remove this property".into(),
            });
        }
        if let Some((_, accepted, _)) = ENFORCED.iter().find(|(key, _, _)| *key == name) {
            let given = value.expose().trim().to_ascii_lowercase();
            if !accepted.contains(&given.as_str()) {
                return Err(ErrorTopicError::Property {
                    property: name.to_string(),
                    reason: format!(
                        "must be {} (the error topic relies on it so that an acknowledged record is durable); remove the property or set it to {}",
                        accepted.join(" or "),
                        accepted[0]
                    ),
                });
            }
        }
        client.set(name, value.expose());
    }
    for (key, _, value) in ENFORCED {
        client.set(*key, *value);
    }
    Ok((client, redactor))
}

/// A start-up error for a property librdkafka rejected, without the value of a secret one.
pub fn rejected(property: &str, librdkafka_reason: &str, redactor: &Redactor) -> ErrorTopicError {
    let reason = if is_secret(property) {
        "librdkafka rejects this property or its value (the value is not shown because it may be a secret)".to_string()
    } else {
        redactor.redact(librdkafka_reason)
    };
    ErrorTopicError::Property {
        property: property.to_string(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn config(props: &[(&str, &str)]) -> ErrorTopicConfig {
        ErrorTopicConfig {
            topic: "errors".into(),
            bootstrap_servers: "127.0.0.1:1".into(),
            producer_properties: props
                .iter()
                .map(|(k, v)| (k.to_string(), Secret::new(*v)))
                .collect(),
        }
    }

    #[test]
    fn enforces_idempotence_and_acks() {
        let (client, _) = client_config(&config(&[("linger.ms", "5")])).unwrap();
        assert_eq!(client.get("enable.idempotence"), Some("true"));
        assert_eq!(client.get("acks"), Some("all"));
        assert_eq!(client.get("bootstrap.servers"), Some("127.0.0.1:1"));
        assert_eq!(client.get("linger.ms"), Some("5"));
        assert_eq!(
            client.get("message.max.bytes"),
            Some(DEFAULT_MESSAGE_MAX_BYTES)
        );
    }

    #[test]
    fn operator_properties_override_defaults() {
        let (client, _) = client_config(&config(&[("message.max.bytes", "1000000")])).unwrap();
        assert_eq!(client.get("message.max.bytes"), Some("1000000"));
    }

    #[test]
    fn accepts_restating_the_guarantees() {
        let (client, _) =
            client_config(&config(&[("acks", "-1"), ("enable.idempotence", "TRUE")])).unwrap();
        assert_eq!(client.get("acks"), Some("all"));
        assert_eq!(client.get("enable.idempotence"), Some("true"));
    }

    /// Why these properties are refused.
    fn refusal(props: &[(&str, &str)]) -> String {
        client_config(&config(props)).unwrap_err().to_string()
    }

    #[test]
    fn refuses_weaker_guarantees_naming_the_property() {
        let err = refusal(&[("acks", "1")]);
        assert!(
            err.starts_with("runtime.error.topic.producer.acks: must be all"),
            "{err}"
        );
        let err = refusal(&[("enable.idempotence", "false")]);
        assert!(
            err.contains("runtime.error.topic.producer.enable.idempotence"),
            "{err}"
        );
    }

    #[test]
    fn refuses_a_second_server_list() {
        let err = refusal(&[("bootstrap.servers", "b:9092")]);
        assert!(
            err.contains("runtime.error.topic.bootstrap.servers"),
            "{err}"
        );
    }

    #[test]
    fn secret_names() {
        for name in [
            "sasl.password",
            "sasl.username",
            "sasl.oauthbearer.client.secret",
            "ssl.key.password",
            "ssl.keystore.password",
            "ssl.key.pem",
            "sasl.oauthbearer.config",
        ] {
            assert!(is_secret(name), "{name}");
        }
        for name in [
            "security.protocol",
            "sasl.mechanism",
            "sasl.mechanisms",
            "linger.ms",
            "ssl.ca.location",
        ] {
            assert!(!is_secret(name), "{name}");
        }
    }

    #[test]
    fn redacts_secret_values_from_text() {
        let (_, redactor) = client_config(&config(&[
            ("sasl.password", "hunter22"),
            ("linger.ms", "5"),
        ]))
        .unwrap();
        assert_eq!(
            redactor.redact("auth with hunter22 failed after 5 ms"),
            "auth with ****** failed after 5 ms"
        );
    }

    #[test]
    fn rejected_secret_property_hides_librdkafka_text() {
        let err = rejected(
            "sasl.password",
            "Invalid value \"hunter22\"",
            &Redactor::default(),
        );
        let text = err.to_string();
        assert!(
            text.contains("runtime.error.topic.producer.sasl.password"),
            "{text}"
        );
        assert!(!text.contains("hunter22"), "{text}");
    }
}
