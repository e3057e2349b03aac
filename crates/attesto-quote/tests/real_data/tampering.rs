//! One-byte changes to real quotes and collateral, each caught by the specific check.

use anyhow::{Result, bail, ensure};
use attesto_quote::{
    Artifact, Collateral, Error, Quote, TrustAnchors, verify, verify_signatures_and_chain,
};

use crate::support::{at, read, read_text};

const TIME: u64 = 1_751_328_000;

fn sgx() -> Result<(Vec<u8>, Collateral)> {
    Ok((
        read("dcap/phala-dcap-qvl/sgx_quote")?,
        Collateral::from_json(&read_text("dcap/phala-dcap-qvl/sgx_quote_collateral.json")?)?,
    ))
}

fn tdx() -> Result<(Vec<u8>, Collateral)> {
    Ok((
        read("dcap/phala-dcap-qvl/tdx_quote")?,
        Collateral::from_json(&read_text("dcap/phala-dcap-qvl/tdx_quote_collateral.json")?)?,
    ))
}

fn flipped(quote: &[u8], offset: usize) -> Vec<u8> {
    let mut copy = quote.to_vec();
    if let Some(b) = copy.get_mut(offset) {
        *b ^= 0x01;
    }
    copy
}

/// Offsets inside the signature data of a v3 quote: `signed_len + 4` is the quote signature.
struct Layout {
    signature: usize,
    attestation_key: usize,
    qe_report: usize,
    qe_report_signature: usize,
}

fn layout(quote: &[u8]) -> Result<Layout> {
    let parsed = Quote::parse(quote)?;
    let signature = parsed.signed_region.len() + 4;
    let qe_report = if parsed.header.version == 3 {
        signature + 128
    } else {
        signature + 128 + 6
    };
    Ok(Layout {
        signature,
        attestation_key: signature + 64,
        qe_report,
        qe_report_signature: qe_report + 384,
    })
}

fn expect(
    result: Result<attesto_quote::VerifiedQuote, Error>,
    check: impl Fn(&Error) -> bool,
) -> Result<()> {
    match result {
        Ok(v) => bail!("tampered input verified with status {}", v.status),
        Err(e) if check(&e) => Ok(()),
        Err(e) => bail!("unexpected error {e:?}"),
    }
}

#[test]
fn flipped_bytes_in_quotes_fail_the_specific_check() -> Result<()> {
    for (quote, collateral) in [sgx()?, tdx()?] {
        let l = layout(&quote)?;
        let t = at(TIME);
        // The untouched quote verifies.
        verify(&quote, &collateral, t)?;
        expect(verify(&flipped(&quote, l.signature), &collateral, t), |e| {
            matches!(
                e,
                Error::InvalidSignature {
                    artifact: Artifact::Quote
                }
            )
        })?;
        // A body byte (report data) is covered by the quote signature.
        expect(
            verify(&flipped(&quote, l.signature - 8), &collateral, t),
            |e| {
                matches!(
                    e,
                    Error::InvalidSignature {
                        artifact: Artifact::Quote
                    }
                )
            },
        )?;
        // The attestation key is bound by the QE report data.
        expect(
            verify(&flipped(&quote, l.attestation_key), &collateral, t),
            |e| matches!(e, Error::QeReportDataMismatch),
        )?;
        // QE report MRENCLAVE byte, and the QE report signature.
        expect(
            verify(&flipped(&quote, l.qe_report + 64), &collateral, t),
            |e| {
                matches!(
                    e,
                    Error::InvalidSignature {
                        artifact: Artifact::QeReport
                    }
                )
            },
        )?;
        expect(
            verify(&flipped(&quote, l.qe_report_signature), &collateral, t),
            |e| {
                matches!(
                    e,
                    Error::InvalidSignature {
                        artifact: Artifact::QeReport
                    }
                )
            },
        )?;
        // The signature-only entry point catches the same.
        let err =
            verify_signatures_and_chain(&flipped(&quote, l.signature), &TrustAnchors::intel(), t);
        ensure!(matches!(
            err,
            Err(Error::InvalidSignature {
                artifact: Artifact::Quote
            })
        ));
    }
    Ok(())
}

#[test]
fn header_changes_are_unsupported_errors() -> Result<()> {
    let (quote, collateral) = sgx()?;
    let t = at(TIME);
    expect(verify(&flipped(&quote, 1), &collateral, t), |e| {
        matches!(e, Error::UnsupportedQuoteVersion { version: 0x103 })
    })?;
    expect(verify(&flipped(&quote, 2), &collateral, t), |e| {
        matches!(e, Error::UnsupportedAttestationKeyType { key_type: 3 })
    })?;
    expect(verify(&flipped(&quote, 12), &collateral, t), |e| {
        matches!(e, Error::UnknownQeVendor { .. })
    })?;
    // Certification data type 5 -> 4 (PCK leaf only), just before its u32 size.
    let parsed = Quote::parse(&quote)?;
    let pem_offset = parsed.raw.len() - parsed.pck_chain_pem.len();
    expect(
        verify(&flipped(&quote, pem_offset - 6), &collateral, t),
        |e| {
            matches!(
                e,
                Error::UnsupportedCertificationDataType { cert_type: 4, .. }
            )
        },
    )?;
    Ok(())
}

#[test]
fn tampered_collateral_fails_its_signature() -> Result<()> {
    let (quote, collateral) = sgx()?;
    let t = at(TIME);
    let mut bad = collateral.clone();
    bad.tcb_info = bad.tcb_info.replacen(
        "\"tcbEvaluationDataNumber\":17",
        "\"tcbEvaluationDataNumber\":18",
        1,
    );
    ensure!(bad.tcb_info != collateral.tcb_info, "tamper applied");
    expect(verify(&quote, &bad, t), |e| {
        matches!(
            e,
            Error::InvalidSignature {
                artifact: Artifact::TcbInfo
            }
        )
    })?;
    let mut bad = collateral.clone();
    bad.qe_identity = bad
        .qe_identity
        .replacen("\"isvprodid\":1", "\"isvprodid\":2", 1);
    ensure!(bad.qe_identity != collateral.qe_identity, "tamper applied");
    expect(verify(&quote, &bad, t), |e| {
        matches!(
            e,
            Error::InvalidSignature {
                artifact: Artifact::QeIdentity
            }
        )
    })?;
    let mut bad = collateral.clone();
    if let Some(b) = bad.pck_crl.last_mut() {
        *b ^= 1;
    }
    expect(verify(&quote, &bad, t), |e| {
        matches!(
            e,
            Error::InvalidSignature {
                artifact: Artifact::PckCrl
            }
        )
    })?;
    let mut bad = collateral;
    if let Some(b) = bad.root_ca_crl.last_mut() {
        *b ^= 1;
    }
    expect(verify(&quote, &bad, t), |e| {
        matches!(
            e,
            Error::UntrustedIssuer {
                artifact: Artifact::RootCaCrl,
                ..
            }
        )
    })?;
    Ok(())
}

#[test]
fn collateral_of_another_platform_or_tee_is_rejected() -> Result<()> {
    // phala TDX (FMSPC b0c06f000000, Platform CA) with automata's TDX collateral (00806f050000).
    let (tdx_quote, _) = tdx()?;
    let other = Collateral::from_json(&read_text(
        "dcap/automata-dcap-rs/derived_tdx_v4_collateral.json",
    )?)?;
    expect(verify(&tdx_quote, &other, at(1_739_419_232)), |e| {
        matches!(e, Error::CollateralMismatch { field: "tcbInfo.fmspc", expected, found }
            if expected == "b0c06f000000" && found == "00806f050000")
    })?;
    // An SGX quote with TDX collateral.
    let (sgx_quote, _) = sgx()?;
    let (_, tdx_collateral) = tdx()?;
    expect(verify(&sgx_quote, &tdx_collateral, at(TIME)), |e| {
        matches!(
            e,
            Error::CollateralMismatch {
                field: "tcbInfo.id",
                ..
            }
        )
    })?;
    Ok(())
}

#[test]
fn a_root_other_than_intel_is_not_trusted() -> Result<()> {
    // A verifier trusting only a test root rejects Intel-signed evidence.
    let (quote, collateral) = sgx()?;
    let pki = attesto_testkit::TestPki::generate()?;
    let verifier = attesto_quote::Verifier::with_trust_anchor(pki.root_der())?;
    let err = verifier.verify(&quote, &collateral, at(TIME)).err();
    ensure!(
        matches!(
            err,
            Some(Error::UntrustedIssuer {
                artifact: Artifact::RootCaCrl,
                ..
            })
        ),
        "{err:?}"
    );
    let err = verifier.verify_signatures_and_chain(&quote, at(TIME)).err();
    ensure!(
        matches!(
            err,
            Some(Error::UntrustedIssuer {
                artifact: Artifact::PckCaCertificate,
                ..
            })
        ),
        "{err:?}"
    );
    // Adding the test root to Intel's keeps Intel's quotes working.
    let both = TrustAnchors::intel().with_root(pki.root_der())?;
    verify_signatures_and_chain(&quote, &both, at(TIME))?;
    Ok(())
}
