//! Collateral: Intel's JSON shapes (key sets and order compared with real files), signatures
//! over the exact text, both output forms, and the values derived from a quote.

use anyhow::{Context, Result};
use attesto_testkit::collateral::{EnclaveIdentityId, TcbInfoVersion, TcbLevel, TcbStatus};
use attesto_testkit::pki::PckCaKind;
use attesto_testkit::quote::{INTEL_QE_MRSIGNER, QuoteBuilder};
use attesto_testkit::time::{DAY, REFERENCE_TIME, add};
use attesto_testkit::{Collateral, CollateralBuilder, Error, MintedQuote, TestKey, TestPki};
use serde_json::Value;
use x509_parser::prelude::FromDer;
use x509_parser::revocation_list::CertificateRevocationList;

use crate::common::{
    cert_public_key, keys_in_order, pem_chain_ders, raw_element, raw_member, testdata, verify_fixed,
};

fn real(path: &str) -> Result<String> {
    Ok(std::fs::read_to_string(testdata(path))?)
}

/// A string field of a real collateral JSON file (the embedded signed JSON text).
fn real_field(path: &str, field: &str) -> Result<String> {
    let v: Value = serde_json::from_str(&real(path)?)?;
    Ok(v[field].as_str().context("string field")?.to_owned())
}

fn sgx(pki: &TestPki) -> Result<MintedQuote> {
    Ok(QuoteBuilder::sgx_v3().build(pki)?)
}

fn tcb_signer(c: &Collateral) -> Result<Vec<u8>> {
    let chain = pem_chain_ders(c.tcb_info_issuer_chain.as_bytes())?;
    cert_public_key(&chain[0])
}

#[test]
fn collateral_json_has_the_keys_of_the_real_files_in_order() -> Result<()> {
    let pki = TestPki::generate()?;
    let c = CollateralBuilder::for_quote(&pki, &sgx(&pki)?).build()?;
    let ours = keys_in_order(&c.to_json()?)?;
    assert_eq!(
        ours,
        keys_in_order(&real("dcap/phala-dcap-qvl/sgx_quote_collateral.json")?)?
    );
    assert_eq!(Collateral::from_json(&c.to_json()?)?, c);
    // Hex fields are lower-case hex of DER / r||s, like the real files.
    let v: Value = serde_json::from_str(&c.to_json()?)?;
    assert_eq!(v["tcb_info_signature"].as_str().map(str::len), Some(128));
    assert!(v["root_ca_crl"].as_str().context("hex")?.starts_with("30"));
    Ok(())
}

#[test]
fn sgx_tcb_info_v3_matches_intel_shape() -> Result<()> {
    let pki = TestPki::generate()?;
    let c = CollateralBuilder::for_quote(&pki, &sgx(&pki)?)
        .platform_status(TcbStatus::SwHardeningNeeded, &["INTEL-SA-00615"])
        .build()?;
    let theirs = real_field("dcap/phala-dcap-qvl/sgx_quote_collateral.json", "tcb_info")?;
    assert_eq!(keys_in_order(&c.tcb_info)?, keys_in_order(&theirs)?);
    let (ours_level, their_level) = (
        raw_element(&c.tcb_info, "tcbLevels", 0)?,
        raw_element(&theirs, "tcbLevels", 0)?,
    );
    assert_eq!(keys_in_order(&ours_level)?, keys_in_order(&their_level)?);
    assert_eq!(
        keys_in_order(&raw_member(&ours_level, "tcb")?)?,
        keys_in_order(&raw_member(&their_level, "tcb")?)?
    );
    assert!(
        !c.tcb_info.contains(' ') && !c.tcb_info.contains('\n'),
        "compact like PCS"
    );
    Ok(())
}

#[test]
fn tdx_tcb_info_v3_matches_intel_shape() -> Result<()> {
    let pki = TestPki::generate()?;
    let c =
        CollateralBuilder::for_quote(&pki, &QuoteBuilder::tdx_v5_td15ex().build(&pki)?).build()?;
    let theirs = real_field(
        "dcap/phala-dcap-qvl/tdx_quote_td15ex_collateral.json",
        "tcb_info",
    )?;
    assert_eq!(keys_in_order(&c.tcb_info)?, keys_in_order(&theirs)?);
    assert_eq!(
        keys_in_order(&raw_member(&c.tcb_info, "tdxModule")?)?,
        keys_in_order(&raw_member(&theirs, "tdxModule")?)?
    );
    assert_eq!(
        keys_in_order(&raw_element(&c.tcb_info, "tdxModuleIdentities", 0)?)?,
        keys_in_order(&raw_element(&theirs, "tdxModuleIdentities", 0)?)?
    );
    let (ours_level, their_level) = (
        raw_element(&c.tcb_info, "tcbLevels", 0)?,
        raw_element(&theirs, "tcbLevels", 0)?,
    );
    assert_eq!(keys_in_order(&ours_level)?, keys_in_order(&their_level)?);
    assert_eq!(
        keys_in_order(&raw_member(&ours_level, "tcb")?)?,
        keys_in_order(&raw_member(&their_level, "tcb")?)?
    );
    Ok(())
}

#[test]
fn qe_identity_matches_intel_shape() -> Result<()> {
    let pki = TestPki::generate()?;
    let c = CollateralBuilder::for_quote(&pki, &sgx(&pki)?)
        .qe_status(TcbStatus::OutOfDate, &["INTEL-SA-00615"])
        .build()?;
    let theirs = real_field(
        "dcap/phala-dcap-qvl/sgx_quote_collateral.json",
        "qe_identity",
    )?;
    assert_eq!(keys_in_order(&c.qe_identity)?, keys_in_order(&theirs)?);
    assert_eq!(
        keys_in_order(&raw_element(&c.qe_identity, "tcbLevels", 0)?)?,
        keys_in_order(&raw_element(&theirs, "tcbLevels", 1)?)?,
        "a level with advisories"
    );
    Ok(())
}

#[test]
fn tcb_info_v2_matches_intel_shape() -> Result<()> {
    let pki = TestPki::generate()?;
    let c = CollateralBuilder::for_quote(&pki, &sgx(&pki)?)
        .edit_tcb_info(|t| t.version = TcbInfoVersion::V2)
        .build()?;
    let pcs = real("dcap/automata-dcap-rs/tcbinfov2.json")?;
    let theirs = raw_member(&pcs, "tcbInfo")?;
    assert_eq!(keys_in_order(&c.tcb_info)?, keys_in_order(&theirs)?);
    let ours_tcb = raw_member(&raw_element(&c.tcb_info, "tcbLevels", 0)?, "tcb")?;
    let their_tcb = raw_member(&raw_element(&theirs, "tcbLevels", 0)?, "tcb")?;
    assert_eq!(keys_in_order(&ours_tcb)?, keys_in_order(&their_tcb)?);
    let v: Value = serde_json::from_str(&c.tcb_info)?;
    assert_eq!(v["version"], 2);
    assert_eq!(
        v["fmspc"], "00a067110000",
        "v2 FMSPC in lower case, as PCS served it"
    );
    assert_eq!(v["tcbLevels"][0]["tcb"]["sgxtcbcomp05svn"], 255);
    // And the PCS body has the same two keys as the real one.
    assert_eq!(
        keys_in_order(&c.to_pcs().tcb_info_body)?,
        keys_in_order(&pcs)?
    );
    Ok(())
}

#[test]
fn tcb_info_v2_cannot_carry_tdx() -> Result<()> {
    let pki = TestPki::generate()?;
    let b = CollateralBuilder::for_quote(&pki, &QuoteBuilder::tdx_v4().build(&pki)?)
        .edit_tcb_info(|t| t.version = TcbInfoVersion::V2);
    assert!(matches!(b.build(), Err(Error::UnsupportedTcbInfo { .. })));
    Ok(())
}

#[test]
fn signatures_cover_the_exact_embedded_text() -> Result<()> {
    let pki = TestPki::generate()?;
    let c = CollateralBuilder::for_quote(&pki, &sgx(&pki)?).build()?;
    let signer = tcb_signer(&c)?;
    assert_eq!(signer, cert_public_key(pki.tcb_signing().der())?);
    verify_fixed(&signer, c.tcb_info.as_bytes(), &c.tcb_info_signature)?;
    verify_fixed(&signer, c.qe_identity.as_bytes(), &c.qe_identity_signature)?;
    // One byte changed and it no longer verifies.
    let tampered = c.tcb_info.replacen("UpToDate", "UpToDatf", 1);
    assert!(verify_fixed(&signer, tampered.as_bytes(), &c.tcb_info_signature).is_err());
    // Re-serializing (here: pretty-printing) would also break it, which is why the text is kept.
    let pretty = serde_json::to_string_pretty(&serde_json::from_str::<Value>(&c.tcb_info)?)?;
    assert!(verify_fixed(&signer, pretty.as_bytes(), &c.tcb_info_signature).is_err());
    Ok(())
}

#[test]
fn pcs_bodies_embed_the_signed_text_verbatim() -> Result<()> {
    let pki = TestPki::generate()?;
    let c = CollateralBuilder::for_quote(&pki, &sgx(&pki)?).build()?;
    let pcs = c.to_pcs();
    assert_eq!(raw_member(&pcs.tcb_info_body, "tcbInfo")?, c.tcb_info);
    assert_eq!(
        raw_member(&pcs.qe_identity_body, "enclaveIdentity")?,
        c.qe_identity
    );
    let sig: Value = serde_json::from_str(&raw_member(&pcs.tcb_info_body, "signature")?)?;
    assert_eq!(
        hex::decode(sig.as_str().context("hex")?)?,
        c.tcb_info_signature
    );
    assert_eq!(
        keys_in_order(&pcs.qe_identity_body)?,
        keys_in_order(&real("dcap/automata-dcap-rs/qeidentityv2.json")?)?
    );
    assert_eq!(pcs.pck_crl, c.pck_crl);
    assert_eq!(
        pem_chain_ders(pcs.tcb_info_issuer_chain.as_bytes())?.len(),
        2
    );
    Ok(())
}

#[test]
fn crls_are_issued_by_the_root_and_the_quotes_pck_ca() -> Result<()> {
    let pki = TestPki::generate()?;
    let quote = QuoteBuilder::tdx_v4().build(&pki)?;
    let c = CollateralBuilder::for_quote(&pki, &quote)
        .revoke_pck(quote.pck_leaf.cert().serial())
        .build()?;
    let root = x509_parser::parse_x509_certificate(pki.root_der())?.1;
    let ca = x509_parser::parse_x509_certificate(pki.pck_ca(PckCaKind::Platform).der())?.1;
    let root_crl = CertificateRevocationList::from_der(&c.root_ca_crl)?.1;
    let pck_crl = CertificateRevocationList::from_der(&c.pck_crl)?.1;
    assert_eq!(root_crl.issuer().as_raw(), root.subject().as_raw());
    assert_eq!(pck_crl.issuer().as_raw(), ca.subject().as_raw());
    let revoked: Vec<_> = pck_crl
        .iter_revoked_certificates()
        .map(|r| r.raw_serial().to_vec())
        .collect();
    assert_eq!(revoked, vec![quote.pck_leaf.cert().serial().to_vec()]);
    assert_eq!(
        pem_chain_ders(c.pck_crl_issuer_chain.as_bytes())?,
        vec![
            pki.pck_ca(PckCaKind::Platform).der().to_vec(),
            pki.root_der().to_vec()
        ]
    );
    Ok(())
}

#[test]
fn for_quote_derives_tcb_info_and_qe_identity_from_the_quote() -> Result<()> {
    let pki = TestPki::generate()?;
    let quote = sgx(&pki)?;
    let c = CollateralBuilder::for_quote(&pki, &quote).build()?;
    let ext = quote.pck_leaf.extension();
    let t: Value = serde_json::from_str(&c.tcb_info)?;
    assert_eq!(t["id"], "SGX");
    assert_eq!(t["fmspc"], hex::encode_upper(ext.fmspc));
    assert_eq!(t["issueDate"], "2025-12-31T00:00:00Z");
    assert_eq!(t["nextUpdate"], "2026-01-30T00:00:00Z");
    let level = &t["tcbLevels"][0];
    let svns: Vec<u64> = level["tcb"]["sgxtcbcomponents"]
        .as_array()
        .context("array")?
        .iter()
        .filter_map(|c| c["svn"].as_u64())
        .collect();
    assert_eq!(svns, ext.tcb.comp_svns.map(u64::from).to_vec());
    assert_eq!(level["tcb"]["pcesvn"], ext.tcb.pcesvn);
    assert_eq!(level["tcbStatus"], "UpToDate");
    assert!(level.get("advisoryIDs").is_none());

    let q: Value = serde_json::from_str(&c.qe_identity)?;
    assert_eq!(q["id"], "QE");
    assert_eq!(q["mrsigner"], hex::encode_upper(INTEL_QE_MRSIGNER));
    // The QE's ATTRIBUTES under Intel's mask give exactly the value Intel publishes.
    assert_eq!(q["attributes"], "11000000000000000000000000000000");
    assert_eq!(q["attributesMask"], "FBFFFFFFFFFFFFFF0000000000000000");
    assert_eq!(q["miscselectMask"], "FFFFFFFF");
    assert_eq!(q["isvprodid"], 1);
    assert_eq!(q["tcbLevels"][0]["tcb"]["isvsvn"], 8);
    Ok(())
}

#[test]
fn for_tdx_quote_adds_module_identity_and_tdx_components() -> Result<()> {
    let pki = TestPki::generate()?;
    let quote = QuoteBuilder::tdx_v4().build(&pki)?;
    let td = quote.body.as_td().context("td")?;
    let c = CollateralBuilder::for_quote(&pki, &quote).build()?;
    let t: Value = serde_json::from_str(&c.tcb_info)?;
    assert_eq!(t["id"], "TDX");
    let tdx: Vec<u64> = t["tcbLevels"][0]["tcb"]["tdxtcbcomponents"]
        .as_array()
        .context("array")?
        .iter()
        .filter_map(|c| c["svn"].as_u64())
        .collect();
    assert_eq!(tdx, td.tee_tcb_svn.map(u64::from).to_vec());
    let module = &t["tdxModuleIdentities"][0];
    assert_eq!(module["id"], format!("TDX_{:02X}", td.tee_tcb_svn[1]));
    assert_eq!(module["tcbLevels"][0]["tcb"]["isvsvn"], td.tee_tcb_svn[0]);
    assert_eq!(
        t["tdxModule"]["mrsigner"],
        hex::encode_upper(td.mrsignerseam)
    );
    let q: Value = serde_json::from_str(&c.qe_identity)?;
    assert_eq!(q["id"], EnclaveIdentityId::TdQe.as_str());
    assert_eq!(q["isvprodid"], 2);
    Ok(())
}

#[test]
fn every_status_and_advisory_is_written_verbatim() -> Result<()> {
    let pki = TestPki::generate()?;
    let quote = sgx(&pki)?;
    for status in TcbStatus::ALL {
        let c = CollateralBuilder::for_quote(&pki, &quote)
            .platform_status(status, &["INTEL-SA-00001", "INTEL-SA-00002"])
            .build()?;
        let t: Value = serde_json::from_str(&c.tcb_info)?;
        assert_eq!(t["tcbLevels"][0]["tcbStatus"], status.as_str());
        assert_eq!(
            t["tcbLevels"][0]["advisoryIDs"],
            serde_json::json!(["INTEL-SA-00001", "INTEL-SA-00002"])
        );
    }
    let names: Vec<_> = TcbStatus::ALL.iter().map(|s| s.as_str()).collect();
    assert_eq!(
        names,
        [
            "UpToDate",
            "SWHardeningNeeded",
            "ConfigurationNeeded",
            "ConfigurationAndSWHardeningNeeded",
            "OutOfDate",
            "OutOfDateConfigurationNeeded",
            "Revoked"
        ]
    );
    Ok(())
}

#[test]
fn arbitrary_level_lists_are_emitted_in_order() -> Result<()> {
    let pki = TestPki::generate()?;
    let c = CollateralBuilder::for_quote(&pki, &sgx(&pki)?)
        .edit_tcb_info(|t| {
            t.tcb_evaluation_data_number = 19;
            t.tcb_levels.push(
                TcbLevel::sgx([1; 16], 1, TcbStatus::Revoked).with_advisories(&["INTEL-SA-00999"]),
            );
        })
        .build()?;
    let t: Value = serde_json::from_str(&c.tcb_info)?;
    assert_eq!(t["tcbEvaluationDataNumber"], 19);
    assert_eq!(t["tcbLevels"][1]["tcbStatus"], "Revoked");
    assert_eq!(t["tcbLevels"][1]["tcb"]["pcesvn"], 1);
    Ok(())
}

#[test]
fn wrong_signer_signs_with_the_given_key_but_keeps_the_real_chain() -> Result<()> {
    let pki = TestPki::generate()?;
    let rogue = TestKey::generate()?;
    let c = CollateralBuilder::for_quote(&pki, &sgx(&pki)?)
        .sign_with(rogue.clone())
        .build()?;
    assert!(
        verify_fixed(
            &tcb_signer(&c)?,
            c.tcb_info.as_bytes(),
            &c.tcb_info_signature
        )
        .is_err()
    );
    verify_fixed(
        rogue.public_key_sec1(),
        c.tcb_info.as_bytes(),
        &c.tcb_info_signature,
    )?;
    verify_fixed(
        rogue.public_key_sec1(),
        c.qe_identity.as_bytes(),
        &c.qe_identity_signature,
    )?;
    Ok(())
}

#[test]
fn at_moves_every_window() -> Result<()> {
    let pki = TestPki::generate()?;
    let t = add(REFERENCE_TIME, DAY.saturating_mul(365));
    let c = CollateralBuilder::for_quote(&pki, &sgx(&pki)?)
        .at(t)
        .build()?;
    let tcb: Value = serde_json::from_str(&c.tcb_info)?;
    let qe: Value = serde_json::from_str(&c.qe_identity)?;
    assert_eq!(tcb["issueDate"], "2026-12-31T00:00:00Z");
    assert_eq!(qe["nextUpdate"], "2027-01-30T00:00:00Z");
    for der in [&c.root_ca_crl, &c.pck_crl] {
        let crl = CertificateRevocationList::from_der(der)?.1;
        assert_eq!(crl.last_update().timestamp() as u64, t.as_secs() - 86_400);
    }
    Ok(())
}
