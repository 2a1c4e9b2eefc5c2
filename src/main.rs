//! Lambda entry point: logging, configuration, credentials, error policy and sink once per
//! process, then one `handler` call per trigger invocation.

use lambda_runtime::{service_fn, LambdaEvent};
use maxcompute_kafka_sink::config::SinkConfig;
use maxcompute_kafka_sink::credentials;
use maxcompute_kafka_sink::error_topic::default_connector_name;
use maxcompute_kafka_sink::event::KafkaEvent;
use maxcompute_kafka_sink::handler::handler;
use maxcompute_kafka_sink::sink::{ErrorPolicy, Sink};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    init_tracing();
    let config = SinkConfig::from_vars(std::env::vars()).inspect_err(|e| {
        tracing::error!(error = %e, "invalid configuration");
    })?;
    config.log_startup_notes();
    let provider = credentials::provider(&config.credentials, |name| std::env::var(name).ok())
        .inspect_err(|e| tracing::error!(error = %e, "no credentials"))?;
    let errors = ErrorPolicy::from_config(&config, default_connector_name())
        .inspect_err(|e| tracing::error!(error = %e, "invalid error-topic producer"))?;
    let sink = Sink::build(&config, provider, errors)
        .await
        .inspect_err(|e| tracing::error!(error = %e, "start-up failed"))?;
    let sink = &sink;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<KafkaEvent>| async move { handler(sink, event).await },
    ))
    .await
}

/// JSON lines inside Lambda (CloudWatch parses them), readable text elsewhere; `RUST_LOG`
/// overrides the default `info` level.
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let in_lambda = std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some();
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if in_lambda {
        builder
            .json()
            .with_current_span(false)
            .without_time()
            .init();
    } else {
        builder.init();
    }
}
