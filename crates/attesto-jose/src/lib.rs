//! JWS/JWT/JWK for attesto: parse, verify, sign and issue tokens the way Microsoft Azure
//! Attestation (MAA) and its clients expect.
//!
//! What it does:
//! - parses compact JWS ([`Jws`]) with size limits, a typed header and the exact signing input,
//!   accepting what every MAA client sends (`alg` aliases `RSA256`/`ECDH256`, signer certificate in
//!   `x5c` or `jwk.x5c`, base64url with or without padding, standard base64 too, empty payloads);
//! - verifies RS256/384/512, PS256/384/512, ES256 and ES384 with aws-lc-rs, using a public key, a
//!   certificate, a JWK or the certificate the JWS carries ([`verify`] module);
//! - checks signer certificates: validity at a given time and trust against a set of trusted
//!   certificates ([`SignerChain::verify_trust`]; the [`cert`] module documents what is
//!   supported);
//! - signs ([`SigningKey`], [`sign_jws`], [`unsecured_jws`]) and issues MAA-shaped RS256 tokens
//!   with their `/certs` key set ([`TokenSigner`], [`self_signed_certificate`]);
//! - validates tokens for relying parties ([`validate`]);
//! - handles MAA payloads: stored policies, signer-management bodies, request bodies, policy and
//!   token hashes, thumbprints ([`maa`] module).
//!
//! What it does not do: no clock, no files, no network, no environment. Keys and the
//! verification time are arguments; fetching `/certs` or storing keys is the caller's job. The
//! only outside resource used is the operating system's random generator, for key generation
//! and randomized signatures (PSS, ECDSA).
//!
//! ```text
//! request body ──normalize_request_body──▶ &str ──Jws::parse──▶ Jws
//!   Jws ──verify_with_embedded_signer(Unsecured::…)──▶ Verified::{Unsecured, Signed(chain)}
//!   chain ──verify_trust(trusted, now)──▶ TrustPath
//! claims ──TokenSigner::issue──▶ RS256 JWT ──validate(jwks, options)──▶ ValidatedToken
//! ```
//!
//! # Example
//! ```
//! use attesto_jose::{Jws, Unsecured, Verified, maa};
//!
//! let body = maa::unsecured_policy_jws("version=1.0; authorizationrules{=> permit();};");
//! let jws = Jws::parse(&maa::normalize_request_body(body.as_bytes())?)?;
//! assert_eq!(jws.verify_with_embedded_signer(Unsecured::Accept)?, Verified::Unsecured);
//! let policy = maa::decode_stored_policy(jws.payload())?;
//! assert!(policy.text.starts_with("version=1.0"));
//! # Ok::<(), attesto_jose::Error>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod algorithm;
pub mod base64url;
pub mod cert;
mod error;
mod jwk;
mod jws;
mod key;
pub mod maa;
mod sign;
mod token;
mod validate;
pub mod verify;

#[doc(hidden)]
pub mod fuzzing;

pub use algorithm::Algorithm;
pub use cert::{Certificate, SignerChain, TrustFailure, TrustPath};
pub use error::{Base64Problem, Error};
pub use jwk::{Jwk, Jwks};
pub use jws::{Header, Jws, Limits};
pub use key::{KeyKind, MAX_RSA_BITS, MIN_RSA_BITS, PublicKey};
pub use sign::{RsaBits, SigningKey, sign_jws, unsecured_jws};
pub use token::{
    CertificateExtension, SigningCertificateParams, TokenSigner, jku_for, jwks,
    self_signed_certificate,
};
pub use validate::{ValidatedToken, ValidationOptions, validate};
pub use verify::{
    Unsecured, Verified, verify_with_certificate, verify_with_jwk, verify_with_public_key,
};
