//! Credentials and the ODPS request signature (tunnel-protocol.md §1).

mod clock;
mod credential;
pub mod rpc;
mod signer;
pub mod sts;
pub mod token_cache;

pub use clock::Clock;
pub use credential::{CredentialError, CredentialProvider, Credentials, StaticCredentialProvider};
pub use signer::{
    authorization_header, canonical_string, format_date, parse_authorization_header, sign_request,
    signature_v2, SignError, STS_TOKEN_HEADER,
};
pub use sts::{AssumeRoleConfig, StsClient, StsError, StsFailure, TemporaryCredentials};
pub use token_cache::StsCredentialProvider;
