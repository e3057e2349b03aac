//! Certificate revocation lists (root CA CRL, PCK CRL), in DER, PEM or hex.

use std::collections::HashSet;

use aws_lc_rs::signature::ParsedPublicKey;
use rustls_pki_types::CertificateRevocationListDer;
use rustls_pki_types::pem::PemObject;
use x509_parser::prelude::FromDer;
use x509_parser::revocation_list::CertificateRevocationList;

use super::{OID_ECDSA_WITH_SHA256, normalize_serial};
use crate::error::{Artifact, Error};
use crate::time::{self, Window};

/// An owned, parsed CRL.
#[derive(Clone, Debug)]
pub(crate) struct Crl {
    pub(crate) issuer: Vec<u8>,
    pub(crate) issuer_text: String,
    pub(crate) window: Window,
    revoked: HashSet<Vec<u8>>,
    tbs: Vec<u8>,
    signature: Vec<u8>,
}

impl Crl {
    pub(crate) fn parse(der: &[u8], artifact: Artifact) -> Result<Self, Error> {
        let (rest, crl) = CertificateRevocationList::from_der(der)
            .map_err(|e| Error::cert(artifact, e.to_string()))?;
        if !rest.is_empty() {
            return Err(Error::cert(artifact, "trailing bytes after the CRL"));
        }
        let sig_alg = crl.signature_algorithm.algorithm.to_id_string();
        if sig_alg != OID_ECDSA_WITH_SHA256 {
            return Err(Error::UnsupportedAlgorithm {
                artifact,
                algorithm: sig_alg,
            });
        }
        let this_update = time::from_unix(crl.last_update().timestamp())
            .ok_or_else(|| Error::cert(artifact, "thisUpdate before 1970"))?;
        // A CRL without nextUpdate could be replayed forever; Intel's always carry one.
        let next_update = crl
            .next_update()
            .and_then(|t| time::from_unix(t.timestamp()))
            .ok_or_else(|| Error::cert(artifact, "missing nextUpdate"))?;
        let revoked = crl
            .iter_revoked_certificates()
            .map(|entry| normalize_serial(entry.raw_serial()))
            .collect();
        Ok(Self {
            issuer: crl.issuer().as_raw().to_vec(),
            issuer_text: crl.issuer().to_string(),
            window: Window {
                not_before: this_update,
                not_after: next_update,
            },
            revoked,
            tbs: crl.tbs_cert_list.as_ref().to_vec(),
            signature: crl.signature_value.data.to_vec(),
        })
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

    /// Whether a (normalized) serial number is listed.
    pub(crate) fn revokes(&self, serial: &[u8]) -> bool {
        self.revoked.contains(serial)
    }
}

/// Decodes a CRL given as DER, PEM (`X509 CRL`) or hex text of the DER.
pub(crate) fn decode_crl(bytes: &[u8], field: &'static str) -> Result<Vec<u8>, Error> {
    // A DER CRL starts with a SEQUENCE tag; text forms never do.
    if bytes.first() == Some(&0x30) {
        return Ok(bytes.to_vec());
    }
    let text = core::str::from_utf8(bytes)
        .map_err(|_| Error::collateral(field, "neither DER, PEM nor hex"))?
        .trim();
    if text.contains("-----BEGIN") {
        return CertificateRevocationListDer::from_pem_slice(text.as_bytes())
            .map(|der| der.as_ref().to_vec())
            .map_err(|e| Error::collateral(field, format!("PEM: {e}")));
    }
    hex::decode(text).map_err(|e| Error::collateral(field, format!("hex: {e}")))
}
