//! Private keys and JWS creation.
//!
//! Signing draws randomness from the operating system (aws-lc-rs) for key generation, PSS salts
//! and ECDSA nonces; no other outside state is touched.

use std::fmt;

use aws_lc_rs::encoding::{AsDer as _, PublicKeyX509Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    self, EcdsaKeyPair, EcdsaSigningAlgorithm, KeyPair as _, RsaEncoding, RsaKeyPair,
};

use crate::algorithm::Algorithm;
use crate::base64url;
use crate::error::Error;
use crate::jws::Header;
use crate::key::{KeyKind, MIN_RSA_BITS, PublicKey};

/// RSA modulus sizes attesto generates.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RsaBits {
    /// 2048 bits, what MAA uses today.
    B2048,
    /// 3072 bits.
    B3072,
    /// 4096 bits.
    B4096,
}

enum Pair {
    Rsa(RsaKeyPair),
    EcP256(EcdsaKeyPair),
    EcP384(EcdsaKeyPair),
}

/// A private signing key: RSA (2048 to 8192 bits) for tokens MAA clients verify, ECDSA P-256 or
/// P-384 for tests and other JOSE peers. Kept with its PKCS#8 encoding so it can be persisted.
pub struct SigningKey {
    pair: Pair,
    pkcs8: Vec<u8>,
    public_key: PublicKey,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The private half never reaches logs.
        f.debug_struct("SigningKey")
            .field("kind", &self.public_key.kind())
            .finish_non_exhaustive()
    }
}

fn key_error(what: &'static str) -> impl Fn(aws_lc_rs::error::Unspecified) -> Error {
    move |_| Error::Key { what }
}

impl SigningKey {
    /// A fresh RSA key.
    ///
    /// # Errors
    /// [`Error::Key`] if the crypto library fails.
    pub fn generate_rsa(bits: RsaBits) -> Result<Self, Error> {
        let size = match bits {
            RsaBits::B2048 => KeySize::Rsa2048,
            RsaBits::B3072 => KeySize::Rsa3072,
            RsaBits::B4096 => KeySize::Rsa4096,
        };
        let pair = RsaKeyPair::generate(size).map_err(key_error("generate RSA key"))?;
        let pkcs8 = pair
            .as_der()
            .map_err(key_error("encode RSA key as PKCS#8"))?;
        Self::from_pkcs8_der(pkcs8.as_ref())
    }

    /// A fresh ECDSA P-256 key.
    ///
    /// # Errors
    /// [`Error::Key`] if the crypto library fails.
    pub fn generate_ec_p256() -> Result<Self, Error> {
        Self::generate_ec(&signature::ECDSA_P256_SHA256_FIXED_SIGNING)
    }

    /// A fresh ECDSA P-384 key.
    ///
    /// # Errors
    /// [`Error::Key`] if the crypto library fails.
    pub fn generate_ec_p384() -> Result<Self, Error> {
        Self::generate_ec(&signature::ECDSA_P384_SHA384_FIXED_SIGNING)
    }

    fn generate_ec(alg: &'static EcdsaSigningAlgorithm) -> Result<Self, Error> {
        let doc = EcdsaKeyPair::generate_pkcs8(alg, &SystemRandom::new())
            .map_err(key_error("generate EC key"))?;
        Self::from_pkcs8_der(doc.as_ref())
    }

    /// Imports a PKCS#8 DER private key (RSA, EC P-256 or EC P-384).
    ///
    /// # Errors
    /// [`Error::Key`] if the bytes are no such key, [`Error::UnsupportedKey`] for RSA keys
    /// outside 2048..=8192 bits.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, Error> {
        if let Ok(pair) = RsaKeyPair::from_pkcs8(der) {
            let public = pair.public_key();
            let public_key = PublicKey::rsa(
                public.modulus().big_endian_without_leading_zero(),
                public.exponent().big_endian_without_leading_zero(),
            )?;
            if let KeyKind::Rsa { bits } = public_key.kind()
                && bits < MIN_RSA_BITS
            {
                return Err(Error::UnsupportedKey {
                    what: format!("RSA key of {bits} bits (at least {MIN_RSA_BITS} required)"),
                });
            }
            return Ok(Self {
                pair: Pair::Rsa(pair),
                pkcs8: der.to_vec(),
                public_key,
            });
        }
        type Wrap = fn(EcdsaKeyPair) -> Pair;
        let curves: [(&'static EcdsaSigningAlgorithm, Wrap); 2] = [
            (&signature::ECDSA_P256_SHA256_FIXED_SIGNING, Pair::EcP256),
            (&signature::ECDSA_P384_SHA384_FIXED_SIGNING, Pair::EcP384),
        ];
        for (alg, wrap) in curves {
            if let Ok(pair) = EcdsaKeyPair::from_pkcs8(alg, der) {
                let public_key = PublicKey::ec_point(pair.public_key().as_ref())?;
                return Ok(Self {
                    pair: wrap(pair),
                    pkcs8: der.to_vec(),
                    public_key,
                });
            }
        }
        Err(Error::Key {
            what: "not a PKCS#8 RSA, EC P-256 or EC P-384 private key",
        })
    }

    /// The PKCS#8 DER encoding. This is the secret key: store it accordingly.
    #[must_use]
    pub fn pkcs8_der(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The public key.
    #[must_use]
    pub fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    /// The public key as DER SubjectPublicKeyInfo.
    ///
    /// # Errors
    /// [`Error::Key`] if the crypto library fails to encode it.
    pub fn public_key_spki_der(&self) -> Result<Vec<u8>, Error> {
        let der: Result<PublicKeyX509Der<'static>, _> = match &self.pair {
            Pair::Rsa(pair) => pair.public_key().as_der(),
            Pair::EcP256(pair) | Pair::EcP384(pair) => pair.public_key().as_der(),
        };
        der.map(|d| d.as_ref().to_vec())
            .map_err(key_error("encode public key"))
    }

    /// The key's kind.
    #[must_use]
    pub fn kind(&self) -> KeyKind {
        self.public_key.kind()
    }

    /// The natural algorithm for this key: RS256, ES256 or ES384.
    #[must_use]
    pub fn default_algorithm(&self) -> Algorithm {
        match self.pair {
            Pair::Rsa(_) => Algorithm::Rs256,
            Pair::EcP256(_) => Algorithm::Es256,
            Pair::EcP384(_) => Algorithm::Es384,
        }
    }

    /// Signs `message` with `alg`. ECDSA signatures come out in the JWS form (`r || s`).
    ///
    /// # Errors
    /// [`Error::KeyMismatch`] if `alg` does not fit the key (including `none`), [`Error::Key`]
    /// if the crypto library fails.
    pub fn sign(&self, alg: Algorithm, message: &[u8]) -> Result<Vec<u8>, Error> {
        if alg.is_unsecured() {
            return Err(Error::KeyMismatch {
                alg,
                key: self.kind(),
            });
        }
        self.public_key.check_algorithm(alg)?;
        let rng = SystemRandom::new();
        match &self.pair {
            Pair::Rsa(pair) => {
                let padding: &'static dyn RsaEncoding = match alg {
                    Algorithm::Rs256 => &signature::RSA_PKCS1_SHA256,
                    Algorithm::Rs384 => &signature::RSA_PKCS1_SHA384,
                    Algorithm::Rs512 => &signature::RSA_PKCS1_SHA512,
                    Algorithm::Ps256 => &signature::RSA_PSS_SHA256,
                    Algorithm::Ps384 => &signature::RSA_PSS_SHA384,
                    _ => &signature::RSA_PSS_SHA512,
                };
                let mut out = vec![0u8; pair.public_modulus_len()];
                pair.sign(padding, &rng, message, &mut out)
                    .map_err(key_error("RSA signing failed"))?;
                Ok(out)
            }
            Pair::EcP256(pair) | Pair::EcP384(pair) => pair
                .sign(&rng, message)
                .map(|sig| sig.as_ref().to_vec())
                .map_err(key_error("ECDSA signing failed")),
        }
    }
}

/// Builds a compact JWS: `b64url(header JSON) . b64url(payload) . b64url(signature)`.
///
/// The header is serialized as given (member order of [`Header`]), with `alg` in its registered
/// spelling.
///
/// # Errors
/// [`Error::KeyMismatch`] if `header.alg` does not fit the key (use [`unsecured_jws`] for
/// `none`), [`Error::Key`] if signing fails.
pub fn sign_jws(header: &Header, payload: &[u8], key: &SigningKey) -> Result<String, Error> {
    sign_with_header_json(&header.to_json(), header.alg, payload, key)
}

/// Signs with an already serialized header; the caller guarantees `alg` matches it.
pub(crate) fn sign_with_header_json(
    header_json: &str,
    alg: Algorithm,
    payload: &[u8],
    key: &SigningKey,
) -> Result<String, Error> {
    let mut out = base64url::encode(header_json.as_bytes());
    out.push('.');
    out.push_str(&base64url::encode(payload));
    let signature = key.sign(alg, out.as_bytes())?;
    out.push('.');
    out.push_str(&base64url::encode(&signature));
    Ok(out)
}

/// An unsecured JWS (RFC 7515 Appendix A.5): header `{"alg":"none"}`, empty signature. The
/// result starts with `eyJhbGciOiJub25lIn0.` exactly like the tokens MAA and its SDKs write.
#[must_use]
pub fn unsecured_jws(payload: &[u8]) -> String {
    let mut out = base64url::encode(br#"{"alg":"none"}"#);
    out.push('.');
    out.push_str(&base64url::encode(payload));
    out.push('.');
    out
}
