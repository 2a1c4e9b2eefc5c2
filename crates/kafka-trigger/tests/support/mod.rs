pub mod endpoint;
pub mod produce;
