//! The automata SGX and TDX sets read from the raw Intel PCS responses (collateral format (b))
//! give the same verdict as the JSON format (a).

use anyhow::{Context, Result, ensure};
use attesto_quote::{Collateral, PcsResponses, Verifier, verify};
use base64::Engine as _;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

use crate::support::{at, read, read_quote, read_text};

const DIR: &str = "dcap/automata-dcap-rs";
const TIME: u64 = 1_739_419_232;

/// The PCK CRL issuer chain: the PCK chain without its leaf (PCS sends CA then root).
fn pck_crl_issuer_chain() -> Result<String> {
    let chain = read_text(&format!("{DIR}/pck_certchain.pem"))?;
    let marker = "-----BEGIN CERTIFICATE-----";
    let second = chain
        .match_indices(marker)
        .nth(1)
        .map(|(i, _)| i)
        .context("three certificates")?;
    Ok(chain[second..].to_owned())
}

fn check_same(quote: &[u8], json_file: &str, tcb_body: &str, qe_body: &str) -> Result<()> {
    let signing_chain = read_text(&format!("{DIR}/tcb_signing_cert.pem"))?;
    // Headers arrive URL-encoded; plain PEM is accepted too.
    let encoded_chain = utf8_percent_encode(&signing_chain, NON_ALPHANUMERIC).to_string();
    let pck_chain = pck_crl_issuer_chain()?;
    let encoded_pck_chain = utf8_percent_encode(&pck_chain, NON_ALPHANUMERIC).to_string();
    let tcb_info = read_text(&format!("{DIR}/{tcb_body}"))?;
    let qe_identity = read_text(&format!("{DIR}/{qe_body}"))?;
    let pck_crl = read(&format!("{DIR}/pck_platform_crl.der"))?;
    let root_crl = read(&format!("{DIR}/intel_root_ca_crl.der"))?;
    let from_pcs = Collateral::from_pcs(&PcsResponses {
        tcb_info: &tcb_info,
        tcb_info_issuer_chain: &encoded_chain,
        qe_identity: &qe_identity,
        qe_identity_issuer_chain: &signing_chain,
        pck_crl: &pck_crl,
        pck_crl_issuer_chain: &encoded_pck_chain,
        root_ca_crl: &root_crl,
    })?;
    let from_json = Collateral::from_json(&read_text(&format!("{DIR}/{json_file}"))?)?;
    ensure!(
        from_pcs.tcb_info == from_json.tcb_info,
        "same signed TCB info text"
    );
    ensure!(
        from_pcs.qe_identity == from_json.qe_identity,
        "same signed QE identity text"
    );

    let a = verify(quote, &from_json, at(TIME))?;
    let b = verify(quote, &from_pcs, at(TIME))?;
    let warm = Verifier::new();
    let c = warm.verify(quote, &from_pcs, at(TIME))?;
    let d = warm.verify(quote, &from_pcs, at(TIME))?;
    for other in [&b, &c, &d] {
        ensure!(a.status == other.status, "status");
        ensure!(a.advisory_ids == other.advisory_ids, "advisories");
        ensure!(a.qe_status == other.qe_status, "QE status");
        ensure!(a.tcb_date == other.tcb_date, "TCB date");
        ensure!(a.earliest_expiry == other.earliest_expiry, "expiry");
        ensure!(a.report == other.report, "report");
        let (ha, hb) = (&a.collateral_hashes, &other.collateral_hashes);
        ensure!(
            ha.quotehash == hb.quotehash && ha.tcbinfohash == hb.tcbinfohash,
            "hashes"
        );
        ensure!(
            ha.qeidhash == hb.qeidhash && ha.tcbinfocrlhash == hb.tcbinfocrlhash,
            "hashes"
        );
    }
    ensure!(a.status.as_str() == "OutOfDate", "status {}", a.status);
    Ok(())
}

#[test]
fn automata_sgx_from_raw_pcs_files() -> Result<()> {
    let quote = read_quote(&format!("{DIR}/quote_sgx_v3_00606a000000.hex"), true)?;
    check_same(
        &quote,
        "derived_sgx_v3_collateral.json",
        "tcbinfov2.json",
        "qeidentityv2.json",
    )
}

#[test]
fn automata_tdx_from_raw_pcs_files() -> Result<()> {
    let quote = read_quote(&format!("{DIR}/quote_tdx_00806f050000.dat"), false)?;
    check_same(
        &quote,
        "derived_tdx_v4_collateral.json",
        "tcbinfov3_00806f050000.json",
        "qeidentityv2_apiv4.json",
    )
}

#[test]
fn crls_are_accepted_as_der_pem_and_hex() -> Result<()> {
    let der = read(&format!("{DIR}/intel_root_ca_crl.der"))?;
    let body = base64::engine::general_purpose::STANDARD.encode(&der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .filter_map(|l| std::str::from_utf8(l).ok())
        .collect();
    let pem = format!(
        "-----BEGIN X509 CRL-----\n{}\n-----END X509 CRL-----\n",
        lines.join("\n")
    );
    let hex_text = hex::encode(&der);
    let signing_chain = read_text(&format!("{DIR}/tcb_signing_cert.pem"))?;
    let tcb_info = read_text(&format!("{DIR}/tcbinfov2.json"))?;
    let qe_identity = read_text(&format!("{DIR}/qeidentityv2.json"))?;
    let pck_crl = read(&format!("{DIR}/pck_platform_crl.der"))?;
    let pck_chain = pck_crl_issuer_chain()?;
    let mut decoded = Vec::new();
    for root in [der.clone(), pem.into_bytes(), hex_text.into_bytes()] {
        let c = Collateral::from_pcs(&PcsResponses {
            tcb_info: &tcb_info,
            tcb_info_issuer_chain: &signing_chain,
            qe_identity: &qe_identity,
            qe_identity_issuer_chain: &signing_chain,
            pck_crl: &pck_crl,
            pck_crl_issuer_chain: &pck_chain,
            root_ca_crl: &root,
        })?;
        decoded.push(c.root_ca_crl);
    }
    ensure!(
        decoded.iter().all(|d| *d == der),
        "all three encodings decode to the DER"
    );
    Ok(())
}
