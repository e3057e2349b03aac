//! TPMT_PUBLIC (Part 2, 12.2.4) and TPM2B_PUBLIC.

use crate::alg::HashAlg;
use crate::error::Error;
use crate::reader::Reader;
use crate::tpm2::TPM_ALG_NULL;

/// TPMA_OBJECT bits (Part 2, 8.3).
pub mod tpma {
    /// The key cannot be duplicated to another TPM.
    pub const FIXED_TPM: u32 = 1 << 1;
    /// The key cannot be duplicated to another parent.
    pub const FIXED_PARENT: u32 = 1 << 4;
    /// The TPM generated the sensitive part.
    pub const SENSITIVE_DATA_ORIGIN: u32 = 1 << 5;
    /// User role authorization with an auth value.
    pub const USER_WITH_AUTH: u32 = 1 << 6;
    /// Admin role needs a policy session.
    pub const ADMIN_WITH_POLICY: u32 = 1 << 7;
    /// Not subject to dictionary-attack protection.
    pub const NO_DA: u32 = 1 << 10;
    /// Restricted: signs only TPM-generated digests (attestation keys) or decrypts only
    /// TPM-formatted blobs.
    pub const RESTRICTED: u32 = 1 << 16;
    /// A decryption key.
    pub const DECRYPT: u32 = 1 << 17;
    /// A signing key.
    pub const SIGN: u32 = 1 << 18;
}

const TPM_ALG_RSA: u16 = 0x0001;
const TPM_ALG_KEYEDHASH: u16 = 0x0008;
const TPM_ALG_ECC: u16 = 0x0023;
const TPM_ALG_SYMCIPHER: u16 = 0x0025;

/// TPMI_ALG_PUBLIC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ObjectType {
    /// TPM_ALG_RSA.
    Rsa,
    /// TPM_ALG_ECC.
    Ecc,
    /// TPM_ALG_KEYEDHASH.
    KeyedHash,
    /// TPM_ALG_SYMCIPHER.
    SymCipher,
}

/// TPM_ECC_CURVE values this crate can verify with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EccCurve {
    /// TPM_ECC_NIST_P256 (0x0003).
    P256,
    /// TPM_ECC_NIST_P384 (0x0004).
    P384,
    /// TPM_ECC_NIST_P521 (0x0005).
    P521,
}

impl EccCurve {
    /// The curve for a TPM_ECC_CURVE id.
    #[must_use]
    pub const fn from_tpm_id(id: u16) -> Option<EccCurve> {
        match id {
            0x0003 => Some(EccCurve::P256),
            0x0004 => Some(EccCurve::P384),
            0x0005 => Some(EccCurve::P521),
            _ => None,
        }
    }

    /// Field element length in bytes.
    #[must_use]
    pub const fn coordinate_len(self) -> usize {
        match self {
            EccCurve::P256 => 32,
            EccCurve::P384 => 48,
            EccCurve::P521 => 66,
        }
    }

    /// The JWK `crv` name.
    #[must_use]
    pub const fn jwk_name(self) -> &'static str {
        match self {
            EccCurve::P256 => "P-256",
            EccCurve::P384 => "P-384",
            EccCurve::P521 => "P-521",
        }
    }

    /// The named-curve OID (dotted).
    #[must_use]
    pub const fn oid(self) -> &'static str {
        match self {
            EccCurve::P256 => "1.2.840.10045.3.1.7",
            EccCurve::P384 => "1.3.132.0.34",
            EccCurve::P521 => "1.3.132.0.35",
        }
    }
}

/// The type-specific parameters and unique field of a TPMT_PUBLIC. Scheme, symmetric and KDF
/// algorithms are kept as raw TPM_ALG_IDs (TPM_ALG_NULL = 0x0010) with their hash, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PublicDetail {
    /// An RSA key.
    Rsa {
        /// Symmetric algorithm of a storage key (TPM_ALG_NULL otherwise).
        symmetric: u16,
        /// Signing or encryption scheme (TPM_ALG_NULL = any).
        scheme: u16,
        /// The scheme's hash, if it has one.
        scheme_hash: Option<u16>,
        /// Key size in bits.
        key_bits: u16,
        /// Public exponent (0 on the wire means 65537 and is normalised here).
        exponent: u32,
        /// Modulus, big-endian.
        modulus: Vec<u8>,
    },
    /// An ECC key.
    Ecc {
        /// Symmetric algorithm of a storage key.
        symmetric: u16,
        /// Signing scheme.
        scheme: u16,
        /// The scheme's hash, if it has one.
        scheme_hash: Option<u16>,
        /// TPM_ECC_CURVE.
        curve_id: u16,
        /// KDF scheme.
        kdf: u16,
        /// X coordinate, big-endian.
        x: Vec<u8>,
        /// Y coordinate, big-endian.
        y: Vec<u8>,
    },
    /// A keyed-hash object (HMAC key or sealed data).
    KeyedHash {
        /// Scheme.
        scheme: u16,
        /// unique (a digest).
        unique: Vec<u8>,
    },
    /// A symmetric key.
    SymCipher {
        /// Symmetric algorithm.
        symmetric: u16,
        /// unique (a digest).
        unique: Vec<u8>,
    },
}

/// A parsed TPMT_PUBLIC, raw bytes kept (its Name is the hash of them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Public {
    /// Object type.
    pub object_type: ObjectType,
    /// nameAlg (TPM_ALG_ID).
    pub name_alg: u16,
    /// TPMA_OBJECT (see [`tpma`]).
    pub attributes: u32,
    /// authPolicy digest (empty if none).
    pub auth_policy: Vec<u8>,
    /// Type-specific parameters and public key.
    pub detail: PublicDetail,
    raw: Vec<u8>,
}

/// TPMT_SYM_DEF_OBJECT: algorithm, then keyBits and mode unless TPM_ALG_NULL.
fn read_symmetric(r: &mut Reader<'_>) -> Result<u16, Error> {
    let alg = r.u16_be("symmetric.algorithm")?;
    if alg != TPM_ALG_NULL {
        r.u16_be("symmetric.keyBits")?;
        r.u16_be("symmetric.mode")?;
    }
    Ok(alg)
}

/// A scheme: algorithm, then the details the algorithm has (`hash_schemes` carry a hash,
/// `ECDAA` a hash and a count).
fn read_scheme(
    r: &mut Reader<'_>,
    field: &'static str,
    hash_schemes: &[u16],
    no_detail_schemes: &[u16],
    allow_ecdaa: bool,
) -> Result<(u16, Option<u16>), Error> {
    let at = r.offset();
    let scheme = r.u16_be(field)?;
    if scheme == TPM_ALG_NULL || no_detail_schemes.contains(&scheme) {
        return Ok((scheme, None));
    }
    if allow_ecdaa && scheme == 0x001A {
        // TPM_ALG_ECDAA: hashAlg, count.
        let hash = r.u16_be(field)?;
        r.u16_be(field)?;
        return Ok((scheme, Some(hash)));
    }
    if hash_schemes.contains(&scheme) {
        let hash = r.u16_be(field)?;
        return Ok((scheme, Some(hash)));
    }
    Err(r.error_at(
        field,
        at,
        format!("scheme 0x{scheme:04x} is not allowed here"),
    ))
}

impl Public {
    /// Parses a TPMT_PUBLIC exactly.
    ///
    /// # Errors
    /// [`Error::Truncated`], [`Error::Malformed`], [`Error::TrailingBytes`],
    /// [`Error::Unsupported`] for object types other than RSA, ECC, keyed-hash, symmetric.
    pub fn parse(bytes: &[u8]) -> Result<Public, Error> {
        let mut r = Reader::new(bytes, "TPMT_PUBLIC");
        let public = Public::read(&mut r, bytes)?;
        r.finish()?;
        Ok(public)
    }

    /// Parses a TPM2B_PUBLIC (u16 size, then exactly that TPMT_PUBLIC).
    ///
    /// # Errors
    /// As [`Public::parse`].
    pub fn parse_tpm2b(bytes: &[u8]) -> Result<Public, Error> {
        let mut r = Reader::new(bytes, "TPM2B_PUBLIC");
        let inner = r.tpm2b("size")?;
        r.finish()?;
        Public::parse(inner)
    }

    fn read(r: &mut Reader<'_>, raw: &[u8]) -> Result<Public, Error> {
        let type_at = r.offset();
        let type_id = r.u16_be("type")?;
        let name_alg = r.u16_be("nameAlg")?;
        let attributes = r.u32_be("objectAttributes")?;
        let auth_policy = r.tpm2b("authPolicy")?.to_vec();
        let (object_type, detail) = match type_id {
            TPM_ALG_RSA => {
                let symmetric = read_symmetric(r)?;
                // RSASSA, RSAPSS, OAEP carry a hash; RSAES has no details.
                let (scheme, scheme_hash) =
                    read_scheme(r, "rsa.scheme", &[0x0014, 0x0016, 0x0017], &[0x0015], false)?;
                let key_bits = r.u16_be("rsa.keyBits")?;
                let exponent = match r.u32_be("rsa.exponent")? {
                    0 => 65537,
                    e => e,
                };
                let modulus = r.tpm2b("unique.rsa")?.to_vec();
                (
                    ObjectType::Rsa,
                    PublicDetail::Rsa {
                        symmetric,
                        scheme,
                        scheme_hash,
                        key_bits,
                        exponent,
                        modulus,
                    },
                )
            }
            TPM_ALG_ECC => {
                let symmetric = read_symmetric(r)?;
                // ECDSA, ECDH, SM2, ECSCHNORR, ECMQV carry a hash; ECDAA a hash and a count.
                let (scheme, scheme_hash) = read_scheme(
                    r,
                    "ecc.scheme",
                    &[0x0018, 0x0019, 0x001B, 0x001C, 0x001D],
                    &[],
                    true,
                )?;
                let curve_id = r.u16_be("ecc.curveID")?;
                // MGF1, KDF1_SP800_56A, KDF2, KDF1_SP800_108 carry a hash.
                let (kdf, _) =
                    read_scheme(r, "ecc.kdf", &[0x0007, 0x0020, 0x0021, 0x0022], &[], false)?;
                let x = r.tpm2b("unique.ecc.x")?.to_vec();
                let y = r.tpm2b("unique.ecc.y")?.to_vec();
                (
                    ObjectType::Ecc,
                    PublicDetail::Ecc {
                        symmetric,
                        scheme,
                        scheme_hash,
                        curve_id,
                        kdf,
                        x,
                        y,
                    },
                )
            }
            TPM_ALG_KEYEDHASH => {
                let at = r.offset();
                let scheme = r.u16_be("keyedHash.scheme")?;
                match scheme {
                    TPM_ALG_NULL => {}
                    // HMAC: hashAlg.
                    0x0005 => {
                        r.u16_be("keyedHash.hashAlg")?;
                    }
                    // XOR: hashAlg, kdf.
                    0x000A => {
                        r.u16_be("keyedHash.hashAlg")?;
                        r.u16_be("keyedHash.kdf")?;
                    }
                    other => {
                        return Err(r.error_at(
                            "keyedHash.scheme",
                            at,
                            format!("scheme 0x{other:04x} is not allowed here"),
                        ));
                    }
                }
                let unique = r.tpm2b("unique.keyedHash")?.to_vec();
                (
                    ObjectType::KeyedHash,
                    PublicDetail::KeyedHash { scheme, unique },
                )
            }
            TPM_ALG_SYMCIPHER => {
                let symmetric = read_symmetric(r)?;
                let unique = r.tpm2b("unique.sym")?.to_vec();
                (
                    ObjectType::SymCipher,
                    PublicDetail::SymCipher { symmetric, unique },
                )
            }
            other => {
                return Err(r.error_at(
                    "type",
                    type_at,
                    format!("object type 0x{other:04x} is not RSA, ECC, keyed-hash or symmetric"),
                ));
            }
        };
        let end = r.offset();
        Ok(Public {
            object_type,
            name_alg,
            attributes,
            auth_policy,
            detail,
            raw: raw.get(..end).unwrap_or(raw).to_vec(),
        })
    }

    /// The marshalled TPMT_PUBLIC.
    #[must_use]
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    /// The object's Name: nameAlg (big-endian) followed by H_nameAlg(TPMT_PUBLIC). TPM2_Certify
    /// names the certified object by it.
    ///
    /// # Errors
    /// [`Error::UnsupportedAlgorithm`] if nameAlg is not a supported hash.
    pub fn name(&self) -> Result<Vec<u8>, Error> {
        let hash = HashAlg::from_tpm_alg_id(self.name_alg).ok_or(Error::UnsupportedAlgorithm {
            context: "TPMT_PUBLIC.nameAlg",
            alg: self.name_alg,
        })?;
        let mut name = self.name_alg.to_be_bytes().to_vec();
        name.extend_from_slice(&hash.digest(&self.raw));
        Ok(name)
    }
}
