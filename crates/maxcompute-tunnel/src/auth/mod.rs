//! Credentials and request signatures: the ODPS signature of every MaxCompute request, and STS
//! AssumeRole (signed with Alibaba's RPC signature) for temporary credentials.

mod clock;
mod credential;
mod rpc;
mod signer;
mod sts;
mod token_cache;

#[cfg(feature = "testing")]
pub use clock::Clock;
pub use credential::{CredentialError, CredentialProvider, Credentials, StaticCredentialProvider};
pub use rpc::{pop_percent_encode, rpc_signature, rpc_string_to_sign};
pub use signer::{
    canonical_string, parse_authorization_header, sign_request, signature_v2, SignError,
    STS_TOKEN_HEADER,
};
pub use sts::{role_arn, AssumeRoleConfig, StsClient, StsError, StsFailure, TemporaryCredentials};
pub use token_cache::StsCredentialProvider;
