//! The attestation provider core: an MAA attest request body in, the claims of verified
//! evidence and the attestation token payload out.
//!
//! What it does: [`request::parse`] reads MAA's attest bodies (every API version, the legacy
//! 2018 shape, Open Enclave reports) into an [`AttestRequest`]; [`claims::incoming`] checks
//! that the client's runtime and init-time data are bound into a verified quote and names what
//! the quote says with MAA's claim names ([`IncomingClaims`]); [`token::attestation_payload`]
//! assembles the token payload from those claims and what the policy issued.
//!
//! What it does not do: no I/O, no clock, no randomness. Verifying the quote
//! (`attesto-quote`), fetching collateral, evaluating the policy (`attesto-policy`) and signing
//! the token (`attesto-jose`) are the caller's steps; times and the `jti` bytes are arguments.
//!
//! ```text
//! body ─request::parse─▶ AttestRequest ─(Verifier::verify evidence)─▶ VerifiedQuote
//!   ─claims::incoming─▶ IncomingClaims ─claim_set─▶ Policy::evaluate ─▶ issued claims
//!   ─token::attestation_payload─▶ payload ─(TokenSigner::issue)─▶ JWT
//! ```
//!
//! ```no_run
//! use std::time::Duration;
//! use attesto_policy::{AttestationType, Policy, default_policy, policy_hash};
//! use attesto_provider::token::{TokenInputs, attestation_payload};
//! use attesto_provider::{claims, request};
//! use attesto_quote::{Collateral, Verifier};
//! use rustls_pki_types::UnixTime;
//!
//! # fn demo(body: &[u8], collateral: &Collateral, now: UnixTime, jti: [u8; 32])
//! #     -> Result<(), Box<dyn std::error::Error>> {
//! let kind: AttestationType = "SgxEnclave".parse()?;
//! let req = request::parse(kind, "2022-08-01".parse()?, body)?;
//! let verified = Verifier::new().verify(&req.evidence, collateral, now)?;
//! let incoming = claims::incoming(kind, &verified, &req)?; // bindings checked here
//! let text = default_policy(kind);
//! let hash = policy_hash(text);
//! let evaluation = Policy::parse(text)?.evaluate(&incoming.claim_set(Some(&hash)))?;
//! assert!(evaluation.permitted);
//! let payload = attestation_payload(&TokenInputs {
//!     incoming: &incoming,
//!     issued: &evaluation.issued_claims,
//!     policy_hash: &hash,
//!     iss: "https://attest.example",
//!     now,
//!     lifetime: Duration::from_secs(8 * 3600),
//!     jti,
//!     nonce: req.nonce.as_deref(),
//!     extra: None,
//! })?;
//! # let _ = payload; Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod claims;
mod json;
pub mod request;
pub mod token;

pub use claims::{ClaimsError, IncomingClaims};
pub use request::{ApiVersion, AttestRequest, Data, DataType, RequestError, UnsupportedApiVersion};
pub use token::{TokenError, TokenInputs};

/// Any error of this crate, for callers that handle them alike. Each step returns its own
/// type; all of them are the client's fault except [`TokenError`].
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The `api-version` value is not supported.
    #[error(transparent)]
    ApiVersion(#[from] UnsupportedApiVersion),
    /// The request body is malformed.
    #[error(transparent)]
    Request(#[from] RequestError),
    /// The verified evidence does not fit the endpoint or the client's data.
    #[error(transparent)]
    Claims(#[from] ClaimsError),
    /// The token payload could not be built (a caller bug).
    #[error(transparent)]
    Token(#[from] TokenError),
}

/// Entry points for fuzzers. Not part of the API.
#[doc(hidden)]
pub mod fuzzing {
    use attesto_policy::AttestationType;

    use crate::request::{ApiVersion, parse};

    /// Parses `data` as an attest body for every attestation type and API version. Must never
    /// panic.
    pub fn parse_request(data: &[u8]) {
        for kind in AttestationType::ALL {
            for version in ApiVersion::ALL {
                let _ = parse(kind, version, data);
            }
        }
    }
}
