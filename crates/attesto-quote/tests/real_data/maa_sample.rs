//! The 8 MAA sample quotes (Intel SDK and Open Enclave variants): no collateral exists, so the
//! signature-and-chain entry point is checked, plus the enclave fields against the JSON files.

use anyhow::{Context, Result, ensure};
use attesto_quote::quote::{is_oe_report, parse_oe_report};
use attesto_quote::{TrustAnchors, Verifier, verify_signatures_and_chain};
use aws_lc_rs::digest::{SHA256, digest};
use serde_json::Value;

use crate::support::{read_text, rfc3339};

const VARIANTS: [&str; 4] = ["debug", "prodid", "release", "securityversion"];

fn files() -> Vec<(String, bool)> {
    let mut out = Vec::new();
    for v in VARIANTS {
        out.push((
            format!("maa-sample/sgx.attest.sample.intel.sdk/genquotes/out/enclave.info.{v}.json"),
            false,
        ));
        out.push((
            format!("maa-sample/sgx.attest.sample.oe.sdk/genquotes/quotes/enclave.info.{v}.json"),
            true,
        ));
    }
    out
}

fn hex_field(json: &Value, key: &str) -> Result<Vec<u8>> {
    Ok(hex::decode(json[key].as_str().context(key.to_owned())?)?)
}

#[test]
fn maa_sample_quotes_verify_signatures_and_chain() -> Result<()> {
    let time = crate::support::at(rfc3339("2024-06-01T00:00:00Z")?);
    let verifier = Verifier::new();
    for (file, is_oe) in files() {
        let json: Value = serde_json::from_str(&read_text(&file)?)?;
        let evidence = hex_field(&json, "QuoteHex")?;
        ensure!(is_oe_report(&evidence) == is_oe, "{file}: OE detection");
        let quote = if is_oe {
            parse_oe_report(&evidence)?
        } else {
            &evidence[..]
        };
        let signed = verify_signatures_and_chain(quote, &TrustAnchors::intel(), time)
            .with_context(|| file.clone())?;
        // The cached path gives the same answer, twice.
        for _ in 0..2 {
            ensure!(
                verifier.verify_signatures_and_chain(quote, time)? == signed,
                "{file}"
            );
        }
        let sgx = signed.report.as_sgx().context("SGX body")?;
        ensure!(signed.quote_version == 3, "{file}: version");
        ensure!(
            hex_field(&json, "MrEnclaveHex")? == sgx.mrenclave,
            "{file}: MRENCLAVE"
        );
        ensure!(
            hex_field(&json, "MrSignerHex")? == sgx.mrsigner,
            "{file}: MRSIGNER"
        );
        let product_id = hex_field(&json, "ProductIdHex")?;
        ensure!(product_id.len() == 16, "{file}: product id length");
        let mut expected_id = [0u8; 16];
        expected_id[..2].copy_from_slice(&sgx.isvprodid.to_le_bytes());
        ensure!(product_id == expected_id, "{file}: ISVPRODID");
        ensure!(
            json["SecurityVersion"].as_u64() == Some(u64::from(sgx.isvsvn)),
            "{file}: ISVSVN"
        );
        let attributes = json["Attributes"].as_u64().context("Attributes")?;
        let debug = if is_oe {
            attributes & 1 == 1
        } else {
            attributes & 2 != 0
        };
        ensure!(sgx.is_debuggable() == debug, "{file}: debug flag");
        ensure!(
            signed.report.is_debuggable() == debug,
            "{file}: debug flag via body"
        );
        let ehd = hex_field(&json, "EnclaveHeldDataHex")?;
        ensure!(
            digest(&SHA256, &ehd).as_ref() == &sgx.report_data[..32],
            "{file}: report data binds the enclave held data"
        );
        ensure!(
            hex::encode(signed.pck.fmspc) == "00906ed50000",
            "{file}: FMSPC"
        );
    }
    Ok(())
}

#[test]
fn maa_sample_chain_outside_its_validity_fails_with_a_time_error() -> Result<()> {
    let file = "maa-sample/sgx.attest.sample.intel.sdk/genquotes/out/enclave.info.release.json";
    let json: Value = serde_json::from_str(&read_text(file)?)?;
    let quote = hex_field(&json, "QuoteHex")?;
    // The Intel-variant PCK leaf is valid from 2023-02-27T19:17:10Z.
    let before = crate::support::at(rfc3339("2023-02-27T19:17:09Z")?);
    let err = verify_signatures_and_chain(&quote, &TrustAnchors::intel(), before)
        .err()
        .context("must fail")?;
    ensure!(err.is_time_window(), "{err:?}");
    Ok(())
}
