//! Every case of `testdata/dcap/expected.json`, cold and warm, at its time and one second
//! outside its window on each side.

use anyhow::{Context, Result, bail, ensure};
use attesto_quote::{Collateral, Error, VerifiedQuote, Verifier, verify};
use serde_json::Value;

use crate::support::{at, read_quote, read_text, rfc3339};

struct Case {
    json: Value,
    name: String,
    quote: Vec<u8>,
    collateral: Collateral,
    time: u64,
    window: (u64, u64),
}

fn cases() -> Result<Vec<Case>> {
    let expected: Value = serde_json::from_str(&read_text("dcap/expected.json")?)?;
    let list = expected["cases"].as_array().context("cases")?;
    list.iter()
        .map(|json| {
            let set = json["set"].as_str().context("set")?;
            let quote_file = json["quote"].as_str().context("quote")?;
            let hex = json["quote_encoding"].as_str() == Some("hex");
            let quote = read_quote(&format!("dcap/{set}/{quote_file}"), hex)?;
            let collateral_file = json["collateral"].as_str().context("collateral")?;
            let collateral =
                Collateral::from_json(&read_text(&format!("dcap/{set}/{collateral_file}"))?)?;
            let window = json["window"].as_array().context("window")?;
            let start = rfc3339(window.first().and_then(Value::as_str).context("start")?)?;
            let end = rfc3339(window.get(1).and_then(Value::as_str).context("end")?)?;
            Ok(Case {
                name: format!("{set}/{quote_file}"),
                time: json["verify_time"].as_u64().context("verify_time")?,
                json: json.clone(),
                quote,
                collateral,
                window: (start, end),
            })
        })
        .collect()
}

fn check_str(case: &Case, key: &str, actual: &str) -> Result<()> {
    if let Some(expected) = case.json[key].as_str() {
        ensure!(
            expected.eq_ignore_ascii_case(actual),
            "{}: {key} is {actual}, expected {expected}",
            case.name
        );
    }
    Ok(())
}

fn check_num(case: &Case, key: &str, actual: u64) -> Result<()> {
    if let Some(expected) = case.json[key].as_u64() {
        ensure!(
            expected == actual,
            "{}: {key} is {actual}, expected {expected}",
            case.name
        );
    }
    Ok(())
}

/// Compares a verified quote with the expectations of its case.
fn check_success(case: &Case, v: &VerifiedQuote) -> Result<()> {
    check_str(case, "status", v.status.as_str())?;
    check_str(case, "qe_status", v.qe_status.as_str())?;
    let advisories: Vec<&str> = case.json["advisory_ids"]
        .as_array()
        .context("advisory_ids")?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    ensure!(
        v.advisory_ids == advisories,
        "{}: advisories {:?}",
        case.name,
        v.advisory_ids
    );
    check_str(case, "tee", v.tee.as_str())?;
    check_num(case, "quote_version", u64::from(v.quote_version))?;
    check_num(case, "body_type", u64::from(v.body_type.number()))?;
    check_str(case, "fmspc", &hex::encode(v.pck.fmspc))?;
    check_str(case, "pck_ca", v.pck.ca.as_str())?;
    check_num(case, "pcesvn", u64::from(v.pck.pcesvn))?;
    check_str(case, "cpusvn", &hex::encode(v.pck.cpusvn))?;
    check_num(case, "sgx_type", u64::from(v.pck.sgx_type.number()))?;
    check_num(case, "qe_isvsvn", u64::from(v.qe.isvsvn))?;
    check_str(case, "report_data", &hex::encode(v.report.report_data()))?;
    if let Some(date) = case.json["platform_tcb_date"].as_str() {
        ensure!(
            v.tcb_date.as_secs() == rfc3339(date)?,
            "{}: tcb date",
            case.name
        );
    }
    if let Some(sgx) = v.report.as_sgx() {
        check_str(case, "mrenclave", &hex::encode(sgx.mrenclave))?;
        check_str(case, "mrsigner", &hex::encode(sgx.mrsigner))?;
        check_num(case, "isvprodid", u64::from(sgx.isvprodid))?;
        check_num(case, "isvsvn", u64::from(sgx.isvsvn))?;
        check_str(case, "attributes", &hex::encode(sgx.attributes))?;
    } else if let Some(td) = v.report.as_td() {
        check_str(case, "mrtd", &hex::encode(td.mrtd))?;
        check_str(case, "rtmr0", &hex::encode(td.rtmr[0]))?;
        check_str(case, "mrseam", &hex::encode(td.mrseam))?;
        check_str(case, "tee_tcb_svn", &hex::encode(td.tee_tcb_svn))?;
        check_str(case, "td_attributes", &hex::encode(td.td_attributes))?;
        check_str(case, "xfam", &hex::encode(td.xfam))?;
        if let Some(module) = case.json["tdx_module"].as_str() {
            let m = v.tdx_module.as_ref().context("tdx module")?;
            let actual = format!(
                "{} {}",
                m.id.as_deref().unwrap_or("-"),
                m.status.map_or("-", |s| s.as_str())
            );
            ensure!(actual == module, "{}: module {actual}", case.name);
        }
    } else {
        bail!("{}: unknown body", case.name);
    }
    // Earliest expiry is the end of the window the data set documents.
    ensure!(
        v.earliest_expiry.as_secs() == case.window.1,
        "{}: earliest expiry {} != window end {}",
        case.name,
        v.earliest_expiry.as_secs(),
        case.window.1
    );
    ensure!(v.collateral_hashes.quotehash.len() == 64, "quote hash");
    Ok(())
}

/// The case's expected outcome at its verification time.
fn check_outcome(case: &Case, result: Result<VerifiedQuote, Error>) -> Result<()> {
    match (case.json["expect_error"].as_str(), result) {
        (None, Ok(v)) => check_success(case, &v),
        (None, Err(e)) => bail!("{}: unexpected error {e}", case.name),
        (Some(_), Ok(v)) => bail!("{}: expected an error, got {}", case.name, v.status),
        (Some(msg), Err(e)) => {
            ensure!(
                msg.starts_with("no matching TCB level"),
                "unknown expectation {msg}"
            );
            ensure!(
                matches!(e, Error::NoMatchingTcbLevel { .. }),
                "{}: expected no matching TCB level, got {e:?}",
                case.name
            );
            ensure!(e.to_string() == "no matching TCB level", "message {e}");
            Ok(())
        }
    }
}

#[test]
fn every_expected_case_cold() -> Result<()> {
    let cases = cases()?;
    ensure!(cases.len() == 7, "expected.json has {} cases", cases.len());
    for case in &cases {
        check_outcome(case, verify(&case.quote, &case.collateral, at(case.time)))?;
    }
    Ok(())
}

#[test]
fn every_expected_case_warm_verifier() -> Result<()> {
    let verifier = Verifier::new();
    for case in &cases()? {
        for _ in 0..2 {
            check_outcome(
                case,
                verifier.verify(&case.quote, &case.collateral, at(case.time)),
            )?;
        }
    }
    ensure!(verifier.cache_len().0 == 7, "one collateral entry per case");
    Ok(())
}

#[test]
fn window_edges_are_inclusive_and_one_second_outside_fails() -> Result<()> {
    let verifier = Verifier::new();
    for case in &cases()? {
        let (start, end) = case.window;
        // The window bounds themselves still verify (or fail the same TCB way).
        for t in [start, end] {
            check_outcome(case, verify(&case.quote, &case.collateral, at(t)))?;
            check_outcome(case, verifier.verify(&case.quote, &case.collateral, at(t)))?;
        }
        let before = [
            verify(&case.quote, &case.collateral, at(start - 1)),
            verifier.verify(&case.quote, &case.collateral, at(start - 1)),
        ];
        for result in before {
            match result {
                Err(Error::NotYetValid { not_before, .. }) => {
                    ensure!(not_before.as_secs() == start, "{}: not_before", case.name);
                }
                other => bail!("{}: before window: {other:?}", case.name),
            }
        }
        let after = [
            verify(&case.quote, &case.collateral, at(end + 1)),
            verifier.verify(&case.quote, &case.collateral, at(end + 1)),
        ];
        for result in after {
            match result {
                Err(e @ Error::Expired { not_after, .. }) => {
                    ensure!(not_after.as_secs() == end, "{}: not_after", case.name);
                    ensure!(e.is_time_window(), "kind");
                }
                other => bail!("{}: after window: {other:?}", case.name),
            }
        }
    }
    Ok(())
}
