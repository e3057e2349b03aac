//! Collateral after every time-independent check: chains to a trust anchor, CRL and document
//! signatures, parsing. Time windows and CRL membership are checked per verification.

use aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED;
use rustls_pki_types::UnixTime;

use super::{Collateral, QeIdentity, TcbInfo, sha256_hex};
use crate::error::{Artifact, Error};
use crate::time::Window;
use crate::x509::{Cert, Crl, TrustAnchors, check_window, pem_chain};

/// Parsed, signature-checked collateral. Build it once with [`VerifiedCollateral::new`] and reuse
/// it for many quotes; [`crate::Verifier`] does so automatically.
///
/// What is NOT checked here, because it depends on the verification time or the quote: every
/// validity window, and whether the quote's PCK certificate or CA is revoked.
#[derive(Debug)]
pub struct VerifiedCollateral {
    /// Index of the trust anchor every chain of this collateral ends at.
    pub(crate) anchor: usize,
    anchors_id: [u8; 32],
    pub(crate) root_crl: Crl,
    pub(crate) pck_crl: Crl,
    /// The CA that signed the PCK CRL.
    pub(crate) pck_crl_issuer: Cert,
    tcb_info_signer: Cert,
    qe_identity_signer: Cert,
    pub(crate) tcb_info: TcbInfo,
    pub(crate) qe_identity: QeIdentity,
    pub(crate) hashes: DocumentHashes,
}

/// Hashes of collateral as received (MAA's `x-ms-sgx-collateral` claim, without the quote).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DocumentHashes {
    pub(crate) tcbinfohash: String,
    pub(crate) tcbinfocertshash: String,
    pub(crate) tcbinfocrlhash: String,
    pub(crate) qeidhash: String,
    pub(crate) qeidcertshash: String,
    pub(crate) qeidcrlhash: String,
}

impl VerifiedCollateral {
    /// Checks everything about the collateral that does not depend on time or on the quote.
    ///
    /// # Errors
    /// The first failing check: malformed input, a chain not ending at one of `anchors`, a bad
    /// signature, a revoked signer.
    pub fn new(collateral: &Collateral, anchors: &TrustAnchors) -> Result<Self, Error> {
        let root_crl = Crl::parse(&collateral.root_ca_crl, Artifact::RootCaCrl)?;
        let anchor = anchors
            .find_issuer(&root_crl.issuer, |key| {
                root_crl.verify_signed_by(key, Artifact::RootCaCrl).is_ok()
            })
            .ok_or_else(|| Error::UntrustedIssuer {
                artifact: Artifact::RootCaCrl,
                issuer: root_crl.issuer_text.clone(),
            })?;

        let tcb_info_signer = signer_of(
            &collateral.tcb_info_issuer_chain,
            anchors,
            anchor,
            &root_crl,
            Artifact::TcbInfoSigningCertificate,
        )?;
        verify_document(
            &tcb_info_signer,
            collateral.tcb_info.as_bytes(),
            &collateral.tcb_info_signature,
            Artifact::TcbInfo,
        )?;
        let tcb_info = TcbInfo::parse(&collateral.tcb_info)?;

        // PCS signs both documents with the same certificate: verify the chain once.
        let qe_identity_signer =
            if collateral.qe_identity_issuer_chain == collateral.tcb_info_issuer_chain {
                tcb_info_signer.clone()
            } else {
                signer_of(
                    &collateral.qe_identity_issuer_chain,
                    anchors,
                    anchor,
                    &root_crl,
                    Artifact::QeIdentitySigningCertificate,
                )?
            };
        verify_document(
            &qe_identity_signer,
            collateral.qe_identity.as_bytes(),
            &collateral.qe_identity_signature,
            Artifact::QeIdentity,
        )?;
        let qe_identity = QeIdentity::parse(&collateral.qe_identity)?;

        let pck_crl = Crl::parse(&collateral.pck_crl, Artifact::PckCrl)?;
        let pck_crl_issuer = pck_crl_issuer(collateral, anchors, anchor, &root_crl, &pck_crl)?;

        let root_crl_hash = sha256_hex(&collateral.root_ca_crl);
        let hashes = DocumentHashes {
            tcbinfohash: sha256_hex(collateral.tcb_info.as_bytes()),
            tcbinfocertshash: sha256_hex(collateral.tcb_info_issuer_chain.as_bytes()),
            tcbinfocrlhash: root_crl_hash.clone(),
            qeidhash: sha256_hex(collateral.qe_identity.as_bytes()),
            qeidcertshash: sha256_hex(collateral.qe_identity_issuer_chain.as_bytes()),
            qeidcrlhash: root_crl_hash,
        };
        Ok(Self {
            anchor,
            anchors_id: *anchors.id(),
            root_crl,
            pck_crl,
            pck_crl_issuer,
            tcb_info_signer,
            qe_identity_signer,
            tcb_info,
            qe_identity,
            hashes,
        })
    }

    /// The PCK CRL issuer, already verified against anchor `.1`, for reuse when the quote carries
    /// the same CA certificate. Only offered to the same trust anchors it was verified with.
    pub(crate) fn known_pck_ca(&self, anchors: &TrustAnchors) -> Option<(&Cert, usize)> {
        (anchors.id() == &self.anchors_id).then_some((&self.pck_crl_issuer, self.anchor))
    }

    /// Checks every validity window at `now`, in pipeline order, and returns the earliest end.
    pub(crate) fn check_time(
        &self,
        anchors: &TrustAnchors,
        now: UnixTime,
    ) -> Result<UnixTime, Error> {
        if anchors.id() != &self.anchors_id {
            return Err(Error::AnchorMismatch {
                artifact: Artifact::RootCaCrl,
            });
        }
        let anchor = anchors.get(self.anchor).ok_or(Error::AnchorMismatch {
            artifact: Artifact::RootCaCrl,
        })?;
        let windows: [(Window, Artifact); 8] = [
            (anchor.cert.window, Artifact::RootCaCertificate),
            (self.root_crl.window, Artifact::RootCaCrl),
            (
                self.tcb_info_signer.window,
                Artifact::TcbInfoSigningCertificate,
            ),
            (
                Window {
                    not_before: self.tcb_info.issue_date,
                    not_after: self.tcb_info.next_update,
                },
                Artifact::TcbInfo,
            ),
            (
                self.qe_identity_signer.window,
                Artifact::QeIdentitySigningCertificate,
            ),
            (
                Window {
                    not_before: self.qe_identity.issue_date,
                    not_after: self.qe_identity.next_update,
                },
                Artifact::QeIdentity,
            ),
            (
                self.pck_crl_issuer.window,
                Artifact::PckCrlIssuerCertificate,
            ),
            (self.pck_crl.window, Artifact::PckCrl),
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

/// The first certificate of an issuer chain, checked to be issued by anchor `anchor` and not
/// revoked. Other certificates in the chain must be copies of that anchor.
fn signer_of(
    chain_pem: &str,
    anchors: &TrustAnchors,
    anchor: usize,
    root_crl: &Crl,
    artifact: Artifact,
) -> Result<Cert, Error> {
    let ders = pem_chain(chain_pem.as_bytes(), artifact)?;
    let mut certs = ders.iter();
    let first = certs
        .next()
        .ok_or(Error::ChainLength { artifact, found: 0 })?;
    let signer = Cert::parse(first, artifact)?;
    check_issued_by_anchor(&signer, anchors, anchor, artifact)?;
    check_rest_are_anchor_copies(certs, anchors, anchor, artifact)?;
    check_not_revoked(&signer, root_crl, artifact)?;
    Ok(signer)
}

/// Finds the PCK CRL's issuer in its chain and checks it, then the CRL signature.
fn pck_crl_issuer(
    collateral: &Collateral,
    anchors: &TrustAnchors,
    anchor: usize,
    root_crl: &Crl,
    pck_crl: &Crl,
) -> Result<Cert, Error> {
    let artifact = Artifact::PckCrlIssuerCertificate;
    let ders = pem_chain(collateral.pck_crl_issuer_chain.as_bytes(), artifact)?;
    let mut issuer = None;
    let mut others = Vec::new();
    for der in &ders {
        if anchors.is_exact_copy(anchor, der) {
            continue;
        }
        let cert = Cert::parse(der, artifact)?;
        if issuer.is_none() && cert.subject == pck_crl.issuer {
            issuer = Some(cert);
        } else {
            others.push(cert);
        }
    }
    let issuer = issuer.ok_or_else(|| Error::UntrustedIssuer {
        artifact: Artifact::PckCrl,
        issuer: pck_crl.issuer_text.clone(),
    })?;
    if !issuer.is_ca {
        return Err(Error::NotACa { artifact });
    }
    check_issued_by_anchor(&issuer, anchors, anchor, artifact)?;
    for other in &others {
        if !anchors.is_copy_of(anchor, &other.subject, &other.public_key) {
            return Err(Error::UntrustedIssuer {
                artifact,
                issuer: other.subject_text.clone(),
            });
        }
    }
    check_not_revoked(&issuer, root_crl, artifact)?;
    pck_crl.verify_signed_by(&issuer.issuer_key(artifact)?, Artifact::PckCrl)?;
    Ok(issuer)
}

fn verify_document(
    signer: &Cert,
    document: &[u8],
    signature: &[u8],
    artifact: Artifact,
) -> Result<(), Error> {
    if signature.len() != 64 {
        return Err(Error::InvalidSignature { artifact });
    }
    signer
        .key(&ECDSA_P256_SHA256_FIXED, artifact)?
        .verify_sig(document, signature)
        .map_err(|_| Error::InvalidSignature { artifact })
}

/// `cert` must be signed by anchor `anchor` (the root of the whole collateral).
pub(crate) fn check_issued_by_anchor(
    cert: &Cert,
    anchors: &TrustAnchors,
    anchor: usize,
    artifact: Artifact,
) -> Result<(), Error> {
    let expected = anchors
        .get(anchor)
        .ok_or(Error::AnchorMismatch { artifact })?;
    let name_matches = expected.cert.subject == cert.issuer;
    if name_matches && cert.verify_signed_by(&expected.key, artifact).is_ok() {
        return Ok(());
    }
    if anchors
        .find_issuer(&cert.issuer, |key| {
            cert.verify_signed_by(key, artifact).is_ok()
        })
        .is_some()
    {
        return Err(Error::AnchorMismatch { artifact });
    }
    if name_matches {
        return Err(Error::InvalidSignature { artifact });
    }
    Err(Error::UntrustedIssuer {
        artifact,
        issuer: cert.issuer_text.clone(),
    })
}

/// Root copies at the end of a chain are accepted only if they are the anchor itself (same
/// subject and key); anything else would be an untrusted root.
pub(crate) fn check_rest_are_anchor_copies<'a>(
    rest: impl Iterator<Item = &'a Vec<u8>>,
    anchors: &TrustAnchors,
    anchor: usize,
    artifact: Artifact,
) -> Result<(), Error> {
    for der in rest {
        if anchors.is_exact_copy(anchor, der) {
            continue;
        }
        let cert = Cert::parse(der, Artifact::RootCaCertificate)?;
        if !anchors.is_copy_of(anchor, &cert.subject, &cert.public_key) {
            return Err(Error::UntrustedIssuer {
                artifact,
                issuer: cert.subject_text,
            });
        }
    }
    Ok(())
}

pub(crate) fn check_not_revoked(cert: &Cert, crl: &Crl, artifact: Artifact) -> Result<(), Error> {
    if crl.revokes(&cert.serial) {
        return Err(Error::Revoked {
            artifact,
            serial: hex::encode(&cert.serial),
        });
    }
    Ok(())
}
