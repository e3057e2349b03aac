//! A second verifier (dcap-qvl, written by others from Intel's QVL) configured with the test
//! root accepts what the testkit mints, with the status the collateral says, and rejects what
//! it should. dcap-qvl handles SGX v3 and TDX v4/v5 with TCB Info v3 only, so SGX v4/v5 and TCB
//! Info v2 are left to attesto's own verifier.

use anyhow::Result;
use attesto_testkit::time::REFERENCE_TIME;
use attesto_testkit::{
    Collateral, CollateralBuilder, MintedQuote, QuoteBuilder, TcbStatus, TestPki,
};
use dcap_qvl::QuoteCollateralV3;
use dcap_qvl::verify::{QuoteVerifier, VerifiedReport};

fn verify_with(root: &[u8], quote: &MintedQuote, c: &Collateral) -> Result<VerifiedReport> {
    let collateral: QuoteCollateralV3 = serde_json::from_str(&c.to_json()?)?;
    QuoteVerifier::new(root.to_vec())
        .verify(&quote.bytes, &collateral, REFERENCE_TIME.as_secs())
        .map_err(|e| anyhow::anyhow!("{e:#}"))
}

fn verify(pki: &TestPki, quote: &MintedQuote, c: &Collateral) -> Result<VerifiedReport> {
    verify_with(pki.root_der(), quote, c)
}

#[test]
fn default_sgx_v3_quote_and_collateral_verify_up_to_date() -> Result<()> {
    let pki = TestPki::generate()?;
    let quote = QuoteBuilder::sgx_v3().build(&pki)?;
    let c = CollateralBuilder::for_quote(&pki, &quote).build()?;
    let report = verify(&pki, &quote, &c)?;
    assert_eq!(report.status, "UpToDate");
    assert!(report.advisory_ids.is_empty());
    let enclave = report.report.as_sgx().expect("SGX report");
    assert_eq!(
        enclave.mr_enclave,
        quote.body.as_sgx().expect("sgx").mrenclave
    );
    Ok(())
}

#[test]
fn default_tdx_quotes_verify_up_to_date() -> Result<()> {
    let pki = TestPki::generate()?;
    for builder in [
        QuoteBuilder::tdx_v4(),
        QuoteBuilder::tdx_v5_td10(),
        QuoteBuilder::tdx_v5_td15(),
        QuoteBuilder::tdx_v5_td15ex(),
    ] {
        let quote = builder.build(&pki)?;
        let c = CollateralBuilder::for_quote(&pki, &quote).build()?;
        let report = verify(&pki, &quote, &c)?;
        assert_eq!(report.status, "UpToDate", "{:?}", quote.body.kind_name());
    }
    Ok(())
}

#[test]
fn every_platform_status_comes_back_with_its_advisories() -> Result<()> {
    let pki = TestPki::generate()?;
    let quote = QuoteBuilder::sgx_v3().build(&pki)?;
    for status in &TcbStatus::ALL[..6] {
        let c = CollateralBuilder::for_quote(&pki, &quote)
            .platform_status(*status, &["INTEL-SA-00615"])
            .build()?;
        let report = verify(&pki, &quote, &c)?;
        assert_eq!(report.status, status.as_str());
        assert_eq!(report.advisory_ids, vec!["INTEL-SA-00615".to_owned()]);
    }
    Ok(())
}

#[test]
fn revoked_platform_level_is_rejected() -> Result<()> {
    let pki = TestPki::generate()?;
    let quote = QuoteBuilder::sgx_v3().build(&pki)?;
    let c = CollateralBuilder::for_quote(&pki, &quote)
        .platform_status(TcbStatus::Revoked, &[])
        .build()?;
    assert!(verify(&pki, &quote, &c).is_err());
    Ok(())
}

#[test]
fn qe_out_of_date_converges_with_platform_configuration_needed() -> Result<()> {
    let pki = TestPki::generate()?;
    let quote = QuoteBuilder::sgx_v3().build(&pki)?;
    let c = CollateralBuilder::for_quote(&pki, &quote)
        .platform_status(TcbStatus::ConfigurationNeeded, &["INTEL-SA-00289"])
        .qe_status(TcbStatus::OutOfDate, &["INTEL-SA-00615"])
        .build()?;
    let report = verify(&pki, &quote, &c)?;
    assert_eq!(report.status, "OutOfDateConfigurationNeeded");
    assert_eq!(
        report.advisory_ids,
        vec!["INTEL-SA-00289".to_owned(), "INTEL-SA-00615".to_owned()]
    );
    Ok(())
}

#[test]
fn revoked_pck_is_rejected() -> Result<()> {
    let pki = TestPki::generate()?;
    let quote = QuoteBuilder::sgx_v3().build(&pki)?;
    let c = CollateralBuilder::for_quote(&pki, &quote)
        .revoke_pck(quote.pck_leaf.cert().serial())
        .build()?;
    assert!(verify(&pki, &quote, &c).is_err());
    Ok(())
}

#[test]
fn quote_from_another_test_root_is_rejected() -> Result<()> {
    let (ours, theirs) = (TestPki::generate()?, TestPki::generate()?);
    let quote = QuoteBuilder::sgx_v3().build(&theirs)?;
    let c = CollateralBuilder::for_quote(&ours, &quote).build()?;
    assert!(verify(&ours, &quote, &c).is_err());
    Ok(())
}

#[test]
fn intel_anchored_verifier_rejects_the_test_root() -> Result<()> {
    let pki = TestPki::generate()?;
    let quote = QuoteBuilder::sgx_v3().build(&pki)?;
    let c = CollateralBuilder::for_quote(&pki, &quote).build()?;
    let intel_root = std::fs::read(crate::common::testdata("dcap/Intel_SGX_Root_CA.der"))?;
    assert!(verify_with(&intel_root, &quote, &c).is_err());
    // The same data verifies once the test root is configured explicitly.
    verify(&pki, &quote, &c)?;
    Ok(())
}

#[test]
fn flipped_quote_signature_is_rejected() -> Result<()> {
    let pki = TestPki::generate()?;
    let quote = QuoteBuilder::sgx_v3().build(&pki)?;
    let c = CollateralBuilder::for_quote(&pki, &quote).build()?;
    let mut broken = quote.clone();
    broken.bytes = quote
        .with_bit_flipped(quote.offsets.quote_signature.start, 0)
        .expect("in range");
    assert!(verify(&pki, &broken, &c).is_err());
    Ok(())
}
