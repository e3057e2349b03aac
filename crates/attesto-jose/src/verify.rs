//! Signature verification. `alg: none` is never "verified": functions that take a key refuse
//! it, and [`Jws::verify_with_embedded_signer`] accepts it only when the caller passes
//! [`Unsecured::Accept`].

use crate::cert::{Certificate, SignerChain};
use crate::error::Error;
use crate::jwk::Jwk;
use crate::jws::Jws;
use crate::key::PublicKey;

/// Whether an unsecured (`alg: none`) JWS is acceptable to the caller.
///
/// MAA accepts unsigned policy uploads in AAD mode and issues unsecured tokens for draft-policy
/// attestations; everywhere else an unsecured token must be refused. Making this an explicit
/// argument keeps "accept anything" from being the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unsecured {
    /// Refuse `alg: none` with [`Error::UnsecuredNotAllowed`].
    Reject,
    /// Accept `alg: none`; the caller then knows nothing about who produced the payload.
    Accept,
}

/// The outcome of [`Jws::verify_with_embedded_signer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verified {
    /// The token is unsecured and the caller accepted that.
    Unsecured,
    /// The signature verifies with the key of the chain's signer certificate. This proves only
    /// that the holder of that certificate's key signed; whether the certificate is trusted is
    /// the caller's decision (see [`SignerChain::verify_trust`]).
    Signed(SignerChain),
}

/// Verifies `jws` with a public key.
///
/// # Errors
/// [`Error::UnsecuredNotAllowed`] for `alg: none`, [`Error::KeyMismatch`] when the algorithm
/// does not fit the key, [`Error::BadSignature`].
pub fn verify_with_public_key(jws: &Jws, key: &PublicKey) -> Result<(), Error> {
    key.verify(
        jws.algorithm(),
        jws.signing_input().as_bytes(),
        jws.signature(),
    )
}

/// Verifies `jws` with the public key of a DER certificate. Only the signature is checked, not
/// the certificate's dates or trust.
///
/// # Errors
/// Certificate errors, then as [`verify_with_public_key`].
pub fn verify_with_certificate(jws: &Jws, certificate_der: &[u8]) -> Result<(), Error> {
    let cert = Certificate::from_der(certificate_der)?;
    verify_with_public_key(jws, cert.public_key())
}

/// Verifies `jws` with a JWK (its `x5c[0]` key, else its parameters; see [`Jwk::public_key`]).
///
/// # Errors
/// JWK errors, then as [`verify_with_public_key`].
pub fn verify_with_jwk(jws: &Jws, jwk: &Jwk) -> Result<(), Error> {
    verify_with_public_key(jws, &jwk.public_key()?)
}

impl Jws {
    /// Verifies the signature with the certificate the JWS carries itself (`x5c`, or `jwk.x5c`
    /// as the MAA Python SDK writes it), as MAA does for policy uploads and signer management.
    ///
    /// # Errors
    /// [`Error::UnsecuredNotAllowed`] for `alg: none` with [`Unsecured::Reject`],
    /// [`Error::MissingSigner`] and certificate errors, then as [`verify_with_public_key`].
    pub fn verify_with_embedded_signer(&self, unsecured: Unsecured) -> Result<Verified, Error> {
        if self.is_unsecured() {
            return match unsecured {
                Unsecured::Accept => Ok(Verified::Unsecured),
                Unsecured::Reject => Err(Error::UnsecuredNotAllowed),
            };
        }
        let chain = self.header().signer_chain()?;
        verify_with_public_key(self, chain.signer().public_key())?;
        Ok(Verified::Signed(chain))
    }
}
