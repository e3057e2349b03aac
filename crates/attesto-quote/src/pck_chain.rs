//! The PCK certificate chain carried in the quote: leaf -> PCK Processor/Platform CA -> root.

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, ParsedPublicKey};
use rustls_pki_types::UnixTime;

use crate::collateral::verified::check_rest_are_anchor_copies;
use crate::error::{Artifact, Error};
use crate::pck::{PckCaKind, PckFacts, parse_sgx_extension};
use crate::x509::{Cert, TrustAnchors, check_window, pem_chain};

/// A PCK chain whose signatures, CA constraints and SGX extension have been checked.
/// Time windows and revocation are checked per verification.
#[derive(Debug)]
pub(crate) struct VerifiedPckChain {
    pub(crate) anchor: usize,
    pub(crate) leaf: Cert,
    pub(crate) ca: Cert,
    pub(crate) facts: PckFacts,
    /// The PCK public key, parsed once: it checks the QE report signature on every quote.
    pub(crate) leaf_key: ParsedPublicKey,
}

impl VerifiedPckChain {
    /// Verifies the chain. `known_ca` is a CA certificate already verified against anchor
    /// `.1` (the PCK CRL issuer of the collateral): when the quote carries the same certificate,
    /// its signature is not checked twice.
    pub(crate) fn new(
        pem: &[u8],
        anchors: &TrustAnchors,
        known_ca: Option<(&Cert, usize)>,
    ) -> Result<Self, Error> {
        let ders = pem_chain(pem, Artifact::PckCertificate)?;
        let mut iter = ders.iter();
        let (Some(leaf_der), Some(ca_der)) = (iter.next(), iter.next()) else {
            return Err(Error::ChainLength {
                artifact: Artifact::PckCertificate,
                found: ders.len(),
            });
        };
        let leaf = Cert::parse(leaf_der, Artifact::PckCertificate)?;
        let ca = Cert::parse(ca_der, Artifact::PckCaCertificate)?;
        if leaf.issuer != ca.subject {
            return Err(Error::IssuerMismatch {
                artifact: Artifact::PckCertificate,
                issuer: leaf.issuer_text.clone(),
                next: ca.subject_text.clone(),
            });
        }
        if !ca.is_ca {
            return Err(Error::NotACa {
                artifact: Artifact::PckCaCertificate,
            });
        }
        let ca_kind = ca
            .common_name
            .as_deref()
            .and_then(PckCaKind::from_common_name)
            .ok_or_else(|| Error::UnknownPckCa {
                subject: ca.subject_text.clone(),
            })?;
        leaf.verify_signed_by(
            &ca.issuer_key(Artifact::PckCaCertificate)?,
            Artifact::PckCertificate,
        )?;
        let known = known_ca.filter(|(known, _)| known.der == ca.der);
        let anchor = match known {
            Some((_, anchor)) => anchor,
            None => anchors
                .find_issuer(&ca.issuer, |key| {
                    ca.verify_signed_by(key, Artifact::PckCaCertificate).is_ok()
                })
                .ok_or_else(|| Error::UntrustedIssuer {
                    artifact: Artifact::PckCaCertificate,
                    issuer: ca.issuer_text.clone(),
                })?,
        };
        check_rest_are_anchor_copies(iter, anchors, anchor, Artifact::PckCaCertificate)?;
        let extension = leaf
            .sgx_extension
            .as_deref()
            .ok_or(Error::PckExtensionMalformed {
                field: "extension",
                reason: "missing",
            })?;
        let facts = parse_sgx_extension(extension, ca_kind)?;
        let leaf_key = leaf.key(&ECDSA_P256_SHA256_FIXED, Artifact::PckCertificate)?;
        Ok(Self {
            anchor,
            leaf,
            ca,
            facts,
            leaf_key,
        })
    }

    /// Checks the root, CA and leaf windows at `now`; returns the earliest end.
    pub(crate) fn check_time(
        &self,
        anchors: &TrustAnchors,
        now: UnixTime,
    ) -> Result<UnixTime, Error> {
        let anchor = anchors.get(self.anchor).ok_or(Error::AnchorMismatch {
            artifact: Artifact::PckCaCertificate,
        })?;
        let windows = [
            (anchor.cert.window, Artifact::RootCaCertificate),
            (self.ca.window, Artifact::PckCaCertificate),
            (self.leaf.window, Artifact::PckCertificate),
        ];
        let mut earliest = anchor.cert.window.not_after;
        for (window, artifact) in windows {
            check_window(window, artifact, now)?;
            if window.not_after.as_secs() < earliest.as_secs() {
                earliest = window.not_after;
            }
        }
        Ok(earliest)
    }
}
