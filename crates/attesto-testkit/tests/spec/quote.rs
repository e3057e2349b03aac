//! Quotes: layouts read back by an independent parser, lengths, offsets, signatures, binding.

use anyhow::{Result, ensure};
use attesto_testkit::pki::PckCaKind;
use attesto_testkit::quote::{
    INTEL_QE_VENDOR_ID, QuoteBuilder, QuoteVersion, ReportBody, TdReport,
};
use attesto_testkit::{Error, MintedQuote, TestKey, TestPki};

use crate::common::{
    ParsedQuote, cert_public_key, parse_quote, pem_chain_ders, sha256, testdata, verify_fixed,
};

/// Everything a verifier checks cryptographically, done with the independent parser:
/// quote signature, QE report signature by the PCK leaf in the chain, QE report binding, and
/// that the chain is leaf, CA, root of `pki`.
fn check_quote(pki: &TestPki, minted: &MintedQuote) -> Result<ParsedQuote> {
    let q = &minted.bytes;
    let p = parse_quote(q)?;
    ensure!(p.end == q.len(), "no trailing bytes expected");
    assert_eq!(p.key_type, 2);
    assert_eq!(p.vendor_id, INTEL_QE_VENDOR_ID);
    let mut key = vec![4u8];
    key.extend_from_slice(&q[p.attestation_key.clone()]);
    verify_fixed(&key, &q[p.signed.clone()], &q[p.quote_signature.clone()])?;

    assert_eq!(p.chain_type, 5);
    assert_eq!(q[p.chain.end - 1], 0, "PEM chain is NUL-terminated");
    let chain = pem_chain_ders(&q[p.chain.clone()])?;
    let leaf_ca = minted.pck_leaf.ca();
    assert_eq!(
        chain,
        vec![
            minted.pck_leaf.cert().der().to_vec(),
            pki.pck_ca(leaf_ca).der().to_vec(),
            pki.root_der().to_vec()
        ]
    );
    verify_fixed(
        &cert_public_key(&chain[0])?,
        &q[p.qe_report.clone()],
        &q[p.qe_report_signature.clone()],
    )?;
    let mut bound = q[p.attestation_key.clone()].to_vec();
    bound.extend_from_slice(&q[p.qe_auth_data.clone()]);
    let report_data = &q[p.qe_report.start + 320..p.qe_report.end];
    assert_eq!(&report_data[..32], sha256(&bound).as_slice());
    assert_eq!(&report_data[32..], &[0u8; 32]);

    // The offsets the builder reports agree with the independent parse.
    let o = &minted.offsets;
    assert_eq!(o.header, 0..48);
    assert_eq!(o.body, p.body);
    assert_eq!(o.signed, p.signed);
    assert_eq!(o.quote_signature, p.quote_signature);
    assert_eq!(o.attestation_key, p.attestation_key);
    assert_eq!(o.qe_report, p.qe_report);
    assert_eq!(o.qe_report_signature, p.qe_report_signature);
    assert_eq!(o.qe_auth_data, p.qe_auth_data);
    assert_eq!(o.pck_chain, p.chain);
    assert_eq!(o.signature_data.end, p.end);
    assert_eq!(
        u16::from_le_bytes([
            q[o.certification_data_type.start],
            q[o.certification_data_type.start + 1]
        ]),
        p.outer_cert_type
    );
    Ok(p)
}

#[test]
fn independent_parser_reads_real_intel_quotes() -> Result<()> {
    // Validates the reader the other tests rely on.
    let sgx = parse_quote(&std::fs::read(testdata("dcap/phala-dcap-qvl/sgx_quote"))?)?;
    assert_eq!(
        (sgx.version, sgx.chain_type, sgx.qe_auth_data.len()),
        (3, 5, 32)
    );
    let tdx = parse_quote(&std::fs::read(testdata("dcap/phala-dcap-qvl/tdx_quote"))?)?;
    assert_eq!((tdx.version, tdx.tee_type, tdx.body.len()), (4, 0x81, 584));
    let ex = parse_quote(&std::fs::read(testdata(
        "dcap/phala-dcap-qvl/tdx_quote_td15ex",
    ))?)?;
    assert_eq!((ex.version, ex.body_type, ex.body.len()), (5, Some(4), 885));
    Ok(())
}

#[test]
fn sgx_v3_has_intel_layout_and_valid_signatures() -> Result<()> {
    let pki = TestPki::generate()?;
    let minted = QuoteBuilder::sgx_v3().build(&pki)?;
    let p = check_quote(&pki, &minted)?;
    assert_eq!((p.version, p.tee_type, p.body.clone()), (3, 0, 48..432));
    assert_eq!(p.outer_cert_type, 5);
    assert_eq!(minted.offsets.signature_data_len, 432..436);
    assert_eq!(minted.offsets.qe_report, 564..948);
    assert_eq!(minted.pck_leaf.ca(), PckCaKind::Processor);
    // v3 header carries QE SVN and PCE SVN.
    assert_eq!(&minted.bytes[8..12], &[8, 0, 13, 0]);
    Ok(())
}

#[test]
fn sgx_body_fields_are_written_where_the_spec_puts_them() -> Result<()> {
    let pki = TestPki::generate()?;
    let minted = QuoteBuilder::sgx_v3()
        .edit_sgx_body(|b| {
            b.mrenclave = [0xAB; 32];
            b.mrsigner = [0xCD; 32];
            b.isvprodid = 7;
            b.isvsvn = 9;
            b.report_data = [0xEF; 64];
        })
        .build(&pki)?;
    let body = &minted.bytes[minted.offsets.body.clone()];
    assert_eq!(&body[64..96], &[0xAB; 32]);
    assert_eq!(&body[128..160], &[0xCD; 32]);
    assert_eq!(&body[256..260], &[7, 0, 9, 0]);
    assert_eq!(&body[320..384], &[0xEF; 64]);
    Ok(())
}

#[test]
fn sgx_v4_and_v5_wrap_the_qe_report_in_type_6() -> Result<()> {
    let pki = TestPki::generate()?;
    let v4 = QuoteBuilder::sgx_v4().build(&pki)?;
    let p = check_quote(&pki, &v4)?;
    assert_eq!(
        (p.version, p.tee_type, p.outer_cert_type, p.body.len()),
        (4, 0, 6, 384)
    );
    let v5 = QuoteBuilder::sgx_v5().build(&pki)?;
    let p = check_quote(&pki, &v5)?;
    assert_eq!(
        (p.version, p.body_type, p.body.clone()),
        (5, Some(1), 54..438)
    );
    assert_eq!(p.signed, 0..438, "v5 signs the body descriptor too");
    assert_eq!(v5.offsets.body_descriptor, Some(48..54));
    Ok(())
}

#[test]
fn tdx_quotes_have_the_declared_body_sizes() -> Result<()> {
    let pki = TestPki::generate()?;
    for (builder, version, body_type, len) in [
        (QuoteBuilder::tdx_v4(), 4, None, 584),
        (QuoteBuilder::tdx_v5_td10(), 5, Some(2), 584),
        (QuoteBuilder::tdx_v5_td15(), 5, Some(3), 648),
        (QuoteBuilder::tdx_v5_td15ex(), 5, Some(4), 885),
    ] {
        let minted = builder.build(&pki)?;
        let p = check_quote(&pki, &minted)?;
        assert_eq!(
            (p.version, p.tee_type, p.body_type, p.body.len()),
            (version, 0x81, body_type, len)
        );
        assert_eq!(minted.pck_leaf.ca(), PckCaKind::Platform);
        // The TD QE signs TDX quotes.
        let qe = &minted.bytes[p.qe_report.clone()];
        assert_eq!(&qe[256..258], &[2, 0], "TD QE ISVPRODID");
    }
    Ok(())
}

#[test]
fn td_report_fields_are_written_where_the_spec_puts_them() -> Result<()> {
    let pki = TestPki::generate()?;
    let minted = QuoteBuilder::tdx_v5_td15()
        .edit_td_report(|td| {
            td.mrtd = [0x11; 48];
            td.rtmr[3] = [0x33; 48];
            td.tee_tcb_svn2 = [0x22; 16];
            td.mrservicetd = [0x44; 48];
        })
        .build(&pki)?;
    let body = &minted.bytes[minted.offsets.body.clone()];
    assert_eq!(&body[136..184], &[0x11; 48]);
    assert_eq!(&body[472..520], &[0x33; 48]);
    assert_eq!(&body[584..600], &[0x22; 16]);
    assert_eq!(&body[600..648], &[0x44; 48]);
    Ok(())
}

#[test]
fn version_and_body_mismatches_are_refused() -> Result<()> {
    let pki = TestPki::generate()?;
    let tdx_in_v3 = QuoteBuilder::sgx_v3().body(ReportBody::Td10(TdReport::default()));
    assert!(matches!(
        tdx_in_v3.build(&pki),
        Err(Error::UnsupportedLayout { version: 3, .. })
    ));
    let td15_in_v4 = QuoteBuilder::new(QuoteVersion::V4, ReportBody::Td15(TdReport::default()));
    assert!(matches!(
        td15_in_v4.build(&pki),
        Err(Error::UnsupportedLayout { version: 4, .. })
    ));
    let td_edit_on_sgx = QuoteBuilder::sgx_v3().edit_td_report(|td| td.mrtd = [1; 48]);
    assert!(matches!(
        td_edit_on_sgx.build(&pki),
        Err(Error::UnsupportedLayout { .. })
    ));
    Ok(())
}

#[test]
fn given_attestation_key_and_auth_data_are_used() -> Result<()> {
    let pki = TestPki::generate()?;
    let key = TestKey::generate()?;
    let minted = QuoteBuilder::sgx_v3()
        .attestation_key(key.clone())
        .qe_auth_data(vec![0x5A; 100])
        .build(&pki)?;
    check_quote(&pki, &minted)?;
    assert_eq!(
        &minted.bytes[minted.offsets.attestation_key.clone()],
        &key.public_key_xy()
    );
    assert_eq!(
        &minted.bytes[minted.offsets.qe_auth_data.clone()],
        &[0x5A; 100]
    );
    Ok(())
}

#[test]
fn qe_report_data_override_breaks_only_the_binding() -> Result<()> {
    let pki = TestPki::generate()?;
    let minted = QuoteBuilder::sgx_v3()
        .qe_report_data([0x99; 64])
        .build(&pki)?;
    let q = &minted.bytes;
    let p = parse_quote(q)?;
    // Still signed by the PCK...
    let chain = pem_chain_ders(&q[p.chain.clone()])?;
    verify_fixed(
        &cert_public_key(&chain[0])?,
        &q[p.qe_report.clone()],
        &q[p.qe_report_signature.clone()],
    )?;
    // ...but REPORTDATA is what was asked for, not the binding hash.
    assert_eq!(&q[p.qe_report.start + 320..p.qe_report.end], &[0x99; 64]);
    Ok(())
}

#[test]
fn header_and_certification_type_knobs_write_what_they_say() -> Result<()> {
    let pki = TestPki::generate()?;
    let minted = QuoteBuilder::sgx_v3()
        .edit_header(|h| h.attestation_key_type = 3)
        .certification_data_type(7)
        .build(&pki)?;
    assert_eq!(&minted.bytes[2..4], &[3, 0]);
    let at = minted.offsets.certification_data_type.start;
    assert_eq!(&minted.bytes[at..at + 2], &[7, 0]);
    let v4 = QuoteBuilder::sgx_v4().pck_chain_type(4).build(&pki)?;
    let at = v4.offsets.pck_chain_type.start;
    assert_eq!(&v4.bytes[at..at + 2], &[4, 0]);
    Ok(())
}

#[test]
fn flipping_a_bit_changes_exactly_one_byte() -> Result<()> {
    let pki = TestPki::generate()?;
    let minted = QuoteBuilder::sgx_v3().build(&pki)?;
    let at = minted.offsets.quote_signature.start + 5;
    let flipped = minted.with_bit_flipped(at, 3).expect("in range");
    let diff: Vec<usize> = (0..flipped.len())
        .filter(|&i| flipped[i] != minted.bytes[i])
        .collect();
    assert_eq!(diff, vec![at]);
    assert_eq!(flipped[at] ^ minted.bytes[at], 0x08);
    assert!(minted.with_bit_flipped(minted.bytes.len(), 0).is_none());
    Ok(())
}

#[test]
fn qe_report_is_editable_for_identity_mismatch_cases() -> Result<()> {
    let pki = TestPki::generate()?;
    let minted = QuoteBuilder::sgx_v3()
        .edit_qe_report(|qe| {
            qe.isvprodid = 9;
            qe.attributes[0] |= attesto_testkit::quote::SGX_ATTRIBUTE_DEBUG;
        })
        .build(&pki)?;
    check_quote(&pki, &minted)?;
    let qe = &minted.bytes[minted.offsets.qe_report.clone()];
    assert_eq!(&qe[256..258], &[9, 0]);
    assert_eq!(qe[48] & 0x02, 0x02);
    assert_eq!(minted.qe_report.isvprodid, 9);
    Ok(())
}
