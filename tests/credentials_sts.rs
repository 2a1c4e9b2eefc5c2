//! `account_type=STS` end to end: the function assumes the role on the emulator's STS at
//! start-up, signs every MaxCompute request with the temporary credentials, and reuses them
//! across invocations; a bad AccessKey fails start-up with the cause named.

mod sink_support;

use std::time::Duration;

use maxcompute_emulator::config::{DEFAULT_ACCESS_KEY, DEFAULT_PROJECT};
use maxcompute_emulator::sts::StsConfig;
use maxcompute_emulator::{start, EmulatorConfig};
use maxcompute_kafka_sink::config::SinkConfig;
use maxcompute_kafka_sink::credentials;
use maxcompute_kafka_sink::handler::handler;
use maxcompute_kafka_sink::sink::{ErrorPolicy, Sink};
use sink_support::{event, Emulator};

const ACCOUNT_ID: &str = "1234567890";
const ROLE: &str = "sink-role";
const DDL: &str = "CREATE TABLE IF NOT EXISTS table_text(topic STRING, `partition` BIGINT, `offset` BIGINT, key STRING, value STRING) PARTITIONED BY (pt STRING);";

async fn emulator_with_role() -> Emulator {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = EmulatorConfig::new(dir.path());
    config.sts = StsConfig {
        role_arns: vec![format!("acs:ram::{ACCOUNT_ID}:role/{ROLE}")],
        ..StsConfig::default()
    };
    let emu = Emulator::from_parts(start(config).await.expect("emulator starts"), dir);
    emu.create_table(DDL);
    emu
}

fn sts_config(emu: &Emulator, access_key: &str) -> SinkConfig {
    emu.config(
        "table_text",
        &[
            ("MC_FORMAT", "TEXT"),
            ("MC_MODE", "VALUE"),
            ("MC_ACCOUNT_TYPE", "sts"),
            ("MC_ACCOUNT_ID", ACCOUNT_ID),
            ("MC_ROLE_NAME", ROLE),
            ("MC_REGION_ID", "cn-hangzhou"),
            ("MC_STS_ENDPOINT", &emu.handle.sts_endpoint()),
            ("MC_ACCESS_KEY", access_key),
        ],
    )
}

async fn build(config: &SinkConfig) -> Result<Sink, String> {
    let provider =
        credentials::provider(&config.credentials, |_| None).map_err(|e| e.to_string())?;
    Sink::build(config, provider, ErrorPolicy::Fail)
        .await
        .map_err(|e| error_chain(&e))
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[tokio::test]
async fn many_invocations_share_one_assume_role() {
    let emu = emulator_with_role().await;
    let config = sts_config(&emu, DEFAULT_ACCESS_KEY);
    let sink = build(&config).await.expect("start-up with STS succeeds");
    assert_eq!(
        emu.handle.sts().assume_role_calls(),
        1,
        "start-up assumes the role once to load the schema"
    );

    for _ in 0..5 {
        let summary = handler(&sink, event("msk-text"))
            .await
            .expect("invocation with STS credentials succeeds");
        assert_eq!(summary.failed, 0);
    }
    assert_eq!(
        emu.handle.sts().assume_role_calls(),
        1,
        "warm invocations reuse the cached credentials"
    );
    let rows = emu.rows("table_text");
    assert_eq!(
        rows.len(),
        5 * 2,
        "each invocation wrote the seed's two rows"
    );
}

#[tokio::test]
async fn a_token_expiring_between_invocations_is_renewed_once() {
    let emu = emulator_with_role().await;
    let config = sts_config(&emu, DEFAULT_ACCESS_KEY);
    let sink = build(&config).await.expect("start-up with STS succeeds");
    handler(&sink, event("msk-text")).await.expect("first");
    // MaxCompute now sees the cached token as expired (its clock passed the 3600 s lifetime):
    // the first request answers AuthenticationRequestExpired, the provider renews once, and
    // the invocation still succeeds.
    emu.handle
        .sts()
        .advance_clock(Duration::from_secs(3600 + 60));
    for _ in 0..3 {
        handler(&sink, event("msk-text"))
            .await
            .expect("invocations after the expiry succeed");
    }
    assert_eq!(
        emu.handle.sts().assume_role_calls(),
        2,
        "exactly one renewal"
    );
    assert_eq!(emu.rows("table_text").len(), 4 * 2);
}

#[tokio::test]
async fn a_bad_access_key_is_a_clear_startup_error() {
    let emu = emulator_with_role().await;
    let config = sts_config(&emu, "not-the-secret");
    let err = build(&config)
        .await
        .expect_err("a wrong secret must fail start-up");
    assert!(
        err.contains(
            "signature mismatch: the AccessKey secret does not belong to this AccessKeyId"
        ),
        "{err}"
    );
    assert!(err.contains("SignatureDoesNotMatch"), "{err}");
    assert!(!err.contains("not-the-secret"), "the secret leaked: {err}");
    assert!(err.contains(DEFAULT_PROJECT), "names the project: {err}");
}
