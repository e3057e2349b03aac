//! `attesto quote verify|parse` run as a real binary on the real test vectors.

use std::path::PathBuf;
use std::process::{Command, Output};

use anyhow::{Context, Result, ensure};
use serde_json::Value;

fn testdata(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(rel)
}

fn attesto(args: &[&str]) -> Result<Output> {
    Ok(Command::new(env!("CARGO_BIN_EXE_attesto"))
        .args(args)
        .output()?)
}

fn path(rel: &str) -> Result<String> {
    testdata(rel)
        .to_str()
        .map(str::to_owned)
        .context("UTF-8 path")
}

#[test]
fn verify_sgx_quote_prints_json() -> Result<()> {
    let out = attesto(&[
        "quote",
        "verify",
        &path("dcap/phala-dcap-qvl/sgx_quote")?,
        "--collateral",
        &path("dcap/phala-dcap-qvl/sgx_quote_collateral.json")?,
        "--at",
        "2025-07-01T00:00:00Z",
        "--json",
    ])?;
    ensure!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout)?;
    ensure!(v["tee"] == "sgx" && v["quote_version"] == 3, "{v}");
    ensure!(v["status"] == "ConfigurationAndSWHardeningNeeded", "{v}");
    ensure!(
        v["advisory_ids"] == serde_json::json!(["INTEL-SA-00289", "INTEL-SA-00615"]),
        "{v}"
    );
    ensure!(v["fmspc"] == "00a067110000", "{v}");
    ensure!(
        v["mrenclave"] == "33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb",
        "{v}"
    );
    ensure!(
        v["mrsigner"] == "815f42f11cf64430c30bab7816ba596a1da0130c3b028b673133a66cf9a3e0e6",
        "{v}"
    );
    ensure!(v["isvprodid"] == 0 && v["isvsvn"] == 0, "{v}");
    let report_data = v["report_data"].as_str().context("report_data")?;
    ensure!(report_data.starts_with("48656c6c6f2c20776f726c6421") && report_data.len() == 128);
    Ok(())
}

#[test]
fn verify_tdx_quote_from_hex_and_unix_time() -> Result<()> {
    let out = attesto(&[
        "quote",
        "verify",
        &path("dcap/phala-dcap-qvl/tdx_quote")?,
        "--collateral",
        &path("dcap/phala-dcap-qvl/tdx_quote_collateral.json")?,
        "--at",
        "1751328000",
        "--json",
    ])?;
    ensure!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout)?;
    ensure!(v["tee"] == "tdx" && v["status"] == "UpToDate", "{v}");
    ensure!(
        v["mrtd"]
            .as_str()
            .is_some_and(|s| s.starts_with("91eb2b44"))
            && v["rtmr3"].is_string(),
        "{v}"
    );
    // The automata SGX quote is stored as hex text; it is decoded automatically.
    let out = attesto(&[
        "quote",
        "verify",
        &path("dcap/automata-dcap-rs/quote_sgx_v3_00606a000000.hex")?,
        "--collateral",
        &path("dcap/automata-dcap-rs/derived_sgx_v3_collateral.json")?,
        "--at",
        "1739419232",
    ])?;
    ensure!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    ensure!(String::from_utf8_lossy(&out.stdout).contains("status OutOfDate"));
    Ok(())
}

#[test]
fn expired_collateral_fails_with_one_line() -> Result<()> {
    let out = attesto(&[
        "quote",
        "verify",
        &path("dcap/phala-dcap-qvl/sgx_quote")?,
        "--collateral",
        &path("dcap/phala-dcap-qvl/sgx_quote_collateral.json")?,
        "--at",
        "2025-08-01T00:00:00Z",
    ])?;
    ensure!(out.status.code() == Some(1), "exit {:?}", out.status.code());
    let stderr = String::from_utf8(out.stderr)?;
    ensure!(stderr.lines().count() == 1, "{stderr}");
    ensure!(stderr.contains("expired at 2025-07-19T"), "{stderr}");
    ensure!(out.stdout.is_empty(), "nothing on stdout");
    Ok(())
}

#[test]
fn no_matching_tcb_level_is_reported() -> Result<()> {
    let out = attesto(&[
        "quote",
        "verify",
        &path("dcap/go-tdx-guest/tdx_prod_quote_SPR_E4.dat")?,
        "--collateral",
        &path("dcap/go-tdx-guest/derived_tdx_v4_collateral.json")?,
        "--at",
        "1688169600",
    ])?;
    ensure!(out.status.code() == Some(1), "exit {:?}", out.status.code());
    let stderr = String::from_utf8(out.stderr)?;
    ensure!(
        stderr.trim_end() == "attesto: no matching TCB level",
        "{stderr}"
    );
    Ok(())
}

#[test]
fn parse_prints_structure_without_collateral() -> Result<()> {
    let out = attesto(&[
        "quote",
        "parse",
        &path("dcap/go-tdx-guest/quote_v5_sample.dat")?,
        "--json",
    ])?;
    ensure!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout)?;
    ensure!(
        v["header"]["version"] == 5 && v["body_type"] == "td15",
        "{v}"
    );
    let out = attesto(&["quote", "parse", &path("dcap/phala-dcap-qvl/sgx_quote")?])?;
    ensure!(out.status.success());
    ensure!(String::from_utf8_lossy(&out.stdout).starts_with("SGX quote v3"));
    Ok(())
}
