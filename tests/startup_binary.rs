//! The built function binary stops at start-up, before serving any invocation, when its
//! configuration is invalid, and says which key to fix without printing secrets.

use std::process::Command;

fn run(envs: &[(&str, &str)]) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_maxcompute-kafka-sink"))
        .env_clear()
        .envs(envs.iter().copied())
        .output()
        .expect("the function binary runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[test]
fn invalid_configuration_stops_the_function_naming_the_key() {
    let (ok, text) = run(&[
        ("MC_ENDPOINT", "http://127.0.0.1:9/api"),
        ("MC_PROJECT", "p"),
        ("MC_TABLE", "t"),
        ("MC_ACCESS_ID", "id"),
        ("MC_ACCESS_KEY", "very-secret-key"),
        ("MC_FORMAT", "FLATTEN"),
    ]);
    assert!(!ok);
    assert!(
        text.contains("format=FLATTEN cannot be used with mode=DEFAULT"),
        "{text}"
    );
    assert!(!text.contains("very-secret-key"), "{text}");
}

#[test]
fn missing_table_key_stops_the_function() {
    let (ok, text) = run(&[
        ("MC_ENDPOINT", "http://127.0.0.1:9/api"),
        ("MC_PROJECT", "p"),
    ]);
    assert!(!ok);
    assert!(
        text.contains("required key `table` is missing or empty"),
        "{text}"
    );
}
