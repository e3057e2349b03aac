//! X.509 certificates and CRLs, reduced to what DCAP verification needs. Intel's PKI uses
//! ECDSA P-256 with SHA-256 throughout; anything else is rejected as unsupported.

pub(crate) mod anchors;
mod crl;

use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1, ParsedPublicKey, VerificationAlgorithm};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use x509_parser::prelude::{FromDer, X509Certificate};

pub use anchors::TrustAnchors;
pub(crate) use crl::{Crl, decode_crl};

use crate::error::{Artifact, Error};
use crate::time::{self, Window};

/// `ecdsa-with-SHA256`.
const OID_ECDSA_WITH_SHA256: &str = "1.2.840.10045.4.3.2";

/// Upper bound on certificates read from one PEM chain; Intel's chains have 2 or 3.
const MAX_CHAIN_LEN: usize = 8;

/// An owned, parsed certificate.
#[derive(Clone, Debug)]
pub(crate) struct Cert {
    pub(crate) der: Vec<u8>,
    pub(crate) subject: Vec<u8>,
    pub(crate) issuer: Vec<u8>,
    pub(crate) subject_text: String,
    pub(crate) issuer_text: String,
    /// SEC1 public key point.
    pub(crate) public_key: Vec<u8>,
    pub(crate) window: Window,
    /// Serial number without leading zero bytes.
    pub(crate) serial: Vec<u8>,
    pub(crate) is_ca: bool,
    tbs: Vec<u8>,
    signature: Vec<u8>,
    pub(crate) sgx_extension: Option<Vec<u8>>,
    pub(crate) common_name: Option<String>,
}

/// OID of Intel's SGX extension in PCK certificates.
pub(crate) const OID_SGX_EXTENSION: &str = "1.2.840.113741.1.13.1";

impl Cert {
    pub(crate) fn parse(der: &[u8], artifact: Artifact) -> Result<Self, Error> {
        let (rest, cert) =
            X509Certificate::from_der(der).map_err(|e| Error::cert(artifact, e.to_string()))?;
        if !rest.is_empty() {
            return Err(Error::cert(
                artifact,
                "trailing bytes after the certificate",
            ));
        }
        let sig_alg = cert.signature_algorithm.algorithm.to_id_string();
        if sig_alg != OID_ECDSA_WITH_SHA256 {
            return Err(Error::UnsupportedAlgorithm {
                artifact,
                algorithm: sig_alg,
            });
        }
        let validity = cert.validity();
        let window = Window {
            not_before: time::from_unix(validity.not_before.timestamp())
                .ok_or_else(|| Error::cert(artifact, "notBefore before 1970"))?,
            not_after: time::from_unix(validity.not_after.timestamp())
                .ok_or_else(|| Error::cert(artifact, "notAfter before 1970"))?,
        };
        let sgx_extension = cert
            .extensions()
            .iter()
            .find(|ext| ext.oid.to_id_string() == OID_SGX_EXTENSION)
            .map(|ext| ext.value.to_vec());
        let basic_constraints = cert
            .basic_constraints()
            .map_err(|e| Error::cert(artifact, format!("basicConstraints: {e}")))?;
        Ok(Self {
            der: der.to_vec(),
            subject: cert.subject().as_raw().to_vec(),
            issuer: cert.issuer().as_raw().to_vec(),
            subject_text: cert.subject().to_string(),
            issuer_text: cert.issuer().to_string(),
            public_key: cert.public_key().subject_public_key.data.to_vec(),
            window,
            serial: normalize_serial(cert.raw_serial()),
            is_ca: basic_constraints.is_some_and(|bc| bc.value.ca),
            tbs: cert.tbs_certificate.as_ref().to_vec(),
            signature: cert.signature_value.data.to_vec(),
            sgx_extension,
            common_name: cert
                .subject()
                .iter_common_name()
                .next()
                .and_then(|cn| cn.as_str().ok())
                .map(str::to_owned),
        })
    }

    /// The public key, parsed for checking the signatures this certificate's owner makes.
    pub(crate) fn key(
        &self,
        algorithm: &'static dyn VerificationAlgorithm,
        artifact: Artifact,
    ) -> Result<ParsedPublicKey, Error> {
        ParsedPublicKey::new(algorithm, &self.public_key).map_err(|_| Error::UnsupportedAlgorithm {
            artifact,
            algorithm: "public key is not an ECDSA P-256 point".to_owned(),
        })
    }

    /// The key for checking certificates and CRLs this certificate issued.
    pub(crate) fn issuer_key(&self, artifact: Artifact) -> Result<ParsedPublicKey, Error> {
        self.key(&ECDSA_P256_SHA256_ASN1, artifact)
    }

    pub(crate) fn verify_signed_by(
        &self,
        issuer_key: &ParsedPublicKey,
        artifact: Artifact,
    ) -> Result<(), Error> {
        issuer_key
            .verify_sig(&self.tbs, &self.signature)
            .map_err(|_| Error::InvalidSignature { artifact })
    }
}

/// Strips DER integer sign padding so CRL entries and certificate serials compare equal.
pub(crate) fn normalize_serial(raw: &[u8]) -> Vec<u8> {
    let first = raw.iter().position(|&b| b != 0).unwrap_or(raw.len());
    raw.get(first..).unwrap_or_default().to_vec()
}

/// The DER certificates of a PEM chain (leaf first). NUL terminators are ignored.
pub(crate) fn pem_chain(pem: &[u8], artifact: Artifact) -> Result<Vec<Vec<u8>>, Error> {
    let end = pem
        .iter()
        .rposition(|&b| b != 0)
        .map_or(0, |i| i.saturating_add(1));
    let text = pem.get(..end).unwrap_or_default();
    let mut certs = Vec::new();
    for item in CertificateDer::pem_slice_iter(text) {
        let cert = item.map_err(|e| Error::cert(artifact, format!("PEM: {e}")))?;
        if certs.len() >= MAX_CHAIN_LEN {
            return Err(Error::ChainLength {
                artifact,
                found: certs.len().saturating_add(1),
            });
        }
        certs.push(cert.as_ref().to_vec());
    }
    if certs.is_empty() {
        return Err(Error::cert(artifact, "no PEM certificate found"));
    }
    Ok(certs)
}

/// Checks `time` against a validity window.
pub(crate) fn check_window(
    window: Window,
    artifact: Artifact,
    now: rustls_pki_types::UnixTime,
) -> Result<(), Error> {
    if time::secs(now) < time::secs(window.not_before) {
        return Err(Error::NotYetValid {
            artifact,
            not_before: window.not_before,
            time: now,
        });
    }
    if time::secs(now) > time::secs(window.not_after) {
        return Err(Error::Expired {
            artifact,
            not_after: window.not_after,
            time: now,
        });
    }
    Ok(())
}
