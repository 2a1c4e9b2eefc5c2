pub mod broker;
pub mod endpoint;
pub mod produce;
