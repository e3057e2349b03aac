//! Public keys that verify JWS signatures: RSA (2048 to 8192 bits), EC P-256 and P-384.

use std::fmt;

use aws_lc_rs::signature::{self, RsaParameters, RsaPublicKeyComponents, UnparsedPublicKey};
use x509_parser::prelude::FromDer as _;
use x509_parser::x509::SubjectPublicKeyInfo;

use crate::algorithm::Algorithm;
use crate::error::Error;

/// OID 1.2.840.10045.3.1.7, prime256v1 (P-256).
const OID_P256: &str = "1.2.840.10045.3.1.7";
/// OID 1.3.132.0.34, secp384r1 (P-384).
const OID_P384: &str = "1.3.132.0.34";
/// OID 1.2.840.113549.1.1.1, rsaEncryption.
const OID_RSA: &str = "1.2.840.113549.1.1.1";
/// OID 1.2.840.10045.2.1, id-ecPublicKey.
const OID_EC: &str = "1.2.840.10045.2.1";

/// Smallest RSA modulus accepted, in bits. MAA signed with RSA-1024 until about 2021; such
/// tokens are long expired and a 1024-bit key is not a meaningful signature today.
pub const MIN_RSA_BITS: usize = 2048;
/// Largest RSA modulus accepted, in bits (bounds the work an attacker-supplied key can cause).
pub const MAX_RSA_BITS: usize = 8192;

/// The kind of a key, for error messages and algorithm checks.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyKind {
    /// RSA with the modulus size in bits.
    Rsa {
        /// Modulus size in bits.
        bits: usize,
    },
    /// ECDSA on NIST P-256.
    EcP256,
    /// ECDSA on NIST P-384.
    EcP384,
}

impl fmt::Display for KeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rsa { bits } => write!(f, "RSA-{bits}"),
            Self::EcP256 => f.write_str("EC P-256"),
            Self::EcP384 => f.write_str("EC P-384"),
        }
    }
}

/// A public key that can verify JWS signatures.
#[derive(Clone, PartialEq, Eq)]
pub enum PublicKey {
    /// RSA, as big-endian modulus and exponent without leading zeros.
    Rsa {
        /// Modulus `n`.
        n: Vec<u8>,
        /// Public exponent `e`.
        e: Vec<u8>,
    },
    /// EC P-256 as an uncompressed SEC1 point (`04 || x || y`, 65 bytes).
    EcP256 {
        /// The point.
        point: Vec<u8>,
    },
    /// EC P-384 as an uncompressed SEC1 point (97 bytes).
    EcP384 {
        /// The point.
        point: Vec<u8>,
    },
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.kind())
    }
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    bytes.get(first..).unwrap_or_default()
}

impl PublicKey {
    /// An RSA key from its modulus and exponent (big-endian; leading zeros are ignored).
    ///
    /// Keys below [`MIN_RSA_BITS`] can be represented (old MAA certificates hold RSA-1024 keys
    /// and must still parse, for example to compute their key id) but never verify anything.
    ///
    /// # Errors
    /// [`Error::UnsupportedKey`] if the modulus is empty or above [`MAX_RSA_BITS`], or the
    /// exponent is empty or longer than 8 bytes.
    pub fn rsa(n: &[u8], e: &[u8]) -> Result<Self, Error> {
        let n = strip_leading_zeros(n);
        let e = strip_leading_zeros(e);
        let bits = rsa_bits(n);
        if bits == 0 || bits > MAX_RSA_BITS {
            return Err(Error::UnsupportedKey {
                what: format!("RSA modulus of {bits} bits (at most {MAX_RSA_BITS} accepted)"),
            });
        }
        if e.is_empty() || e.len() > 8 {
            return Err(Error::UnsupportedKey {
                what: format!("RSA exponent of {} bytes", e.len()),
            });
        }
        Ok(Self::Rsa {
            n: n.to_vec(),
            e: e.to_vec(),
        })
    }

    /// An EC key from an uncompressed SEC1 point; the curve follows from the point's length.
    ///
    /// # Errors
    /// [`Error::UnsupportedKey`] for compressed points and other curves. Whether the point is on
    /// the curve is checked when a signature is verified.
    pub fn ec_point(point: &[u8]) -> Result<Self, Error> {
        match (point.first(), point.len()) {
            (Some(0x04), 65) => Ok(Self::EcP256 {
                point: point.to_vec(),
            }),
            (Some(0x04), 97) => Ok(Self::EcP384 {
                point: point.to_vec(),
            }),
            _ => Err(Error::UnsupportedKey {
                what: format!(
                    "EC point of {} bytes (uncompressed P-256 or P-384 expected)",
                    point.len()
                ),
            }),
        }
    }

    /// A key from a DER SubjectPublicKeyInfo (the `PUBLIC KEY` PEM body).
    ///
    /// # Errors
    /// [`Error::UnsupportedKey`] if the DER does not parse or holds another key type.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, Error> {
        let (rest, spki) =
            SubjectPublicKeyInfo::from_der(der).map_err(|e| Error::UnsupportedKey {
                what: format!("SubjectPublicKeyInfo does not parse: {e}"),
            })?;
        if !rest.is_empty() {
            return Err(Error::UnsupportedKey {
                what: format!("{} bytes after the SubjectPublicKeyInfo", rest.len()),
            });
        }
        Self::from_spki(&spki)
    }

    pub(crate) fn from_spki(spki: &SubjectPublicKeyInfo<'_>) -> Result<Self, Error> {
        let algorithm = spki.algorithm.algorithm.to_id_string();
        match algorithm.as_str() {
            OID_RSA => match spki.parsed() {
                Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => {
                    Self::rsa(rsa.modulus, rsa.exponent)
                }
                _ => Err(Error::UnsupportedKey {
                    what: "malformed RSA public key".into(),
                }),
            },
            OID_EC => {
                let curve = spki
                    .algorithm
                    .parameters
                    .as_ref()
                    .and_then(|p| p.as_oid().ok())
                    .map(|oid| oid.to_id_string())
                    .unwrap_or_default();
                let point = spki.subject_public_key.data.as_ref();
                let key = Self::ec_point(point)?;
                match (curve.as_str(), &key) {
                    (OID_P256, Self::EcP256 { .. }) | (OID_P384, Self::EcP384 { .. }) => Ok(key),
                    _ => Err(Error::UnsupportedKey {
                        what: format!(
                            "EC key on curve {curve:?} with a {}-byte point",
                            point.len()
                        ),
                    }),
                }
            }
            other => Err(Error::UnsupportedKey {
                what: format!("key algorithm {other}"),
            }),
        }
    }

    /// The key's kind.
    #[must_use]
    pub fn kind(&self) -> KeyKind {
        match self {
            Self::Rsa { n, .. } => KeyKind::Rsa { bits: rsa_bits(n) },
            Self::EcP256 { .. } => KeyKind::EcP256,
            Self::EcP384 { .. } => KeyKind::EcP384,
        }
    }

    /// Checks that `alg` can be used with this key at all.
    pub(crate) fn check_algorithm(&self, alg: Algorithm) -> Result<(), Error> {
        let fits = match self {
            Self::Rsa { .. } => matches!(
                alg,
                Algorithm::Rs256
                    | Algorithm::Rs384
                    | Algorithm::Rs512
                    | Algorithm::Ps256
                    | Algorithm::Ps384
                    | Algorithm::Ps512
            ),
            Self::EcP256 { .. } => alg == Algorithm::Es256,
            Self::EcP384 { .. } => alg == Algorithm::Es384,
        };
        if fits {
            Ok(())
        } else {
            Err(Error::KeyMismatch {
                alg,
                key: self.kind(),
            })
        }
    }

    /// Verifies a JWS signature over `message`.
    ///
    /// ECDSA signatures are expected in the JWS form (`r || s`, RFC 7518 §3.4). A signature of any
    /// other length is tried as ASN.1 DER, because signers built on generic crypto libraries (the
    /// MAA Python SDK's EC path is one) emit DER. Both forms are the same mathematical signature,
    /// so the tolerance adds no forgery risk.
    ///
    /// # Errors
    /// [`Error::KeyMismatch`] if `alg` does not fit the key, [`Error::UnsecuredNotAllowed`] for
    /// `none`, [`Error::UnsupportedKey`] for RSA keys below [`MIN_RSA_BITS`],
    /// [`Error::BadSignature`] if the signature does not verify.
    pub fn verify(&self, alg: Algorithm, message: &[u8], signature: &[u8]) -> Result<(), Error> {
        if alg.is_unsecured() {
            return Err(Error::UnsecuredNotAllowed);
        }
        self.check_algorithm(alg)?;
        if let KeyKind::Rsa { bits } = self.kind()
            && bits < MIN_RSA_BITS
        {
            return Err(Error::UnsupportedKey {
                what: format!("RSA modulus of {bits} bits (at least {MIN_RSA_BITS} required)"),
            });
        }
        let bad = || Error::BadSignature {
            alg,
            key: self.kind(),
        };
        match self {
            Self::Rsa { n, e } => {
                let params: &RsaParameters = match alg {
                    Algorithm::Rs256 => &signature::RSA_PKCS1_2048_8192_SHA256,
                    Algorithm::Rs384 => &signature::RSA_PKCS1_2048_8192_SHA384,
                    Algorithm::Rs512 => &signature::RSA_PKCS1_2048_8192_SHA512,
                    Algorithm::Ps256 => &signature::RSA_PSS_2048_8192_SHA256,
                    Algorithm::Ps384 => &signature::RSA_PSS_2048_8192_SHA384,
                    _ => &signature::RSA_PSS_2048_8192_SHA512,
                };
                RsaPublicKeyComponents { n, e }
                    .verify(params, message, signature)
                    .map_err(|_| bad())
            }
            Self::EcP256 { point } => {
                let algorithm = if signature.len() == 64 {
                    &signature::ECDSA_P256_SHA256_FIXED
                } else {
                    &signature::ECDSA_P256_SHA256_ASN1
                };
                UnparsedPublicKey::new(algorithm, point)
                    .verify(message, signature)
                    .map_err(|_| bad())
            }
            Self::EcP384 { point } => {
                let algorithm = if signature.len() == 96 {
                    &signature::ECDSA_P384_SHA384_FIXED
                } else {
                    &signature::ECDSA_P384_SHA384_ASN1
                };
                UnparsedPublicKey::new(algorithm, point)
                    .verify(message, signature)
                    .map_err(|_| bad())
            }
        }
    }
}

/// Bit length of a big-endian unsigned integer without leading zero bytes.
fn rsa_bits(n: &[u8]) -> usize {
    match n.first() {
        None => 0,
        Some(&top) => {
            let top_bits = 8usize.saturating_sub(top.leading_zeros() as usize);
            n.len()
                .saturating_sub(1)
                .saturating_mul(8)
                .saturating_add(top_bits)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rsa_bit_length_ignores_leading_zeros() {
        let mut n = vec![0u8, 0x80];
        n.extend(std::iter::repeat_n(0xff, 255));
        let key = PublicKey::rsa(&n, &[1, 0, 1]).map(|k| k.kind());
        assert_eq!(key, Ok(KeyKind::Rsa { bits: 2048 }));
    }

    #[test]
    fn small_rsa_parses_but_never_verifies_and_odd_points_are_unsupported() {
        let small = PublicKey::rsa(&[0xff; 128], &[1, 0, 1]);
        assert_eq!(
            small.as_ref().map(PublicKey::kind),
            Ok(KeyKind::Rsa { bits: 1024 })
        );
        assert!(matches!(
            small.and_then(|k| k.verify(Algorithm::Rs256, b"m", &[0; 128])),
            Err(Error::UnsupportedKey { .. })
        ));
        assert!(matches!(
            PublicKey::rsa(&[], &[1, 0, 1]),
            Err(Error::UnsupportedKey { .. })
        ));
        assert!(matches!(
            PublicKey::ec_point(&[0x02; 33]),
            Err(Error::UnsupportedKey { .. })
        ));
    }
}
