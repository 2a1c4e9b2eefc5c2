// Each test binary uses a different part of the support code.
#![allow(dead_code)]

pub mod consume;
pub mod endpoint;
pub mod produce;
