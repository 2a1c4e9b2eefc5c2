//! template.yaml must offer every configuration key: a parameter wired to the key's environment
//! variable, with NoEcho for secrets. This catches a key added to the function but forgotten in
//! the deployment template (cfn-lint and sam validate cannot know the function's keys).

use maxcompute_kafka_sink::config::keys::KEYS;

fn template() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("template.yaml");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"))
}

/// The parameter that feeds `env` in the function's Environment, e.g. `McTimeZone`.
fn parameter_for(template: &str, env: &str) -> Option<String> {
    let line = template
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("{env}: !")))?;
    let refs = line.split("!Ref ").nth(1)?;
    Some(refs.split([',', ']']).next()?.trim().to_string())
}

/// The lines of one parameter's definition under `Parameters:`.
fn parameter_block<'a>(template: &'a str, name: &str) -> Vec<&'a str> {
    let header = format!("  {name}:");
    template
        .lines()
        .skip_while(|l| *l != header)
        .skip(1)
        .take_while(|l| l.starts_with("    "))
        .collect()
}

#[test]
fn every_configuration_key_has_a_template_parameter() {
    let template = template();
    let mut missing = Vec::new();
    for key in KEYS {
        match parameter_for(&template, key.env) {
            None => missing.push(format!("{} ({})", key.name, key.env)),
            Some(parameter) => {
                let block = parameter_block(&template, &parameter);
                assert!(
                    !block.is_empty(),
                    "{} is wired to parameter {parameter}, which is not defined",
                    key.env
                );
                let no_echo = block.iter().any(|l| l.trim() == "NoEcho: true");
                assert_eq!(
                    no_echo, key.secret,
                    "parameter {parameter} of {}: NoEcho must be set exactly for secrets",
                    key.name
                );
            }
        }
    }
    assert!(
        missing.is_empty(),
        "template.yaml has no parameter for: {missing:?}"
    );
}
