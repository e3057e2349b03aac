//! The verification pipeline (Intel QVL order; the first failure stops it).
//!
//! ```text
//! parse quote ─► collateral: TEE kind, time windows ─► PCK chain: anchor, windows,
//! CRL issuer, revocation ─► FMSPC / PCE-ID ─► QE report signature ─► QE report data binding
//! ─► QE identity ─► quote signature ─► TCB appraisal and convergence
//! ```

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};
use rustls_pki_types::UnixTime;

use crate::appraise::{appraise, check_qe_identity};
use crate::collateral::verified::check_not_revoked;
use crate::collateral::{Collateral, QeIdentityId, TcbInfoId, VerifiedCollateral};
use crate::error::{Artifact, Error};
use crate::outcome::{CollateralHashes, QeFacts, SignedQuote, VerifiedQuote};
use crate::pck_chain::VerifiedPckChain;
use crate::quote::{Quote, TeeType};
use crate::x509::TrustAnchors;

/// Verifies a quote completely against collateral at `time`, trusting only the Intel SGX Root
/// CA. Nothing is cached; use [`crate::Verifier`] to verify many quotes.
///
/// # Errors
/// The first failing check, as a specific [`Error`] variant.
pub fn verify(
    quote: &[u8],
    collateral: &Collateral,
    time: UnixTime,
) -> Result<VerifiedQuote, Error> {
    verify_with_anchors(quote, collateral, &TrustAnchors::intel(), time)
}

/// As [`verify`], with the given trust anchors (e.g. a test root).
///
/// # Errors
/// The first failing check, as a specific [`Error`] variant.
pub fn verify_with_anchors(
    quote: &[u8],
    collateral: &Collateral,
    anchors: &TrustAnchors,
    time: UnixTime,
) -> Result<VerifiedQuote, Error> {
    let parsed = Quote::parse(quote)?;
    let collateral = VerifiedCollateral::new(collateral, anchors)?;
    let chain = VerifiedPckChain::new(
        parsed.pck_chain_pem,
        anchors,
        collateral.known_pck_ca(anchors),
    )?;
    verify_parsed(&parsed, &collateral, &chain, anchors, time)
}

/// Checks only the quote's own evidence, without collateral: the PCK chain to a trust anchor and
/// its validity at `time`, the QE report signature, the QE report data binding, and the quote
/// signature. No CRLs, no TCB status, no QE identity. This is what can be checked for a quote
/// embedded in a signing certificate, or when no collateral is at hand.
///
/// # Errors
/// The first failing check.
pub fn verify_signatures_and_chain(
    quote: &[u8],
    anchors: &TrustAnchors,
    time: UnixTime,
) -> Result<SignedQuote, Error> {
    let parsed = Quote::parse(quote)?;
    let chain = VerifiedPckChain::new(parsed.pck_chain_pem, anchors, None)?;
    signatures_and_chain(&parsed, &chain, anchors, time)
}

pub(crate) fn signatures_and_chain(
    quote: &Quote<'_>,
    chain: &VerifiedPckChain,
    anchors: &TrustAnchors,
    time: UnixTime,
) -> Result<SignedQuote, Error> {
    let earliest_expiry = chain.check_time(anchors, time)?;
    check_qe_report(quote, chain)?;
    check_quote_signature(quote)?;
    Ok(SignedQuote {
        tee: quote.tee(),
        quote_version: quote.header.version,
        body_type: quote.body_type,
        header: quote.header.clone(),
        report: quote.body.clone(),
        pck: chain.facts.clone(),
        qe: QeFacts::from(&quote.qe_report),
        earliest_expiry,
    })
}

/// The QE report is signed by the PCK and binds the attestation key.
fn check_qe_report(quote: &Quote<'_>, chain: &VerifiedPckChain) -> Result<(), Error> {
    chain
        .leaf_key
        .verify_sig(&quote.qe_report_raw, &quote.qe_report_signature)
        .map_err(|_| Error::InvalidSignature {
            artifact: Artifact::QeReport,
        })?;
    let mut ctx = aws_lc_rs::digest::Context::new(&SHA256);
    ctx.update(&quote.attestation_key);
    ctx.update(quote.qe_auth_data);
    let expected = ctx.finish();
    let (hash, zeros) = quote.qe_report.report_data.split_at(32);
    if hash != expected.as_ref() || zeros.iter().any(|&b| b != 0) {
        return Err(Error::QeReportDataMismatch);
    }
    Ok(())
}

/// Header || body is signed by the attestation key.
fn check_quote_signature(quote: &Quote<'_>) -> Result<(), Error> {
    let mut point = [0x04u8; 65];
    if let Some(xy) = point.get_mut(1..) {
        xy.copy_from_slice(&quote.attestation_key);
    }
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &point)
        .verify(quote.signed_region, &quote.signature)
        .map_err(|_| Error::InvalidSignature {
            artifact: Artifact::Quote,
        })
}

/// Everything after parsing, given verified collateral and a verified PCK chain.
pub(crate) fn verify_parsed(
    quote: &Quote<'_>,
    collateral: &VerifiedCollateral,
    chain: &VerifiedPckChain,
    anchors: &TrustAnchors,
    time: UnixTime,
) -> Result<VerifiedQuote, Error> {
    let tee = quote.tee();
    // The collateral must describe this kind of TEE.
    let (want_tcb, want_qe) = match tee {
        TeeType::Sgx => (TcbInfoId::Sgx, QeIdentityId::Qe),
        TeeType::Tdx => (TcbInfoId::Tdx, QeIdentityId::TdQe),
    };
    if collateral.tcb_info.id != want_tcb {
        return Err(Error::CollateralMismatch {
            field: "tcbInfo.id",
            expected: want_tcb.as_str().to_owned(),
            found: collateral.tcb_info.id.as_str().to_owned(),
        });
    }
    if collateral.qe_identity.id != want_qe {
        return Err(Error::CollateralMismatch {
            field: "enclaveIdentity.id",
            expected: want_qe.as_str().to_owned(),
            found: collateral.qe_identity.id.as_str().to_owned(),
        });
    }
    let collateral_expiry = collateral.check_time(anchors, time)?;

    // PCK chain: same root as the collateral, in its windows, not revoked.
    if chain.anchor != collateral.anchor {
        return Err(Error::AnchorMismatch {
            artifact: Artifact::PckCaCertificate,
        });
    }
    let issuer = &collateral.pck_crl_issuer;
    if issuer.subject != chain.ca.subject || issuer.public_key != chain.ca.public_key {
        return Err(Error::PckCrlIssuerMismatch {
            pck_ca: chain.ca.subject_text.clone(),
            crl_issuer: issuer.subject_text.clone(),
        });
    }
    check_not_revoked(&chain.ca, &collateral.root_crl, Artifact::PckCaCertificate)?;
    check_not_revoked(&chain.leaf, &collateral.pck_crl, Artifact::PckCertificate)?;

    // The TCB info must be the one for this platform.
    let pck = &chain.facts;
    if collateral.tcb_info.fmspc != pck.fmspc {
        return Err(Error::CollateralMismatch {
            field: "tcbInfo.fmspc",
            expected: hex::encode(pck.fmspc),
            found: hex::encode(collateral.tcb_info.fmspc),
        });
    }
    if collateral.tcb_info.pce_id != pck.pce_id {
        return Err(Error::CollateralMismatch {
            field: "tcbInfo.pceId",
            expected: hex::encode(pck.pce_id),
            found: hex::encode(collateral.tcb_info.pce_id),
        });
    }

    let signed = signatures_and_chain_after_crl(quote, chain, anchors, time, collateral)?;
    let appraisal = appraise(&collateral.tcb_info, pck, &quote.body, signed.qe_level)?;

    let hashes = &collateral.hashes;
    Ok(VerifiedQuote {
        tee,
        quote_version: quote.header.version,
        body_type: quote.body_type,
        header: quote.header.clone(),
        report: quote.body.clone(),
        pck: pck.clone(),
        qe: QeFacts::from(&quote.qe_report),
        status: appraisal.status,
        platform_status: appraisal.platform_status,
        qe_status: appraisal.qe_status,
        tdx_module: appraisal.tdx_module,
        td_current_status: appraisal.td_current_status,
        advisory_ids: appraisal.advisory_ids,
        tcb_date: appraisal.tcb_date,
        tcb_evaluation_data_number: collateral
            .tcb_info
            .tcb_evaluation_data_number
            .min(collateral.qe_identity.tcb_evaluation_data_number),
        earliest_expiry: if signed.chain_expiry.as_secs() < collateral_expiry.as_secs() {
            signed.chain_expiry
        } else {
            collateral_expiry
        },
        collateral_hashes: CollateralHashes {
            quotehash: hex::encode(digest(&SHA256, quote.raw)),
            tcbinfohash: hashes.tcbinfohash.clone(),
            tcbinfocertshash: hashes.tcbinfocertshash.clone(),
            tcbinfocrlhash: hashes.tcbinfocrlhash.clone(),
            qeidhash: hashes.qeidhash.clone(),
            qeidcertshash: hashes.qeidcertshash.clone(),
            qeidcrlhash: hashes.qeidcrlhash.clone(),
        },
    })
}

struct SignatureChecks<'a> {
    chain_expiry: UnixTime,
    qe_level: &'a crate::collateral::IsvLevel,
}

/// Chain windows, QE report signature and binding, QE identity, quote signature.
fn signatures_and_chain_after_crl<'c>(
    quote: &Quote<'_>,
    chain: &VerifiedPckChain,
    anchors: &TrustAnchors,
    time: UnixTime,
    collateral: &'c VerifiedCollateral,
) -> Result<SignatureChecks<'c>, Error> {
    let chain_expiry = chain.check_time(anchors, time)?;
    check_qe_report(quote, chain)?;
    let qe_level = check_qe_identity(&collateral.qe_identity, &quote.qe_report)?;
    check_quote_signature(quote)?;
    Ok(SignatureChecks {
        chain_expiry,
        qe_level,
    })
}
