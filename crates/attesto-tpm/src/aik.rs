//! The attestation identity key: its public key in the forms clients send (TPMT_PUBLIC, JWK
//! components, X.509 SubjectPublicKeyInfo), TPM signature verification with it, and the AIK
//! certificate chain to configured TPM roots.
//!
//! Chain rules (RFC 5280 subset, what TPM vendor and cloud AIK PKIs use): the leaf is the AIK
//! certificate; intermediates come from the client and are untrusted; the chain must end in a
//! configured trust anchor (matched by subject and verified signature). Every certificate on
//! the path, the anchor included, must be valid at the verification time. CA certificates
//! need `basicConstraints cA` (and `keyCertSign` if key usage is present) and respect
//! `pathLenConstraint`; the leaf must not be a CA and, if it has key usage, allow
//! `digitalSignature`. Unknown critical extensions are rejected. Signatures: RSA PKCS#1 v1.5
//! with SHA-256/384/512 and ECDSA P-256/P-384/P-521; SHA-1 certificate signatures are refused.
//! Revocation is not checked (no CRLs are supplied in the MAA protocol). The extended key
//! usage is not required: Google's AK certificates carry the EK purpose (2.23.133.8.1), not
//! tcg-kp-AIKCertificate (2.23.133.8.3).

use aws_lc_rs::signature::{
    self, RsaPublicKeyComponents, UnparsedPublicKey, VerificationAlgorithm,
};
use aws_lc_rs::signature::{RsaParameters, RsaPssSaltLength};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rustls_pki_types::UnixTime;
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::public_key::PublicKey;
use x509_parser::x509::SubjectPublicKeyInfo;

use crate::alg::HashAlg;
use crate::der;
use crate::error::{CertRole, Error};
use crate::time::from_unix;
use crate::tpm2::{EccCurve, ObjectType, Public, PublicDetail, Signature, tpma};

/// Longest chain searched (leaf, intermediates, anchor).
const MAX_PATH_LEN: usize = 6;
/// Intermediates a client may send; real AIK chains have one or two.
const MAX_INTERMEDIATES: usize = 8;
/// Signature checks one path search may spend, so crafted intermediates that all share one
/// name cannot make the search exponential.
const MAX_SIGNATURE_CHECKS: usize = 64;

/// RSA-PSS with the largest salt, as TPMs built to early TPM 2.0 revisions sign.
static PSS_SHA256_MAX_SALT: RsaParameters =
    signature::RSA_PSS_2048_8192_SHA256.with_pss_salt_length(RsaPssSaltLength::Max);
static PSS_SHA384_MAX_SALT: RsaParameters =
    signature::RSA_PSS_2048_8192_SHA384.with_pss_salt_length(RsaPssSaltLength::Max);
static PSS_SHA512_MAX_SALT: RsaParameters =
    signature::RSA_PSS_2048_8192_SHA512.with_pss_salt_length(RsaPssSaltLength::Max);

/// An AIK public key, normalised so keys from different encodings compare equal.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AikPublicKey {
    /// RSA.
    Rsa {
        /// Modulus, big-endian, no leading zeros.
        modulus: Vec<u8>,
        /// Public exponent, big-endian, no leading zeros.
        exponent: Vec<u8>,
    },
    /// ECC.
    Ecc {
        /// The curve.
        curve: EccCurve,
        /// X, big-endian, padded to the coordinate length.
        x: Vec<u8>,
        /// Y, likewise.
        y: Vec<u8>,
    },
}

fn strip_zeros(bytes: &[u8]) -> &[u8] {
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    bytes.get(skip..).unwrap_or_default()
}

fn pad_coordinate(curve: EccCurve, value: &[u8]) -> Option<Vec<u8>> {
    let value = strip_zeros(value);
    let len = curve.coordinate_len();
    if value.len() > len {
        return None;
    }
    let mut out = vec![0u8; len.saturating_sub(value.len())];
    out.extend_from_slice(value);
    Some(out)
}

impl AikPublicKey {
    /// An RSA key from modulus and exponent (big-endian; leading zeros ignored).
    ///
    /// # Errors
    /// [`Error::Unsupported`] for an empty modulus or exponent.
    pub fn rsa(modulus: &[u8], exponent: &[u8]) -> Result<AikPublicKey, Error> {
        let modulus = strip_zeros(modulus);
        let exponent = strip_zeros(exponent);
        if modulus.is_empty() || exponent.is_empty() {
            return Err(Error::Unsupported {
                what: "RSA key with an empty modulus or exponent".to_owned(),
            });
        }
        Ok(AikPublicKey::Rsa {
            modulus: modulus.to_vec(),
            exponent: exponent.to_vec(),
        })
    }

    /// An ECC key from its affine coordinates.
    ///
    /// # Errors
    /// [`Error::Unsupported`] if a coordinate is longer than the curve's field.
    pub fn ecc(curve: EccCurve, x: &[u8], y: &[u8]) -> Result<AikPublicKey, Error> {
        match (pad_coordinate(curve, x), pad_coordinate(curve, y)) {
            (Some(x), Some(y)) => Ok(AikPublicKey::Ecc { curve, x, y }),
            _ => Err(Error::Unsupported {
                what: format!("{} point with oversized coordinates", curve.jwk_name()),
            }),
        }
    }

    /// The key of a TPMT_PUBLIC.
    ///
    /// # Errors
    /// [`Error::Unsupported`] for keyed-hash/symmetric objects or unsupported curves.
    pub fn from_public(public: &Public) -> Result<AikPublicKey, Error> {
        match &public.detail {
            PublicDetail::Rsa {
                modulus, exponent, ..
            } => AikPublicKey::rsa(modulus, &exponent.to_be_bytes()),
            PublicDetail::Ecc { curve_id, x, y, .. } => {
                let curve = EccCurve::from_tpm_id(*curve_id).ok_or_else(|| Error::Unsupported {
                    what: format!("ECC curve 0x{curve_id:04x}"),
                })?;
                AikPublicKey::ecc(curve, x, y)
            }
            PublicDetail::KeyedHash { .. } | PublicDetail::SymCipher { .. } => {
                Err(Error::Unsupported {
                    what: "a keyed-hash or symmetric object as a signing key".to_owned(),
                })
            }
        }
    }

    /// The key of a DER SubjectPublicKeyInfo.
    ///
    /// # Errors
    /// [`Error::Unsupported`] for key types other than RSA and NIST ECC, or malformed DER.
    pub fn from_spki_der(der: &[u8]) -> Result<AikPublicKey, Error> {
        let bad = |reason: &str| Error::Unsupported {
            what: format!("SubjectPublicKeyInfo: {reason}"),
        };
        let (rest, spki) = SubjectPublicKeyInfo::from_der(der).map_err(|_| bad("not DER"))?;
        if !rest.is_empty() {
            return Err(bad("trailing bytes"));
        }
        from_spki(&spki).map_err(|reason| bad(&reason))
    }

    /// DER SubjectPublicKeyInfo (RSA with a NULL parameter; ECC with a named curve and an
    /// uncompressed point).
    #[must_use]
    pub fn to_spki_der(&self) -> Vec<u8> {
        match self {
            AikPublicKey::Rsa { modulus, exponent } => {
                let key = der::sequence(&[
                    &der::unsigned_integer(modulus),
                    &der::unsigned_integer(exponent),
                ]);
                der::sequence(&[der::RSA_ALGORITHM, &der::bit_string(&key)])
            }
            AikPublicKey::Ecc { curve, x, y } => {
                let curve_oid = match curve {
                    EccCurve::P256 => der::P256_OID,
                    EccCurve::P384 => der::P384_OID,
                    EccCurve::P521 => der::P521_OID,
                };
                let algorithm = der::sequence(&[der::EC_PUBLIC_KEY_OID, curve_oid]);
                der::sequence(&[&algorithm, &der::bit_string(&self.ec_point(x, y))])
            }
        }
    }

    fn ec_point(&self, x: &[u8], y: &[u8]) -> Vec<u8> {
        let mut point = Vec::with_capacity(x.len().saturating_add(y.len()).saturating_add(1));
        point.push(0x04);
        point.extend_from_slice(x);
        point.extend_from_slice(y);
        point
    }

    /// MAA's `aikPubHash`: standard base64 (with padding) of SHA-256 over
    /// [`to_spki_der`](Self::to_spki_der).
    #[must_use]
    pub fn pub_hash(&self) -> String {
        STANDARD.encode(HashAlg::Sha256.digest(&self.to_spki_der()))
    }

    /// A short description for messages (`RSA-2048`, `ECC P-256`).
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            AikPublicKey::Rsa { modulus, .. } => format!("RSA-{}", bit_len(modulus)),
            AikPublicKey::Ecc { curve, .. } => format!("ECC {}", curve.jwk_name()),
        }
    }

    /// Verifies a TPM signature over `message` (the raw TPMS_ATTEST). RSASSA (PKCS#1 v1.5,
    /// SHA-1 allowed because Windows AIKs quote with it), RSAPSS (salt = digest length, or the
    /// maximum as older TPMs use; SHA-256 and up), ECDSA (SHA-256 and up).
    ///
    /// # Errors
    /// [`Error::SchemeKeyMismatch`] for a scheme the key cannot verify, [`Error::BadSignature`]
    /// if it does not verify.
    pub fn verify(
        &self,
        signature: &Signature,
        message: &[u8],
        what: &'static str,
    ) -> Result<(), Error> {
        let mismatch = || Error::SchemeKeyMismatch {
            scheme: signature.scheme_name(),
            key: self.describe(),
        };
        let bad = || Error::BadSignature { what };
        match (self, signature) {
            (
                AikPublicKey::Rsa { modulus, exponent },
                Signature::RsaSsa {
                    hash,
                    signature: sig,
                },
            ) => {
                let params: &RsaParameters = match hash {
                    HashAlg::Sha1 => &signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
                    HashAlg::Sha256 => &signature::RSA_PKCS1_2048_8192_SHA256,
                    HashAlg::Sha384 => &signature::RSA_PKCS1_2048_8192_SHA384,
                    HashAlg::Sha512 => &signature::RSA_PKCS1_2048_8192_SHA512,
                };
                RsaPublicKeyComponents {
                    n: modulus.as_slice(),
                    e: exponent.as_slice(),
                }
                .verify(params, message, sig)
                .map_err(|_| bad())
            }
            (
                AikPublicKey::Rsa { modulus, exponent },
                Signature::RsaPss {
                    hash,
                    signature: sig,
                },
            ) => {
                let (params, max_salt): (&RsaParameters, &RsaParameters) = match hash {
                    HashAlg::Sha1 => return Err(mismatch()),
                    HashAlg::Sha256 => (&signature::RSA_PSS_2048_8192_SHA256, &PSS_SHA256_MAX_SALT),
                    HashAlg::Sha384 => (&signature::RSA_PSS_2048_8192_SHA384, &PSS_SHA384_MAX_SALT),
                    HashAlg::Sha512 => (&signature::RSA_PSS_2048_8192_SHA512, &PSS_SHA512_MAX_SALT),
                };
                let key = RsaPublicKeyComponents {
                    n: modulus.as_slice(),
                    e: exponent.as_slice(),
                };
                key.verify(params, message, sig)
                    .or_else(|_| key.verify(max_salt, message, sig))
                    .map_err(|_| bad())
            }
            (AikPublicKey::Ecc { curve, x, y }, Signature::Ecdsa { hash, r, s }) => {
                let algorithm: &'static dyn VerificationAlgorithm = match (curve, hash) {
                    (EccCurve::P256, HashAlg::Sha256) => &signature::ECDSA_P256_SHA256_ASN1,
                    (EccCurve::P256, HashAlg::Sha384) => &signature::ECDSA_P256_SHA384_ASN1,
                    (EccCurve::P256, HashAlg::Sha512) => &signature::ECDSA_P256_SHA512_ASN1,
                    (EccCurve::P384, HashAlg::Sha256) => &signature::ECDSA_P384_SHA256_ASN1,
                    (EccCurve::P384, HashAlg::Sha384) => &signature::ECDSA_P384_SHA384_ASN1,
                    (EccCurve::P384, HashAlg::Sha512) => &signature::ECDSA_P384_SHA512_ASN1,
                    (EccCurve::P521, HashAlg::Sha256) => &signature::ECDSA_P521_SHA256_ASN1,
                    (EccCurve::P521, HashAlg::Sha384) => &signature::ECDSA_P521_SHA384_ASN1,
                    (EccCurve::P521, HashAlg::Sha512) => &signature::ECDSA_P521_SHA512_ASN1,
                    (_, HashAlg::Sha1) => return Err(mismatch()),
                };
                let sig_der =
                    der::sequence(&[&der::unsigned_integer(r), &der::unsigned_integer(s)]);
                UnparsedPublicKey::new(algorithm, self.ec_point(x, y))
                    .verify(message, &sig_der)
                    .map_err(|_| bad())
            }
            _ => Err(mismatch()),
        }
    }
}

fn bit_len(magnitude: &[u8]) -> usize {
    let magnitude = strip_zeros(magnitude);
    match magnitude.first() {
        Some(first) => magnitude
            .len()
            .saturating_mul(8)
            .saturating_sub(usize::try_from(first.leading_zeros()).unwrap_or(0)),
        None => 0,
    }
}

fn curve_of(spki: &SubjectPublicKeyInfo<'_>) -> Option<EccCurve> {
    let oid = spki.algorithm.parameters.as_ref()?.as_oid().ok()?;
    match oid.to_id_string().as_str() {
        "1.2.840.10045.3.1.7" => Some(EccCurve::P256),
        "1.3.132.0.34" => Some(EccCurve::P384),
        "1.3.132.0.35" => Some(EccCurve::P521),
        _ => None,
    }
}

fn from_spki(spki: &SubjectPublicKeyInfo<'_>) -> Result<AikPublicKey, String> {
    match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) => {
            AikPublicKey::rsa(rsa.modulus, rsa.exponent).map_err(|e| e.to_string())
        }
        Ok(PublicKey::EC(point)) => {
            let curve = curve_of(spki).ok_or("unsupported or missing EC curve")?;
            let len = curve.coordinate_len();
            match point.data() {
                [0x04, xy @ ..] if xy.len() == len.saturating_mul(2) => {
                    let (x, y) = xy.split_at(len);
                    AikPublicKey::ecc(curve, x, y).map_err(|e| e.to_string())
                }
                _ => Err("EC point is not uncompressed".to_owned()),
            }
        }
        Ok(_) => Err("key type is neither RSA nor EC".to_owned()),
        Err(e) => Err(e.to_string()),
    }
}

/// An owned, parsed certificate with what chain validation needs.
#[derive(Debug, Clone)]
struct Cert {
    role: CertRole,
    subject: Vec<u8>,
    issuer: Vec<u8>,
    issuer_text: String,
    /// The certified key, if RSA or NIST ECC.
    key: Result<AikPublicKey, String>,
    /// BIT STRING contents of the SPKI (what aws-lc-rs verifies with).
    spki_key: Vec<u8>,
    spki_curve: Option<EccCurve>,
    spki_is_rsa: bool,
    not_before: UnixTime,
    not_after: UnixTime,
    is_ca: bool,
    path_len: Option<u32>,
    /// `(digitalSignature, keyCertSign)` if key usage is present.
    key_usage: Option<(bool, bool)>,
    tbs: Vec<u8>,
    signature_algorithm: String,
    signature: Vec<u8>,
}

/// Extensions whose criticality this validator understands (or that carry no constraint it
/// would have to enforce).
const KNOWN_CRITICAL: &[&str] = &[
    "2.5.29.19", // basicConstraints
    "2.5.29.15", // keyUsage
    "2.5.29.37", // extKeyUsage
    "2.5.29.17", // subjectAltName (TPM attributes in a directoryName)
    "2.5.29.9",  // subjectDirectoryAttributes (TPM specification)
    "2.5.29.32", // certificatePolicies
    "2.5.29.35", // authorityKeyIdentifier
    "2.5.29.14", // subjectKeyIdentifier
];

impl Cert {
    fn parse(der: &[u8], role: CertRole) -> Result<Cert, Error> {
        let (rest, cert) =
            X509Certificate::from_der(der).map_err(|e| Error::cert(role, e.to_string()))?;
        if !rest.is_empty() {
            return Err(Error::cert(role, "trailing bytes after the certificate"));
        }
        if let Some(ext) = cert
            .extensions()
            .iter()
            .find(|ext| ext.critical && !KNOWN_CRITICAL.contains(&ext.oid.to_id_string().as_str()))
        {
            return Err(Error::cert(
                role,
                format!("unsupported critical extension {}", ext.oid.to_id_string()),
            ));
        }
        let validity = cert.validity();
        let not_before = from_unix(validity.not_before.timestamp())
            .ok_or_else(|| Error::cert(role, "notBefore before 1970"))?;
        let not_after = from_unix(validity.not_after.timestamp())
            .ok_or_else(|| Error::cert(role, "notAfter before 1970"))?;
        let basic = cert
            .basic_constraints()
            .map_err(|e| Error::cert(role, format!("basicConstraints: {e}")))?;
        let key_usage = cert
            .key_usage()
            .map_err(|e| Error::cert(role, format!("keyUsage: {e}")))?
            .map(|ku| (ku.value.digital_signature(), ku.value.key_cert_sign()));
        let spki = cert.public_key();
        Ok(Cert {
            role,
            subject: cert.subject().as_raw().to_vec(),
            issuer: cert.issuer().as_raw().to_vec(),
            issuer_text: cert.issuer().to_string(),
            key: from_spki(spki),
            spki_key: spki.subject_public_key.data.to_vec(),
            spki_curve: curve_of(spki),
            spki_is_rsa: spki.algorithm.algorithm.to_id_string() == "1.2.840.113549.1.1.1",
            not_before,
            not_after,
            is_ca: basic.as_ref().is_some_and(|bc| bc.value.ca),
            path_len: basic.and_then(|bc| bc.value.path_len_constraint),
            key_usage,
            tbs: cert.tbs_certificate.as_ref().to_vec(),
            signature_algorithm: cert.signature_algorithm.algorithm.to_id_string(),
            signature: cert.signature_value.data.to_vec(),
        })
    }

    fn check_time(&self, time: UnixTime) -> Result<(), Error> {
        if time.as_secs() < self.not_before.as_secs() {
            return Err(Error::CertificateNotYetValid {
                role: self.role,
                not_before: self.not_before,
                time,
            });
        }
        if time.as_secs() > self.not_after.as_secs() {
            return Err(Error::CertificateExpired {
                role: self.role,
                not_after: self.not_after,
                time,
            });
        }
        Ok(())
    }

    /// CA checks for a certificate `below` CA certificates above the leaf.
    fn check_ca(&self, below: usize) -> Result<(), Error> {
        if !self.is_ca {
            return Err(Error::cert(
                self.role,
                "issues certificates but is not a CA",
            ));
        }
        if let Some((_, false)) = self.key_usage {
            return Err(Error::cert(self.role, "key usage lacks keyCertSign"));
        }
        if let Some(limit) = self.path_len
            && usize::try_from(limit).unwrap_or(usize::MAX) < below
        {
            return Err(Error::cert(
                self.role,
                format!("pathLenConstraint {limit} allows fewer intermediates than the path has"),
            ));
        }
        Ok(())
    }

    /// Verifies that `issuer` signed this certificate.
    fn verify_signed_by(&self, issuer: &Cert) -> Result<(), Error> {
        let unsupported = || Error::CertificateAlgorithm {
            role: self.role,
            algorithm: self.signature_algorithm.clone(),
        };
        let algorithm: &'static dyn VerificationAlgorithm = match (
            self.signature_algorithm.as_str(),
            issuer.spki_is_rsa,
            issuer.spki_curve,
        ) {
            ("1.2.840.113549.1.1.11", true, _) => &signature::RSA_PKCS1_2048_8192_SHA256,
            ("1.2.840.113549.1.1.12", true, _) => &signature::RSA_PKCS1_2048_8192_SHA384,
            ("1.2.840.113549.1.1.13", true, _) => &signature::RSA_PKCS1_2048_8192_SHA512,
            ("1.2.840.10045.4.3.2", false, Some(EccCurve::P256)) => {
                &signature::ECDSA_P256_SHA256_ASN1
            }
            ("1.2.840.10045.4.3.3", false, Some(EccCurve::P256)) => {
                &signature::ECDSA_P256_SHA384_ASN1
            }
            ("1.2.840.10045.4.3.2", false, Some(EccCurve::P384)) => {
                &signature::ECDSA_P384_SHA256_ASN1
            }
            ("1.2.840.10045.4.3.3", false, Some(EccCurve::P384)) => {
                &signature::ECDSA_P384_SHA384_ASN1
            }
            ("1.2.840.10045.4.3.4", false, Some(EccCurve::P521)) => {
                &signature::ECDSA_P521_SHA512_ASN1
            }
            _ => return Err(unsupported()),
        };
        UnparsedPublicKey::new(algorithm, &issuer.spki_key)
            .verify(&self.tbs, &self.signature)
            .map_err(|_| Error::CertificateSignature { role: self.role })
    }
}

/// The TPM roots an AIK certificate must chain to (per provider: TPM vendor roots, a cloud's
/// EK/AK CA, the Microsoft AIK CA). Nothing is trusted by default.
#[derive(Debug, Clone, Default)]
pub struct TrustAnchors {
    certs: Vec<Cert>,
}

impl TrustAnchors {
    /// No anchors: no AIK certificate validates.
    #[must_use]
    pub fn empty() -> TrustAnchors {
        TrustAnchors::default()
    }

    /// Anchors from DER certificates.
    ///
    /// # Errors
    /// [`Error::Certificate`] naming the anchor that does not parse.
    pub fn from_der<I, B>(certs: I) -> Result<TrustAnchors, Error>
    where
        I: IntoIterator<Item = B>,
        B: AsRef<[u8]>,
    {
        let certs = certs
            .into_iter()
            .enumerate()
            .map(|(i, der)| Cert::parse(der.as_ref(), CertRole::TrustAnchor(i)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(TrustAnchors { certs })
    }

    /// How many anchors there are.
    #[must_use]
    pub fn len(&self) -> usize {
        self.certs.len()
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.certs.is_empty()
    }
}

/// The AIK as the client presents it.
#[derive(Debug, Clone, Default)]
pub struct AikEvidence {
    key: Option<AikPublicKey>,
    public: Option<Public>,
    certificate: Option<Vec<u8>>,
    intermediates: Vec<Vec<u8>>,
}

impl AikEvidence {
    /// Nothing yet.
    #[must_use]
    pub fn new() -> AikEvidence {
        AikEvidence::default()
    }

    /// The AIK's TPMT_PUBLIC. Its attributes are then checked: an attestation key must be a
    /// restricted, fixedTPM signing key, or it could sign forged attestations.
    ///
    /// # Errors
    /// The parse error, or [`Error::Unsupported`] for a non-signing key type.
    pub fn with_tpm_public(mut self, tpmt_public: &[u8]) -> Result<AikEvidence, Error> {
        let public = Public::parse(tpmt_public)?;
        self.key = Some(AikPublicKey::from_public(&public)?);
        self.public = Some(public);
        Ok(self)
    }

    /// The AIK's public key in another form (MAA's `aik_pub` JWK, converted by the caller).
    #[must_use]
    pub fn with_public_key(mut self, key: AikPublicKey) -> AikEvidence {
        self.key = Some(key);
        self.public = None;
        self
    }

    /// The AIK certificate (DER).
    #[must_use]
    pub fn with_certificate(mut self, der: Vec<u8>) -> AikEvidence {
        self.certificate = Some(der);
        self
    }

    /// Intermediate CA certificates (DER, any order; untrusted).
    #[must_use]
    pub fn with_intermediates(mut self, ders: Vec<Vec<u8>>) -> AikEvidence {
        self.intermediates = ders;
        self
    }
}

/// What the AIK certificate check concluded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AikStatus {
    /// The certificate chains to trust anchor `anchor` and certifies the key.
    Validated {
        /// Index of the anchor in the [`TrustAnchors`].
        anchor: usize,
    },
    /// No certificate was sent (allowed only when the policy does not require one).
    NoCertificate,
    /// A certificate was sent but does not validate (allowed only when not required).
    Invalid(Error),
}

/// The AIK after verification: the key quotes are checked with and how far it is trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAik {
    /// The key.
    pub key: AikPublicKey,
    /// The certificate verdict.
    pub status: AikStatus,
}

impl VerifiedAik {
    /// MAA's `aikValidated`.
    #[must_use]
    pub fn validated(&self) -> bool {
        matches!(self.status, AikStatus::Validated { .. })
    }
}

/// Resolves the AIK key, checks the TPMT_PUBLIC attributes, the key match between certificate
/// and public key, and the chain.
pub(crate) fn verify_aik(
    evidence: &AikEvidence,
    anchors: &TrustAnchors,
    require_valid_cert: bool,
    time: UnixTime,
) -> Result<VerifiedAik, Error> {
    if let Some(public) = &evidence.public {
        check_attributes(public)?;
    }
    let leaf = evidence
        .certificate
        .as_deref()
        .map(|der| Cert::parse(der, CertRole::AikCertificate));
    let cert_key = match &leaf {
        Some(Ok(cert)) => Some(
            cert.key
                .clone()
                .map_err(|reason| Error::cert(CertRole::AikCertificate, reason))?,
        ),
        _ => None,
    };
    let key = match (&evidence.key, cert_key) {
        (Some(key), Some(cert_key)) => {
            if *key != cert_key {
                return Err(Error::AikKeyMismatch);
            }
            key.clone()
        }
        (Some(key), None) => key.clone(),
        (None, Some(cert_key)) => cert_key,
        (None, None) => {
            return Err(match leaf {
                Some(Err(e)) => e,
                _ => Error::NoAikKey,
            });
        }
    };
    let status = match leaf {
        None if require_valid_cert => return Err(Error::AikCertificateRequired),
        None => AikStatus::NoCertificate,
        Some(leaf) => match leaf.and_then(|leaf| validate_chain(&leaf, evidence, anchors, time)) {
            Ok(anchor) => AikStatus::Validated { anchor },
            Err(e) if require_valid_cert => return Err(e),
            Err(e) => AikStatus::Invalid(e),
        },
    };
    Ok(VerifiedAik { key, status })
}

fn check_attributes(public: &Public) -> Result<(), Error> {
    let attributes = public.attributes;
    let reason = if !matches!(public.object_type, ObjectType::Rsa | ObjectType::Ecc) {
        Some("not an asymmetric key")
    } else if attributes & tpma::SIGN == 0 {
        Some("not a signing key")
    } else if attributes & tpma::RESTRICTED == 0 {
        Some("not restricted (it could sign data that imitates a TPM attestation)")
    } else if attributes & tpma::FIXED_TPM == 0 {
        Some("not fixedTPM (it could live outside a TPM)")
    } else if attributes & tpma::DECRYPT != 0 {
        Some("also a decryption key")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(Error::AikAttributes { attributes, reason }),
        None => Ok(()),
    }
}

fn validate_chain(
    leaf: &Cert,
    evidence: &AikEvidence,
    anchors: &TrustAnchors,
    time: UnixTime,
) -> Result<usize, Error> {
    leaf.check_time(time)?;
    if leaf.is_ca {
        return Err(Error::cert(
            leaf.role,
            "the AIK certificate is a CA certificate",
        ));
    }
    if let Some((false, _)) = leaf.key_usage {
        return Err(Error::cert(leaf.role, "key usage lacks digitalSignature"));
    }
    if evidence.intermediates.len() > MAX_INTERMEDIATES {
        return Err(Error::cert(
            CertRole::Intermediate(MAX_INTERMEDIATES),
            format!("more than {MAX_INTERMEDIATES} intermediate certificates"),
        ));
    }
    let intermediates = evidence
        .intermediates
        .iter()
        .enumerate()
        .map(|(i, der)| Cert::parse(der, CertRole::Intermediate(i)))
        .collect::<Result<Vec<_>, _>>()?;
    let mut search = Search {
        intermediates: &intermediates,
        used: vec![false; intermediates.len()],
        anchors,
        time,
        budget: MAX_SIGNATURE_CHECKS,
    };
    search.from(leaf, 0)
}

/// Depth-first search for a path from a certificate to an anchor.
struct Search<'a> {
    intermediates: &'a [Cert],
    used: Vec<bool>,
    anchors: &'a TrustAnchors,
    time: UnixTime,
    budget: usize,
}

impl Search<'_> {
    /// Checks that `issuer` signed `current`, spending one unit of the budget.
    fn signed_by(&mut self, current: &Cert, issuer: &Cert) -> Result<(), Error> {
        if self.budget == 0 {
            return Err(Error::cert(
                current.role,
                "certificate path search gave up (too many candidate issuers)",
            ));
        }
        self.budget = self.budget.saturating_sub(1);
        current.verify_signed_by(issuer)
    }

    /// A path from `current` (with `depth` CA certificates between it and the leaf) to an
    /// anchor: the anchor index, or the most specific failure met on the way.
    fn from(&mut self, current: &Cert, depth: usize) -> Result<usize, Error> {
        let mut failure: Option<Error> = None;
        let anchors = self.anchors;
        for (index, anchor) in anchors.certs.iter().enumerate() {
            if anchor.subject != current.issuer {
                continue;
            }
            let checked = self
                .signed_by(current, anchor)
                .and_then(|()| anchor.check_time(self.time))
                .and_then(|()| anchor.check_ca(depth));
            match checked {
                Ok(()) => return Ok(index),
                Err(e) => failure = Some(e),
            }
        }
        if depth.saturating_add(2) < MAX_PATH_LEN {
            let intermediates = self.intermediates;
            for (index, candidate) in intermediates.iter().enumerate() {
                if candidate.subject != current.issuer
                    || self.used.get(index).copied().unwrap_or(true)
                {
                    continue;
                }
                let checked = self
                    .signed_by(current, candidate)
                    .and_then(|()| candidate.check_time(self.time))
                    .and_then(|()| candidate.check_ca(depth));
                if let Err(e) = checked {
                    failure = Some(e);
                    continue;
                }
                self.mark(index, true);
                let found = self.from(candidate, depth.saturating_add(1));
                self.mark(index, false);
                match found {
                    Ok(anchor) => return Ok(anchor),
                    Err(e) => failure = Some(e),
                }
            }
        }
        Err(failure.unwrap_or_else(|| Error::UntrustedAik {
            issuer: current.issuer_text.clone(),
        }))
    }

    fn mark(&mut self, index: usize, value: bool) {
        if let Some(flag) = self.used.get_mut(index) {
            *flag = value;
        }
    }
}
