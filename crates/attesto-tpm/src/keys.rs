//! Binding the request key (and other keys) to the TPM, as MAA's v2 protocol defines it.
//!
//! - `info.tpm_quote`: the quote's qualifyingData is
//!   `H(UTF-8 of the JWK exactly as sent || 0x00 || challenge)` ([`quote_key_binding`]); the
//!   JWK text is hashed as received, never re-serialised.
//! - `info.tpm_certify`: a TPM2_Certify of the key's TPMT_PUBLIC by the AIK, whose
//!   qualifyingData is the challenge ([`verify_certify`]); the quote then carries the challenge
//!   itself.
//!
//! The verified key becomes the `x-ms-tpm-request-key` / `x-ms-tpm-other-keys` claim
//! ([`AttestedKey::to_claim`]).

use base64::Engine as _;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use serde_json::{Map, Value};

use crate::aik::AikPublicKey;
use crate::alg::HashAlg;
use crate::error::Error;
use crate::tpm2::{Attest, Attested, EccCurve, Public, Signature, TPM_ST_ATTEST_CERTIFY};

/// qualifyingData of a quote that binds a key: `H(jwk_text || 0x00 || challenge)`.
#[must_use]
pub fn quote_key_binding(jwk_text: &str, challenge: &[u8], hash: HashAlg) -> Vec<u8> {
    hash.digest_parts(&[jwk_text.as_bytes(), &[0u8], challenge])
}

/// The hash named by `info.tpm_quote.hash_alg` (`sha-1`, `sha-256`, `sha-384`, `sha-512`;
/// ASCII case ignored, the hyphen optional).
#[must_use]
pub fn hash_from_name(name: &str) -> Option<HashAlg> {
    let normalised: String = name
        .chars()
        .filter(|c| *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    match normalised.as_str() {
        "sha1" => Some(HashAlg::Sha1),
        "sha256" => Some(HashAlg::Sha256),
        "sha384" => Some(HashAlg::Sha384),
        "sha512" => Some(HashAlg::Sha512),
        _ => None,
    }
}

fn hash_display_name(hash: HashAlg) -> &'static str {
    match hash {
        HashAlg::Sha1 => "sha-1",
        HashAlg::Sha256 => "sha-256",
        HashAlg::Sha384 => "sha-384",
        HashAlg::Sha512 => "sha-512",
    }
}

/// A key the AIK certified with TPM2_Certify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertifiedKey {
    /// The key's TPMT_PUBLIC.
    pub public: Public,
    /// Its public key.
    pub key: AikPublicKey,
}

/// Verifies a TPM2_Certify: the certification is a TPM-generated TPMS_ATTEST of type certify,
/// signed by the AIK, with qualifyingData = `qualifying_data` (the challenge), naming exactly
/// the supplied public area.
///
/// # Errors
/// Parse errors, [`Error::WrongAttestationType`], [`Error::BadSignature`],
/// [`Error::QualifyingDataMismatch`], [`Error::CertifiedNameMismatch`].
pub fn verify_certify(
    tpmt_public: &[u8],
    certification: &[u8],
    signature: &[u8],
    aik: &AikPublicKey,
    qualifying_data: &[u8],
) -> Result<CertifiedKey, Error> {
    let public = Public::parse(tpmt_public)?;
    let attest = Attest::parse(certification)?;
    let signature = Signature::parse(signature)?;
    let Attested::Certify(info) = &attest.attested else {
        return Err(Error::WrongAttestationType {
            expected: TPM_ST_ATTEST_CERTIFY,
            found: attest.attest_type,
        });
    };
    aik.verify(&signature, attest.raw(), "certification")?;
    if attest.extra_data != qualifying_data {
        return Err(Error::QualifyingDataMismatch {
            expected: qualifying_data.to_vec(),
            found: attest.extra_data.clone(),
        });
    }
    if info.name != public.name()? {
        return Err(Error::CertifiedNameMismatch);
    }
    let key = AikPublicKey::from_public(&public)?;
    Ok(CertifiedKey { public, key })
}

/// How a key is bound to the TPM.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyBinding {
    /// Through the quote's qualifyingData.
    Quote {
        /// The binding hash.
        hash: HashAlg,
    },
    /// Through a verified TPM2_Certify.
    Certify(CertifiedKey),
}

/// A key whose binding to the TPM was verified, with its JWK as the client sent it.
#[derive(Debug, Clone, PartialEq)]
pub struct AttestedKey {
    /// The JWK.
    pub jwk: Value,
    /// The binding.
    pub binding: KeyBinding,
}

fn b64url(value: Option<&Value>, member: &str) -> Result<Vec<u8>, Error> {
    let text = value
        .and_then(Value::as_str)
        .ok_or_else(|| Error::JwkMismatch {
            reason: format!("member `{member}` is missing or not a string"),
        })?;
    URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .or_else(|_| URL_SAFE.decode(text))
        .map_err(|_| Error::JwkMismatch {
            reason: format!("member `{member}` is not base64url"),
        })
}

/// The public key of an RSA or EC JWK.
///
/// # Errors
/// [`Error::JwkMismatch`] for other key types or malformed members.
pub fn key_from_jwk(jwk: &Value) -> Result<AikPublicKey, Error> {
    let kty = jwk.get("kty").and_then(Value::as_str).unwrap_or_default();
    let fail = |e: Error| Error::JwkMismatch {
        reason: e.to_string(),
    };
    match kty {
        "RSA" => AikPublicKey::rsa(&b64url(jwk.get("n"), "n")?, &b64url(jwk.get("e"), "e")?)
            .map_err(fail),
        "EC" => {
            let curve = match jwk.get("crv").and_then(Value::as_str) {
                Some("P-256") => EccCurve::P256,
                Some("P-384") => EccCurve::P384,
                Some("P-521") => EccCurve::P521,
                other => {
                    return Err(Error::JwkMismatch {
                        reason: format!("unsupported curve {other:?}"),
                    });
                }
            };
            AikPublicKey::ecc(
                curve,
                &b64url(jwk.get("x"), "x")?,
                &b64url(jwk.get("y"), "y")?,
            )
            .map_err(fail)
        }
        other => Err(Error::JwkMismatch {
            reason: format!("unsupported kty {other:?}"),
        }),
    }
}

impl AttestedKey {
    /// A key bound through the quote (the caller verified the quote with
    /// [`quote_key_binding`] as its qualifying data).
    #[must_use]
    pub fn quoted(jwk: Value, hash: HashAlg) -> AttestedKey {
        AttestedKey {
            jwk,
            binding: KeyBinding::Quote { hash },
        }
    }

    /// A key bound through TPM2_Certify; the JWK must be the certified key.
    ///
    /// # Errors
    /// [`Error::JwkMismatch`].
    pub fn certified(jwk: Value, certified: CertifiedKey) -> Result<AttestedKey, Error> {
        if key_from_jwk(&jwk)? != certified.key {
            return Err(Error::JwkMismatch {
                reason: "the JWK is another key than the certified TPMT_PUBLIC".to_owned(),
            });
        }
        Ok(AttestedKey {
            jwk,
            binding: KeyBinding::Certify(certified),
        })
    }

    /// The claim value: `{"jwk": <as sent>, "info": {"tpm_quote": {"hash_alg": "sha-256"}}}`
    /// or `{"jwk": ..., "info": {"tpm_certify": {"name_alg": n, "obj_attr": n,
    /// "auth_policy": "<base64url>"}}}` (MAA's "policy key object"; the numbers are the
    /// TPM_ALG_ID and TPMA_OBJECT).
    #[must_use]
    pub fn to_claim(&self) -> Value {
        let mut info = Map::new();
        match &self.binding {
            KeyBinding::Quote { hash } => {
                let mut quote = Map::new();
                quote.insert(
                    "hash_alg".to_owned(),
                    Value::String(hash_display_name(*hash).to_owned()),
                );
                info.insert("tpm_quote".to_owned(), Value::Object(quote));
            }
            KeyBinding::Certify(certified) => {
                let mut certify = Map::new();
                certify.insert(
                    "name_alg".to_owned(),
                    Value::from(certified.public.name_alg),
                );
                certify.insert(
                    "obj_attr".to_owned(),
                    Value::from(certified.public.attributes),
                );
                certify.insert(
                    "auth_policy".to_owned(),
                    Value::String(URL_SAFE_NO_PAD.encode(&certified.public.auth_policy)),
                );
                info.insert("tpm_certify".to_owned(), Value::Object(certify));
            }
        }
        let mut claim = Map::new();
        claim.insert("jwk".to_owned(), self.jwk.clone());
        claim.insert("info".to_owned(), Value::Object(info));
        Value::Object(claim)
    }
}
