//! An AWS Lambda function that sinks Kafka trigger batches into Alibaba Cloud MaxCompute,
//! compatible with the MaxCompute Kafka Connect sink connector's configuration and tables.
//!
//! Data flows one way: trigger event -> records -> rows -> encoded blocks -> tunnel.

pub mod config;
pub mod convert;
pub mod credentials;
pub mod error_topic;
pub mod event;
pub mod failed;
pub mod handler;
pub mod partition;
pub mod sink;
pub mod zone;
