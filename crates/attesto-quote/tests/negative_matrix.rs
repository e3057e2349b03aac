//! The negative matrix: one test per way a quote or its collateral can be wrong, each asserting
//! the specific [`Error`] variant, plus the positive cases real Intel vectors lack (every TCB
//! status, QE convergence, SGX in v4/v5 form, TCB Info v2).
//!
//! Every quote and collateral set is minted by `attesto-testkit`, an independent producer of
//! the DCAP formats, under a fresh test PKI that the verifier trusts only because each test
//! configures it explicitly. Times come from `REFERENCE_TIME`, never the clock.

use anyhow::Result;
use attesto_quote::{Artifact, Collateral, Error, TcbSource, TcbStatus, VerifiedQuote, Verifier};
use attesto_testkit::collateral::{TcbInfoVersion, TcbStatus as MintStatus};
use attesto_testkit::pki::{PckLeafSpec, PkiOptions};
use attesto_testkit::quote::SGX_ATTRIBUTE_DEBUG;
use attesto_testkit::time::{REFERENCE_TIME, Validity, unix};
use attesto_testkit::{
    Collateral as MintedCollateral, CollateralBuilder, MintedQuote, QuoteBuilder, TestKey, TestPki,
};

// ---- adapter: the only part that knows the verifier's API ----

/// Verifies with a verifier that trusts exactly `pki`'s test root, at `REFERENCE_TIME`, reading
/// the collateral from its JSON form (as a client would send it).
fn verify(
    pki: &TestPki,
    quote: &[u8],
    collateral: &MintedCollateral,
) -> Result<VerifiedQuote, Error> {
    let verifier = Verifier::with_trust_anchor(pki.root_der())?;
    verifier.verify(quote, &parse_collateral(collateral), REFERENCE_TIME)
}

/// Verifies with the default verifier, which trusts only Intel's root.
fn verify_default(quote: &[u8], collateral: &MintedCollateral) -> Result<VerifiedQuote, Error> {
    Verifier::new().verify(quote, &parse_collateral(collateral), REFERENCE_TIME)
}

fn parse_collateral(collateral: &MintedCollateral) -> Collateral {
    let json = collateral.to_json().expect("minted collateral serializes");
    Collateral::from_json(&json).expect("minted collateral is well-formed JSON collateral")
}

fn status_of(verified: &VerifiedQuote) -> TcbStatus {
    verified.status
}

fn advisories_of(verified: &VerifiedQuote) -> Vec<String> {
    verified.advisory_ids.clone()
}

// ---- helpers ----

/// A default SGX v3 quote and its UpToDate collateral under a fresh PKI.
fn minted_sgx() -> Result<(TestPki, MintedQuote, MintedCollateral)> {
    let pki = TestPki::generate()?;
    let quote = QuoteBuilder::sgx_v3().build(&pki)?;
    let collateral = CollateralBuilder::for_quote(&pki, &quote).build()?;
    Ok((pki, quote, collateral))
}

/// `bytes` with bit 0 of `bytes[offset]` flipped.
fn flip(quote: &MintedQuote, offset: usize) -> Vec<u8> {
    quote
        .with_bit_flipped(offset, 0)
        .expect("offset inside the quote")
}

fn verify_err(pki: &TestPki, quote: &[u8], collateral: &MintedCollateral) -> Error {
    match verify(pki, quote, collateral) {
        Ok(verified) => panic!("expected an error, got {verified:?}"),
        Err(err) => err,
    }
}

fn truncated_err(verifier: &Verifier, quote: &[u8], collateral: &Collateral) -> Error {
    match verifier.verify(quote, collateral, REFERENCE_TIME) {
        Ok(verified) => panic!("a truncated quote verified: {verified:?}"),
        Err(err) => err,
    }
}

/// Platform status `status` with one advisory: the verdict must be exactly that.
fn assert_platform_status(status: MintStatus, expected: TcbStatus) -> Result<()> {
    let pki = TestPki::generate()?;
    let quote = QuoteBuilder::sgx_v3().build(&pki)?;
    let collateral = CollateralBuilder::for_quote(&pki, &quote)
        .platform_status(status, &["INTEL-SA-00615"])
        .build()?;
    let verified = verify(&pki, &quote.bytes, &collateral)?;
    assert_eq!(status_of(&verified), expected);
    assert_eq!(advisories_of(&verified), vec!["INTEL-SA-00615".to_owned()]);
    Ok(())
}

// ---- signatures and bindings ----

#[test]
fn flipped_bit_in_quote_signature_is_an_invalid_quote_signature() -> Result<()> {
    let (pki, quote, collateral) = minted_sgx()?;
    let bytes = flip(&quote, quote.offsets.quote_signature.start + 7);
    let err = verify_err(&pki, &bytes, &collateral);
    assert!(
        matches!(
            err,
            Error::InvalidSignature {
                artifact: Artifact::Quote
            }
        ),
        "{err:?}"
    );
    Ok(())
}

#[test]
fn flipped_bit_in_report_body_is_an_invalid_quote_signature() -> Result<()> {
    let (pki, quote, collateral) = minted_sgx()?;
    // Inside MRENCLAVE: still a well-formed body, only the signature can catch it.
    let bytes = flip(&quote, quote.offsets.body.start + 64);
    let err = verify_err(&pki, &bytes, &collateral);
    assert!(
        matches!(
            err,
            Error::InvalidSignature {
                artifact: Artifact::Quote
            }
        ),
        "{err:?}"
    );
    Ok(())
}

#[test]
fn flipped_bit_in_attestation_key_breaks_the_qe_binding() -> Result<()> {
    let (pki, quote, collateral) = minted_sgx()?;
    let bytes = flip(&quote, quote.offsets.attestation_key.start + 40);
    let err = verify_err(&pki, &bytes, &collateral);
    assert!(matches!(err, Error::QeReportDataMismatch), "{err:?}");
    Ok(())
}

#[test]
fn flipped_bit_in_qe_report_is_an_invalid_qe_report_signature() -> Result<()> {
    let (pki, quote, collateral) = minted_sgx()?;
    // Inside the QE's MRENCLAVE.
    let bytes = flip(&quote, quote.offsets.qe_report.start + 64);
    let err = verify_err(&pki, &bytes, &collateral);
    assert!(
        matches!(
            err,
            Error::InvalidSignature {
                artifact: Artifact::QeReport
            }
        ),
        "{err:?}"
    );
    Ok(())
}

#[test]
fn flipped_bit_in_qe_report_signature_is_an_invalid_qe_report_signature() -> Result<()> {
    let (pki, quote, collateral) = minted_sgx()?;
    let bytes = flip(&quote, quote.offsets.qe_report_signature.start + 40);
    let err = verify_err(&pki, &bytes, &collateral);
    assert!(
        matches!(
            err,
            Error::InvalidSignature {
                artifact: Artifact::QeReport
            }
        ),
        "{err:?}"
    );
    Ok(())
}

#[test]
fn qe_report_data_not_binding_the_key_is_a_binding_mismatch() -> Result<()> {
    let pki = TestPki::generate()?;
    let quote = QuoteBuilder::sgx_v3()
        .qe_report_data([0x42; 64])
        .build(&pki)?;
    let collateral = CollateralBuilder::for_quote(&pki, &quote).build()?;
    let err = verify_err(&pki, &quote.bytes, &collateral);
    assert!(matches!(err, Error::QeReportDataMismatch), "{err:?}");
    Ok(())
}

// ---- chains, revocation, time ----

#[test]
fn pck_chain_to_another_root_is_untrusted() -> Result<()> {
    let (trusted, foreign) = (TestPki::generate()?, TestPki::generate()?);
    let quote = QuoteBuilder::sgx_v3().build(&foreign)?;
    let collateral = CollateralBuilder::for_quote(&trusted, &quote).build()?;
    let err = verify_err(&trusted, &quote.bytes, &collateral);
    // The quote's PCK CA names a root the verifier does not trust (same name, other key).
    assert!(
        matches!(
            err,
            Error::UntrustedIssuer {
                artifact: Artifact::PckCaCertificate,
                ..
            }
        ),
        "{err:?}"
    );
    Ok(())
}

#[test]
fn expired_pck_leaf_is_expired() -> Result<()> {
    let pki = TestPki::generate()?;
    let spec = PckLeafSpec {
        validity: Validity::new(unix(1_600_000_000), unix(REFERENCE_TIME.as_secs() - 1)),
        ..PckLeafSpec::processor()
    };
    let quote = QuoteBuilder::sgx_v3().pck_leaf_spec(spec).build(&pki)?;
    let collateral = CollateralBuilder::for_quote(&pki, &quote).build()?;
    let err = verify_err(&pki, &quote.bytes, &collateral);
    let just_expired = unix(REFERENCE_TIME.as_secs() - 1);
    assert!(
        matches!(err, Error::Expired { artifact: Artifact::PckCertificate, not_after, time }
            if not_after == just_expired && time == REFERENCE_TIME),
        "{err:?}"
    );
    Ok(())
}

#[test]
fn expired_pck_ca_is_expired() -> Result<()> {
    let pki = TestPki::generate_with(&PkiOptions {
        processor_ca: Validity::new(unix(1_600_000_000), unix(REFERENCE_TIME.as_secs() - 1)),
        ..PkiOptions::default()
    })?;
    let quote = QuoteBuilder::sgx_v3().build(&pki)?;
    let collateral = CollateralBuilder::for_quote(&pki, &quote).build()?;
    let err = verify_err(&pki, &quote.bytes, &collateral);
    // The same CA certificate also signs the PCK CRL, and collateral is checked first, so the
    // copy in the PCK CRL issuer chain may be the one reported.
    assert!(
        matches!(err, Error::Expired {
            artifact: Artifact::PckCaCertificate | Artifact::PckCrlIssuerCertificate,
            not_after,
            ..
        } if not_after == unix(REFERENCE_TIME.as_secs() - 1)),
        "{err:?}"
    );
    Ok(())
}

#[test]
fn pck_serial_in_the_pck_crl_is_revoked() -> Result<()> {
    let pki = TestPki::generate()?;
    let quote = QuoteBuilder::sgx_v3().build(&pki)?;
    let collateral = CollateralBuilder::for_quote(&pki, &quote)
        .revoke_pck(quote.pck_leaf.cert().serial())
        .build()?;
    let err = verify_err(&pki, &quote.bytes, &collateral);
    assert!(
        matches!(
            err,
            Error::Revoked {
                artifact: Artifact::PckCertificate,
                ..
            }
        ),
        "{err:?}"
    );
    Ok(())
}

#[test]
fn pck_crl_past_its_next_update_is_expired() -> Result<()> {
    let pki = TestPki::generate()?;
    let quote = QuoteBuilder::sgx_v3().build(&pki)?;
    let stale = attesto_testkit::pki::CrlSpec::around(unix(REFERENCE_TIME.as_secs() - 60 * 86_400));
    let collateral = CollateralBuilder::for_quote(&pki, &quote)
        .pck_crl(stale)
        .build()?;
    let err = verify_err(&pki, &quote.bytes, &collateral);
    assert!(
        matches!(
            err,
            Error::Expired {
                artifact: Artifact::PckCrl,
                ..
            }
        ),
        "{err:?}"
    );
    Ok(())
}

// ---- collateral ----

#[test]
fn tcb_info_signed_by_the_wrong_key_is_an_invalid_tcb_info_signature() -> Result<()> {
    let pki = TestPki::generate()?;
    let quote = QuoteBuilder::sgx_v3().build(&pki)?;
    let collateral = CollateralBuilder::for_quote(&pki, &quote)
        .sign_with(TestKey::generate()?)
        .build()?;
    let err = verify_err(&pki, &quote.bytes, &collateral);
    assert!(
        matches!(
            err,
            Error::InvalidSignature {
                artifact: Artifact::TcbInfo
            }
        ),
        "{err:?}"
    );
    Ok(())
}

#[test]
fn tcb_info_tampered_by_one_byte_is_an_invalid_tcb_info_signature() -> Result<()> {
    let (pki, quote, mut collateral) = minted_sgx()?;
    // `"tcbEvaluationDataNumber":17` -> `18`: still valid JSON, one byte changed.
    let at = collateral
        .tcb_info
        .find("\"tcbEvaluationDataNumber\":17")
        .expect("default evaluation number")
        + "\"tcbEvaluationDataNumber\":1".len();
    collateral.tcb_info.replace_range(at..at + 1, "8");
    let err = verify_err(&pki, &quote.bytes, &collateral);
    assert!(
        matches!(
            err,
            Error::InvalidSignature {
                artifact: Artifact::TcbInfo
            }
        ),
        "{err:?}"
    );
    Ok(())
}

#[test]
fn tcb_info_for_another_fmspc_is_a_collateral_mismatch() -> Result<()> {
    let pki = TestPki::generate()?;
    let quote = QuoteBuilder::sgx_v3().build(&pki)?;
    let collateral = CollateralBuilder::for_quote(&pki, &quote)
        .edit_tcb_info(|t| t.fmspc = [0x00, 0x90, 0x6E, 0xA1, 0x00, 0x00])
        .build()?;
    let err = verify_err(&pki, &quote.bytes, &collateral);
    assert!(
        matches!(
            err,
            Error::CollateralMismatch {
                field: "tcbInfo.fmspc",
                ..
            }
        ),
        "{err:?}"
    );
    Ok(())
}

#[test]
fn qe_with_another_mrsigner_is_a_qe_identity_mismatch() -> Result<()> {
    let pki = TestPki::generate()?;
    let quote = QuoteBuilder::sgx_v3().build(&pki)?;
    let collateral = CollateralBuilder::for_quote(&pki, &quote)
        .edit_qe_identity(|q| q.mrsigner[0] ^= 1)
        .build()?;
    let err = verify_err(&pki, &quote.bytes, &collateral);
    assert!(
        matches!(err, Error::QeIdentityMismatch { field: "mrsigner" }),
        "{err:?}"
    );
    Ok(())
}

#[test]
fn qe_with_another_isvprodid_is_a_qe_identity_mismatch() -> Result<()> {
    let pki = TestPki::generate()?;
    let quote = QuoteBuilder::sgx_v3().build(&pki)?;
    let collateral = CollateralBuilder::for_quote(&pki, &quote)
        .edit_qe_identity(|q| q.isvprodid = 2)
        .build()?;
    let err = verify_err(&pki, &quote.bytes, &collateral);
    assert!(
        matches!(err, Error::QeIdentityMismatch { field: "isvprodid" }),
        "{err:?}"
    );
    Ok(())
}

#[test]
fn debug_qe_is_rejected() -> Result<()> {
    let pki = TestPki::generate()?;
    let quote = QuoteBuilder::sgx_v3()
        .edit_qe_report(|qe| qe.attributes[0] |= SGX_ATTRIBUTE_DEBUG)
        .build(&pki)?;
    // Collateral derived from the debug QE, so only the debug check can object.
    let collateral = CollateralBuilder::for_quote(&pki, &quote).build()?;
    let err = verify_err(&pki, &quote.bytes, &collateral);
    assert!(matches!(err, Error::QeDebug), "{err:?}");
    Ok(())
}

// ---- malformed quotes ----

#[test]
fn quote_truncated_at_every_length_is_truncated() -> Result<()> {
    let (pki, quote, collateral) = minted_sgx()?;
    let (verifier, collateral) = (
        Verifier::with_trust_anchor(pki.root_der())?,
        parse_collateral(&collateral),
    );
    for len in 0..quote.bytes.len() {
        let err = truncated_err(&verifier, &quote.bytes[..len], &collateral);
        assert!(
            matches!(err, Error::QuoteTruncated { .. }),
            "length {len}: {err:?}"
        );
    }
    Ok(())
}

#[test]
fn tdx_v5_quote_truncated_at_every_length_is_truncated() -> Result<()> {
    let pki = TestPki::generate()?;
    let quote = QuoteBuilder::tdx_v5_td15ex().build(&pki)?;
    let collateral = parse_collateral(&CollateralBuilder::for_quote(&pki, &quote).build()?);
    let verifier = Verifier::with_trust_anchor(pki.root_der())?;
    for len in 0..quote.bytes.len() {
        let err = truncated_err(&verifier, &quote.bytes[..len], &collateral);
        assert!(
            matches!(err, Error::QuoteTruncated { .. }),
            "length {len}: {err:?}"
        );
    }
    Ok(())
}

#[test]
fn unknown_quote_version_is_unsupported() -> Result<()> {
    let pki = TestPki::generate()?;
    for version in [0u16, 1, 2, 6, 0xFFFF] {
        let quote = QuoteBuilder::sgx_v3()
            .edit_header(|h| h.version = version)
            .build(&pki)?;
        let collateral = CollateralBuilder::for_quote(&pki, &quote).build()?;
        let err = verify_err(&pki, &quote.bytes, &collateral);
        assert!(
            matches!(err, Error::UnsupportedQuoteVersion { version: v } if v == version),
            "{err:?}"
        );
    }
    Ok(())
}

#[test]
fn unknown_attestation_key_type_is_unsupported() -> Result<()> {
    let pki = TestPki::generate()?;
    let quote = QuoteBuilder::sgx_v3()
        .edit_header(|h| h.attestation_key_type = 3)
        .build(&pki)?;
    let collateral = CollateralBuilder::for_quote(&pki, &quote).build()?;
    let err = verify_err(&pki, &quote.bytes, &collateral);
    assert!(
        matches!(err, Error::UnsupportedAttestationKeyType { key_type: 3 }),
        "{err:?}"
    );
    Ok(())
}

#[test]
fn unknown_certification_data_type_is_unsupported() -> Result<()> {
    let pki = TestPki::generate()?;
    let quote = QuoteBuilder::sgx_v3()
        .certification_data_type(7)
        .build(&pki)?;
    let collateral = CollateralBuilder::for_quote(&pki, &quote).build()?;
    let err = verify_err(&pki, &quote.bytes, &collateral);
    assert!(
        matches!(
            err,
            Error::UnsupportedCertificationDataType { cert_type: 7, .. }
        ),
        "{err:?}"
    );
    Ok(())
}

#[test]
fn ppid_certification_data_inside_type_6_is_unsupported() -> Result<()> {
    let pki = TestPki::generate()?;
    let quote = QuoteBuilder::sgx_v4().pck_chain_type(1).build(&pki)?;
    let collateral = CollateralBuilder::for_quote(&pki, &quote).build()?;
    let err = verify_err(&pki, &quote.bytes, &collateral);
    assert!(
        matches!(
            err,
            Error::UnsupportedCertificationDataType { cert_type: 1, .. }
        ),
        "{err:?}"
    );
    Ok(())
}

// ---- TCB statuses (positive cases real vectors lack) ----

#[test]
fn platform_up_to_date_verifies_up_to_date() -> Result<()> {
    assert_platform_status(MintStatus::UpToDate, TcbStatus::UpToDate)
}

#[test]
fn platform_sw_hardening_needed_verifies_with_advisories() -> Result<()> {
    assert_platform_status(MintStatus::SwHardeningNeeded, TcbStatus::SWHardeningNeeded)
}

#[test]
fn platform_configuration_needed_verifies_with_advisories() -> Result<()> {
    assert_platform_status(
        MintStatus::ConfigurationNeeded,
        TcbStatus::ConfigurationNeeded,
    )
}

#[test]
fn platform_configuration_and_sw_hardening_needed_verifies_with_advisories() -> Result<()> {
    assert_platform_status(
        MintStatus::ConfigurationAndSwHardeningNeeded,
        TcbStatus::ConfigurationAndSWHardeningNeeded,
    )
}

#[test]
fn platform_out_of_date_verifies_with_advisories() -> Result<()> {
    assert_platform_status(MintStatus::OutOfDate, TcbStatus::OutOfDate)
}

#[test]
fn platform_out_of_date_configuration_needed_verifies_with_advisories() -> Result<()> {
    assert_platform_status(
        MintStatus::OutOfDateConfigurationNeeded,
        TcbStatus::OutOfDateConfigurationNeeded,
    )
}

#[test]
fn revoked_platform_tcb_level_is_an_error() -> Result<()> {
    let pki = TestPki::generate()?;
    let quote = QuoteBuilder::sgx_v3().build(&pki)?;
    let collateral = CollateralBuilder::for_quote(&pki, &quote)
        .platform_status(MintStatus::Revoked, &["INTEL-SA-00999"])
        .build()?;
    let err = verify_err(&pki, &quote.bytes, &collateral);
    assert!(
        matches!(
            err,
            Error::TcbRevoked {
                origin: TcbSource::Platform
            }
        ),
        "{err:?}"
    );
    Ok(())
}

#[test]
fn qe_out_of_date_turns_up_to_date_platform_out_of_date() -> Result<()> {
    let pki = TestPki::generate()?;
    let quote = QuoteBuilder::sgx_v3().build(&pki)?;
    let collateral = CollateralBuilder::for_quote(&pki, &quote)
        .qe_status(MintStatus::OutOfDate, &["INTEL-SA-00615"])
        .build()?;
    let verified = verify(&pki, &quote.bytes, &collateral)?;
    assert_eq!(status_of(&verified), TcbStatus::OutOfDate);
    assert_eq!(advisories_of(&verified), vec!["INTEL-SA-00615".to_owned()]);
    Ok(())
}

#[test]
fn qe_out_of_date_turns_configuration_needed_into_out_of_date_configuration_needed() -> Result<()> {
    let pki = TestPki::generate()?;
    let quote = QuoteBuilder::sgx_v3().build(&pki)?;
    let collateral = CollateralBuilder::for_quote(&pki, &quote)
        .platform_status(MintStatus::ConfigurationNeeded, &["INTEL-SA-00289"])
        .qe_status(MintStatus::OutOfDate, &["INTEL-SA-00615"])
        .build()?;
    let verified = verify(&pki, &quote.bytes, &collateral)?;
    assert_eq!(
        status_of(&verified),
        TcbStatus::OutOfDateConfigurationNeeded
    );
    assert_eq!(
        advisories_of(&verified),
        vec!["INTEL-SA-00289".to_owned(), "INTEL-SA-00615".to_owned()]
    );
    Ok(())
}

#[test]
fn revoked_qe_tcb_level_is_an_error() -> Result<()> {
    let pki = TestPki::generate()?;
    let quote = QuoteBuilder::sgx_v3().build(&pki)?;
    let collateral = CollateralBuilder::for_quote(&pki, &quote)
        .qe_status(MintStatus::Revoked, &[])
        .build()?;
    let err = verify_err(&pki, &quote.bytes, &collateral);
    assert!(
        matches!(
            err,
            Error::TcbRevoked {
                origin: TcbSource::QuotingEnclave
            }
        ),
        "{err:?}"
    );
    Ok(())
}

// ---- formats real vectors lack ----

#[test]
fn sgx_quote_in_v4_form_verifies() -> Result<()> {
    let pki = TestPki::generate()?;
    let quote = QuoteBuilder::sgx_v4().build(&pki)?;
    let collateral = CollateralBuilder::for_quote(&pki, &quote).build()?;
    let verified = verify(&pki, &quote.bytes, &collateral)?;
    assert_eq!(status_of(&verified), TcbStatus::UpToDate);
    Ok(())
}

#[test]
fn sgx_quote_in_v5_form_verifies() -> Result<()> {
    let pki = TestPki::generate()?;
    let quote = QuoteBuilder::sgx_v5().build(&pki)?;
    let collateral = CollateralBuilder::for_quote(&pki, &quote).build()?;
    let verified = verify(&pki, &quote.bytes, &collateral)?;
    assert_eq!(status_of(&verified), TcbStatus::UpToDate);
    Ok(())
}

#[test]
fn tcb_info_v2_verifies() -> Result<()> {
    let pki = TestPki::generate()?;
    let quote = QuoteBuilder::sgx_v3().build(&pki)?;
    let collateral = CollateralBuilder::for_quote(&pki, &quote)
        .edit_tcb_info(|t| t.version = TcbInfoVersion::V2)
        .platform_status(MintStatus::OutOfDate, &[])
        .build()?;
    let verified = verify(&pki, &quote.bytes, &collateral)?;
    assert_eq!(status_of(&verified), TcbStatus::OutOfDate);
    Ok(())
}

#[test]
fn tdx_quotes_in_every_body_form_verify() -> Result<()> {
    let pki = TestPki::generate()?;
    for builder in [
        QuoteBuilder::tdx_v4(),
        QuoteBuilder::tdx_v5_td10(),
        QuoteBuilder::tdx_v5_td15(),
        QuoteBuilder::tdx_v5_td15ex(),
    ] {
        let quote = builder.build(&pki)?;
        let collateral = CollateralBuilder::for_quote(&pki, &quote).build()?;
        let verified = verify(&pki, &quote.bytes, &collateral)?;
        assert_eq!(
            status_of(&verified),
            TcbStatus::UpToDate,
            "{}",
            quote.body.kind_name()
        );
    }
    Ok(())
}

#[test]
fn test_root_is_not_accepted_by_the_default_verifier() -> Result<()> {
    let (_pki, quote, collateral) = minted_sgx()?;
    let err = match verify_default(&quote.bytes, &collateral) {
        Ok(verified) => panic!("the default verifier trusted the test root: {verified:?}"),
        Err(err) => err,
    };
    assert!(matches!(err, Error::UntrustedIssuer { .. }), "{err:?}");
    Ok(())
}

#[test]
fn collateral_in_pcs_form_verifies_like_the_json_form() -> Result<()> {
    let (pki, quote, collateral) = minted_sgx()?;
    let pcs = collateral.to_pcs();
    let from_pcs = Collateral::from_pcs(&attesto_quote::PcsResponses {
        tcb_info: &pcs.tcb_info_body,
        tcb_info_issuer_chain: &pcs.tcb_info_issuer_chain,
        qe_identity: &pcs.qe_identity_body,
        qe_identity_issuer_chain: &pcs.qe_identity_issuer_chain,
        pck_crl: &pcs.pck_crl,
        pck_crl_issuer_chain: &pcs.pck_crl_issuer_chain,
        root_ca_crl: &pcs.root_ca_crl,
    })?;
    let verifier = Verifier::with_trust_anchor(pki.root_der())?;
    let verified = verifier.verify(&quote.bytes, &from_pcs, REFERENCE_TIME)?;
    assert_eq!(verified.status, TcbStatus::UpToDate);
    Ok(())
}
