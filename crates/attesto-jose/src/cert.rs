//! X.509 signer certificates: `x5c` chains, validity at a given time, trust against a set of
//! trusted certificates, and the identifiers MAA derives from certificates.
//!
//! # What trust checking supports
//! [`SignerChain::verify_trust`] accepts a signer when
//! 1. its DER is byte-for-byte one of the trusted certificates, or
//! 2. walking the presented chain (`x5c[0]`, `x5c[1]`, ...) reaches a certificate that is trusted
//!    or whose issuer is trusted, where every issuing step (within the chain and to the trusted
//!    certificate) requires: the issuer's subject DN equals the child's issuer DN (DER
//!    comparison), the issuer has `basicConstraints` CA=true, `keyUsage` (if present) allows
//!    `keyCertSign`, and the child's signature verifies with the issuer's key using SHA-256 or
//!    stronger (SHA-1 certificate signatures are refused).
//!
//! Every certificate of the presented chain that is used, including one that matched a trusted
//! certificate exactly, must be within its validity period at the verification time; a trusted
//! certificate that only acts as issuer is an anchor and its dates are not checked (as in WebPKI
//! practice). Not supported: path length constraints, name constraints, policies,
//! extended key usage and revocation. MAA's isolated mode needs no more: its signers are
//! self-signed certificates or certificates issued directly by an uploaded CA.

use aws_lc_rs::digest;
use rustls_pki_types::UnixTime;
use x509_parser::prelude::{FromDer as _, X509Certificate};

use crate::base64url;
use crate::error::Error;
use crate::key::PublicKey;

/// Most certificates accepted in one `x5c` chain.
pub const MAX_CHAIN_LEN: usize = 8;

/// Signature algorithms accepted on certificates when checking an issuing step.
const CERT_SIGNATURE_OIDS: [&str; 6] = [
    "1.2.840.113549.1.1.11", // sha256WithRSAEncryption
    "1.2.840.113549.1.1.12", // sha384WithRSAEncryption
    "1.2.840.113549.1.1.13", // sha512WithRSAEncryption
    "1.2.840.113549.1.1.10", // RSASSA-PSS
    "1.2.840.10045.4.3.2",   // ecdsa-with-SHA256
    "1.2.840.10045.4.3.3",   // ecdsa-with-SHA384
];

/// A parsed X.509 certificate: its DER plus the facts attesto needs.
#[derive(Clone, PartialEq, Eq)]
pub struct Certificate {
    der: Vec<u8>,
    subject: String,
    issuer: String,
    not_before: i64,
    not_after: i64,
    public_key: PublicKey,
    spki_der: Vec<u8>,
    is_ca: bool,
}

impl std::fmt::Debug for Certificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Certificate")
            .field("subject", &self.subject)
            .field("issuer", &self.issuer)
            .field("not_before", &self.not_before)
            .field("not_after", &self.not_after)
            .field("key", &self.public_key)
            .finish_non_exhaustive()
    }
}

fn parse_x509(der: &[u8], index: usize) -> Result<X509Certificate<'_>, Error> {
    let (rest, cert) = X509Certificate::from_der(der).map_err(|e| Error::CertificateParse {
        index,
        reason: e.to_string(),
    })?;
    if rest.is_empty() {
        Ok(cert)
    } else {
        Err(Error::CertificateParse {
            index,
            reason: format!("{} bytes after the certificate", rest.len()),
        })
    }
}

impl Certificate {
    /// Parses a DER certificate.
    ///
    /// # Errors
    /// [`Error::CertificateParse`] if the bytes are not exactly one certificate,
    /// [`Error::UnsupportedKey`] if its key is not RSA (any size up to 8192 bits; see
    /// [`PublicKey::rsa`]), EC P-256 or EC P-384.
    pub fn from_der(der: &[u8]) -> Result<Self, Error> {
        Self::from_der_at(der, 0)
    }

    fn from_der_at(der: &[u8], index: usize) -> Result<Self, Error> {
        let cert = parse_x509(der, index)?;
        let public_key = PublicKey::from_spki(cert.public_key())?;
        let is_ca = cert
            .basic_constraints()
            .map_err(|e| Error::CertificateParse {
                index,
                reason: e.to_string(),
            })?
            .is_some_and(|bc| bc.value.ca);
        Ok(Self {
            subject: cert.subject().to_string(),
            issuer: cert.issuer().to_string(),
            not_before: cert.validity().not_before.timestamp(),
            not_after: cert.validity().not_after.timestamp(),
            spki_der: cert.public_key().raw.to_vec(),
            public_key,
            is_ca,
            der: der.to_vec(),
        })
    }

    /// The DER encoding, exactly as received.
    #[must_use]
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// Subject DN in RFC 4514 style, e.g. `CN=https://example.attest.azure.net`.
    #[must_use]
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// Issuer DN in RFC 4514 style.
    #[must_use]
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// notBefore, Unix seconds.
    #[must_use]
    pub fn not_before(&self) -> i64 {
        self.not_before
    }

    /// notAfter, Unix seconds.
    #[must_use]
    pub fn not_after(&self) -> i64 {
        self.not_after
    }

    /// The subject public key.
    #[must_use]
    pub fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    /// The DER SubjectPublicKeyInfo.
    #[must_use]
    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// Whether `basicConstraints` says CA=true.
    #[must_use]
    pub fn is_ca(&self) -> bool {
        self.is_ca
    }

    /// Checks that `now` is within notBefore..=notAfter.
    ///
    /// # Errors
    /// [`Error::CertificateNotYetValid`] or [`Error::CertificateExpired`].
    pub fn check_validity(&self, now: UnixTime) -> Result<(), Error> {
        let secs = now.as_secs();
        let now_i = i64::try_from(secs).unwrap_or(i64::MAX);
        if now_i < self.not_before {
            Err(Error::CertificateNotYetValid {
                subject: self.subject.clone(),
                not_before: self.not_before,
                now: secs,
            })
        } else if now_i > self.not_after {
            Err(Error::CertificateExpired {
                subject: self.subject.clone(),
                not_after: self.not_after,
                now: secs,
            })
        } else {
            Ok(())
        }
    }

    /// MAA's certificate thumbprint (`x-ms-certificate-thumbprint`): uppercase hex SHA-1 of
    /// the DER. SHA-1 here is an identifier, not a security check.
    #[must_use]
    pub fn thumbprint(&self) -> String {
        certificate_thumbprint(&self.der)
    }

    /// MAA's key id for a signing certificate: standard base64 of SHA-256 over the public key
    /// written as PEM `PUBLIC KEY` text (64-column lines, LF endings) followed by one NUL byte.
    ///
    /// MAA's own `/certs` keys use exactly this value (for example
    /// `KQFAHrk1xALKHBD4b4u7TCvCJ1Mw0MlYZe+rxdePOtg=`), and the same hash is what an MAA signing
    /// certificate binds into its embedded SGX quote's report data, so attesto can later do the
    /// same without a second derivation.
    #[must_use]
    pub fn maa_key_id(&self) -> String {
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            public_key_pem_hash(&self.spki_der),
        )
    }

    /// Whether `self` issued `child`: name chaining, CA and key usage, and the signature.
    fn check_issued(&self, child: &Self) -> Result<(), TrustFailure> {
        // Both were parsed when the `Certificate`s were built, so these cannot fail in practice.
        let issuer = parse_x509(&self.der, 0).map_err(|_| TrustFailure::SignatureInvalid)?;
        let cert = parse_x509(&child.der, 0).map_err(|_| TrustFailure::SignatureInvalid)?;
        if issuer.subject().as_raw() != cert.issuer().as_raw() {
            return Err(TrustFailure::IssuerNameMismatch);
        }
        if !self.is_ca {
            return Err(TrustFailure::IssuerNotCa);
        }
        match issuer.key_usage() {
            Ok(Some(ku)) if !ku.value.key_cert_sign() => {
                return Err(TrustFailure::IssuerKeyUsage);
            }
            Err(_) => return Err(TrustFailure::IssuerKeyUsage),
            Ok(_) => {}
        }
        let sig_alg = cert.signature_algorithm.algorithm.to_id_string();
        if !CERT_SIGNATURE_OIDS.contains(&sig_alg.as_str()) {
            return Err(TrustFailure::SignatureAlgorithm);
        }
        cert.verify_signature(Some(issuer.public_key()))
            .map_err(|_| TrustFailure::SignatureInvalid)
    }
}

/// SHA-256 over `PEM(SPKI) || NUL`, the MAA key-id and report-data binding.
#[must_use]
pub fn public_key_pem_hash(spki_der: &[u8]) -> [u8; 32] {
    let b64 = base64url::encode_std(spki_der);
    let mut pem = String::with_capacity(b64.len() + b64.len() / 64 + 64);
    pem.push_str("-----BEGIN PUBLIC KEY-----\n");
    let mut rest = b64.as_str();
    while !rest.is_empty() {
        let (line, tail) = rest.split_at(rest.len().min(64));
        pem.push_str(line);
        pem.push('\n');
        rest = tail;
    }
    pem.push_str("-----END PUBLIC KEY-----\n");
    let mut bytes = pem.into_bytes();
    bytes.push(0);
    let hash = digest::digest(&digest::SHA256, &bytes);
    let mut out = [0u8; 32];
    out.copy_from_slice(hash.as_ref());
    out
}

/// Uppercase hex SHA-1 of DER bytes, MAA's `x-ms-certificate-thumbprint`.
#[must_use]
pub fn certificate_thumbprint(der: &[u8]) -> String {
    hex::encode_upper(digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, der))
}

/// Decodes `x5c` entries (standard base64; base64url tolerated).
pub(crate) fn decode_x5c(x5c: &[String]) -> Result<Vec<Vec<u8>>, Error> {
    if x5c.is_empty() || x5c.len() > MAX_CHAIN_LEN {
        return Err(Error::ChainLength {
            count: x5c.len(),
            limit: MAX_CHAIN_LEN,
        });
    }
    x5c.iter()
        .enumerate()
        .map(|(index, text)| {
            base64url::decode(text).map_err(|problem| Error::CertificateBase64 { index, problem })
        })
        .collect()
}

/// A signer certificate with the chain it presented, signer first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignerChain {
    certificates: Vec<Certificate>,
}

/// Why a signer could not be linked to a trusted certificate.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TrustFailure {
    /// The trusted set is empty.
    #[error("no trusted certificates configured")]
    NoTrustedCertificates,
    /// No trusted or presented certificate has the issuer's name.
    #[error("no trusted certificate has the issuer's name")]
    IssuerNameMismatch,
    /// The would-be issuer lacks `basicConstraints` CA=true.
    #[error("the issuer is not a CA (basicConstraints CA=true missing)")]
    IssuerNotCa,
    /// The would-be issuer's `keyUsage` is malformed or does not allow `keyCertSign`.
    #[error("the issuer's keyUsage does not allow keyCertSign")]
    IssuerKeyUsage,
    /// The certificate is signed with an algorithm that is not accepted (SHA-1, unknown).
    #[error("the certificate's signature algorithm is not accepted")]
    SignatureAlgorithm,
    /// The certificate's signature does not verify with the issuer's key.
    #[error("the certificate's signature does not verify with the issuer's key")]
    SignatureInvalid,
}

/// How a signer was found trustworthy.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrustPath {
    /// The certificate at `chain_index` of the presented chain is trusted certificate
    /// `anchor` itself (index 0: the signer is trusted directly).
    Exact {
        /// Index into the trusted certificates.
        anchor: usize,
        /// Index into the presented chain.
        chain_index: usize,
    },
    /// The certificate at `chain_index` was issued by trusted certificate `anchor`.
    IssuedBy {
        /// Index into the trusted certificates.
        anchor: usize,
        /// Index into the presented chain.
        chain_index: usize,
    },
}

impl SignerChain {
    /// Parses an `x5c` array.
    ///
    /// # Errors
    /// [`Error::ChainLength`], [`Error::CertificateBase64`], [`Error::CertificateParse`],
    /// [`Error::UnsupportedKey`].
    pub fn from_x5c(x5c: &[String]) -> Result<Self, Error> {
        let ders = decode_x5c(x5c)?;
        Self::from_ders(&ders)
    }

    /// A chain from DER certificates, signer first.
    ///
    /// # Errors
    /// As [`SignerChain::from_x5c`].
    pub fn from_ders<D: AsRef<[u8]>>(ders: &[D]) -> Result<Self, Error> {
        if ders.is_empty() || ders.len() > MAX_CHAIN_LEN {
            return Err(Error::ChainLength {
                count: ders.len(),
                limit: MAX_CHAIN_LEN,
            });
        }
        let certificates = ders
            .iter()
            .enumerate()
            .map(|(index, der)| Certificate::from_der_at(der.as_ref(), index))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { certificates })
    }

    /// The signer certificate (`x5c[0]`).
    #[must_use]
    pub fn signer(&self) -> &Certificate {
        // `from_ders` refuses empty chains, so index 0 always exists.
        &self.certificates[0]
    }

    /// All certificates, signer first.
    #[must_use]
    pub fn certificates(&self) -> &[Certificate] {
        &self.certificates
    }

    /// Checks the signer against trusted certificates at time `now`; see the module docs for
    /// exactly what is supported.
    ///
    /// # Errors
    /// [`Error::CertificateExpired`] / [`Error::CertificateNotYetValid`] for a used certificate
    /// outside its validity, [`Error::UntrustedSigner`] when no path reaches a trusted
    /// certificate.
    pub fn verify_trust(&self, trusted: &[Certificate], now: UnixTime) -> Result<TrustPath, Error> {
        // The most telling reason seen: anything beats a plain name mismatch, which is the
        // normal "not this anchor" case.
        let mut reason: Option<TrustFailure> = None;
        let mut last_issuer = self.signer().issuer.clone();
        for (chain_index, cert) in self.certificates.iter().enumerate() {
            cert.check_validity(now)?;
            if let Some(anchor) = trusted.iter().position(|t| t.der == cert.der) {
                return Ok(TrustPath::Exact {
                    anchor,
                    chain_index,
                });
            }
            for (anchor, candidate) in trusted.iter().enumerate() {
                match candidate.check_issued(cert) {
                    Ok(()) => {
                        return Ok(TrustPath::IssuedBy {
                            anchor,
                            chain_index,
                        });
                    }
                    Err(TrustFailure::IssuerNameMismatch) => {}
                    Err(other) => reason = Some(other),
                }
            }
            last_issuer = cert.issuer.clone();
            // Climb only if the next presented certificate really issued this one.
            let Some(next) = self.certificates.get(chain_index + 1) else {
                break;
            };
            if let Err(why) = next.check_issued(cert) {
                reason = reason.or(Some(why));
                break;
            }
        }
        let reason = reason.unwrap_or(if trusted.is_empty() {
            TrustFailure::NoTrustedCertificates
        } else {
            TrustFailure::IssuerNameMismatch
        });
        Err(Error::UntrustedSigner {
            subject: self.signer().subject.clone(),
            issuer: last_issuer,
            reason,
        })
    }
}
