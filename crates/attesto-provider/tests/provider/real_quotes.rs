//! Real Intel-signed quotes (`testdata/dcap/expected.json`): request → verify → claims, every
//! measurement claim checked against the expectations, the collateral hashes recomputed here
//! from the collateral files.

use anyhow::{Context, Result, bail, ensure};
use attesto_policy::AttestationType::{self, OpenEnclave, SgxEnclave, TdxVm};
use attesto_provider::claims::{self, ClaimsError, IncomingClaims};
use attesto_quote::{Collateral, Verifier};
use serde_json::{Map, Value, json};

use crate::support::{
    at, body, default_policy_payload, parse, read, read_text, rfc3339, sha256_hex, str_claim,
};

struct Case {
    json: Value,
    name: String,
    quote: Vec<u8>,
    collateral_json: Value,
    collateral: Collateral,
    time: u64,
}

/// The cases that verify (the two `expect_error` cases have no claims).
fn cases() -> Result<Vec<Case>> {
    let expected: Value = serde_json::from_str(&read_text("dcap/expected.json")?)?;
    let mut cases = Vec::new();
    for json in expected["cases"].as_array().context("cases")? {
        if json.get("expect_error").is_some() {
            continue;
        }
        let set = json["set"].as_str().context("set")?;
        let quote_file = json["quote"].as_str().context("quote")?;
        let raw = read(&format!("dcap/{set}/{quote_file}"))?;
        let quote = if json["quote_encoding"].as_str() == Some("hex") {
            let text = String::from_utf8(raw)?;
            let text = text.trim();
            hex::decode(text.strip_prefix("0x").unwrap_or(text))?
        } else {
            raw
        };
        let collateral_text = read_text(&format!(
            "dcap/{set}/{}",
            json["collateral"].as_str().context("collateral")?
        ))?;
        cases.push(Case {
            name: format!("{set}/{quote_file}"),
            time: json["verify_time"].as_u64().context("verify_time")?,
            collateral: Collateral::from_json(&collateral_text)?,
            collateral_json: serde_json::from_str(&collateral_text)?,
            json: json.clone(),
            quote,
        });
    }
    ensure!(
        cases.len() == 5,
        "expected.json has {} verifying cases",
        cases.len()
    );
    Ok(cases)
}

fn kind_of(case: &Case) -> Result<AttestationType> {
    match case.json["tee"].as_str() {
        Some("SGX") => Ok(SgxEnclave),
        Some("TDX") => Ok(TdxVm),
        other => bail!("{}: tee {other:?}", case.name),
    }
}

/// Length of the quote without file padding, read from the header and length fields (v3/v4:
/// header 48 + body + u32 signature length + signature data; v5 adds a 6-byte body descriptor).
fn quote_len(quote: &[u8]) -> Result<usize> {
    let u16_at = |at: usize| -> Result<usize> {
        let bytes = quote.get(at..at + 2).context("short quote")?;
        Ok(usize::from(u16::from_le_bytes([bytes[0], bytes[1]])))
    };
    let u32_at = |at: usize| -> Result<usize> {
        let bytes: [u8; 4] = quote.get(at..at + 4).context("short quote")?.try_into()?;
        Ok(usize::try_from(u32::from_le_bytes(bytes))?)
    };
    let (body_start, body_len) = match u16_at(0)? {
        3 | 4 => (48, if u32_at(4)? == 0 { 384 } else { 584 }),
        5 => (54, u32_at(50)?),
        other => bail!("quote version {other}"),
    };
    let signature_len_at = body_start + body_len;
    Ok(signature_len_at + 4 + u32_at(signature_len_at)?)
}

/// The seven collateral hashes, recomputed from the case's files.
fn expected_collateral_hashes(case: &Case) -> Result<Value> {
    let c = &case.collateral_json;
    let text = |key: &str| -> Result<&str> {
        c[key].as_str().with_context(|| format!("collateral {key}"))
    };
    let root_crl = hex::decode(text("root_ca_crl")?).context("root CRL is hex DER")?;
    let quote = case
        .quote
        .get(..quote_len(&case.quote)?)
        .context("quote length")?;
    Ok(json!({
        "quotehash": sha256_hex(quote),
        "tcbinfohash": sha256_hex(text("tcb_info")?.as_bytes()),
        "tcbinfocertshash": sha256_hex(text("tcb_info_issuer_chain")?.as_bytes()),
        "tcbinfocrlhash": sha256_hex(&root_crl),
        "qeidhash": sha256_hex(text("qe_identity")?.as_bytes()),
        "qeidcertshash": sha256_hex(text("qe_identity_issuer_chain")?.as_bytes()),
        "qeidcrlhash": sha256_hex(&root_crl),
    }))
}

fn check_str(case: &Case, claims: &Map<String, Value>, claim: &str, key: &str) -> Result<bool> {
    let Some(expected) = case.json[key].as_str() else {
        return Ok(false);
    };
    let actual = str_claim(claims, claim)?;
    // Hex in expected.json may be upper case; MAA's claims are lowercase hex. Other values
    // (statuses) compare exactly.
    let expected = if expected.bytes().all(|b| b.is_ascii_hexdigit()) {
        expected.to_ascii_lowercase()
    } else {
        expected.to_owned()
    };
    ensure!(
        actual == expected,
        "{}: {claim} is {actual}, expected {expected}",
        case.name
    );
    Ok(true)
}

fn check_num(case: &Case, claims: &Map<String, Value>, claim: &str, key: &str) -> Result<()> {
    let expected = case.json[key]
        .as_u64()
        .with_context(|| format!("{}: {key}", case.name))?;
    ensure!(
        claims.get(claim).and_then(Value::as_u64) == Some(expected),
        "{}: {claim} is {:?}, expected {expected}",
        case.name,
        claims.get(claim)
    );
    Ok(())
}

fn incoming_for(case: &Case, kind: AttestationType, verifier: &Verifier) -> Result<IncomingClaims> {
    let request = parse(
        kind,
        &body(
            crate::support::evidence_field(kind),
            &case.quote,
            None,
            None,
        ),
    )?;
    let verified = verifier.verify(&request.evidence, &case.collateral, at(case.time))?;
    Ok(claims::incoming(kind, &verified, &request)?)
}

fn check_tcb_facts(case: &Case, claims: &Map<String, Value>) -> Result<()> {
    check_str(case, claims, "x-attesto-tcb-status", "status")?;
    check_str(case, claims, "x-attesto-fmspc", "fmspc")?;
    let advisories = case.json["advisory_ids"].clone();
    ensure!(
        claims.get("x-attesto-advisory-ids") == Some(&advisories),
        "{}: advisories {:?}",
        case.name,
        claims.get("x-attesto-advisory-ids")
    );
    if let Some(date) = case.json["platform_tcb_date"].as_str() {
        let claimed = rfc3339(str_claim(claims, "x-attesto-tcb-date")?)?;
        ensure!(claimed == rfc3339(date)?, "{}: tcb date", case.name);
    }
    let window_end = rfc3339(case.json["window"][1].as_str().context("window")?)?;
    ensure!(
        claims
            .get("x-attesto-collateral-expiry")
            .and_then(Value::as_u64)
            == Some(window_end),
        "{}: collateral expiry",
        case.name
    );
    Ok(())
}

fn check_sgx(case: &Case, incoming: &IncomingClaims) -> Result<()> {
    let claims = incoming.service_claims();
    ensure!(str_claim(claims, "x-ms-attestation-type")? == "sgx", "type");
    ensure!(str_claim(claims, "x-ms-ver")? == "1.0", "ver");
    ensure!(
        check_str(case, claims, "x-ms-sgx-mrenclave", "mrenclave")?,
        "{}: no mrenclave",
        case.name
    );
    ensure!(
        check_str(case, claims, "x-ms-sgx-mrsigner", "mrsigner")?,
        "{}: no mrsigner",
        case.name
    );
    check_num(case, claims, "x-ms-sgx-product-id", "isvprodid")?;
    check_num(case, claims, "x-ms-sgx-svn", "isvsvn")?;
    check_str(case, claims, "x-ms-sgx-report-data", "report_data")?;
    let attributes = hex::decode(case.json["attributes"].as_str().context("attributes")?)?;
    let debug = attributes.first().is_some_and(|flags| flags & 0x02 != 0);
    ensure!(
        claims.get("x-ms-sgx-is-debuggable") == Some(&Value::Bool(debug)),
        "{}: is-debuggable",
        case.name
    );
    let hashes = expected_collateral_hashes(case)?;
    ensure!(
        claims.get("x-ms-sgx-collateral") == Some(&hashes),
        "{}: collateral {:?} != {hashes}",
        case.name,
        claims.get("x-ms-sgx-collateral")
    );
    ensure!(
        claims.get("maa-attestationcollateral") == Some(&hashes),
        "deprecated copy"
    );
    // No runtime data was sent: no ehd claims; a non-KSS enclave: no config claims.
    for absent in [
        "x-ms-sgx-ehd",
        "maa-ehd",
        "aas-ehd",
        "x-ms-runtime",
        "x-ms-sgx-config-id",
    ] {
        ensure!(
            !claims.contains_key(absent),
            "{}: unexpected {absent}",
            case.name
        );
    }
    // The deprecated input names carry the same values, for policies only.
    let aliases = incoming.input_aliases();
    ensure!(
        aliases.get("$sgx-mrenclave") == claims.get("x-ms-sgx-mrenclave"),
        "alias"
    );
    ensure!(
        aliases.get("$maa-attestationcollateral") == Some(&hashes),
        "alias"
    );
    ensure!(aliases.get("$tee") == Some(&json!("sgx")), "alias");
    check_tcb_facts(case, claims)
}

fn check_tdx(case: &Case, incoming: &IncomingClaims) -> Result<()> {
    let claims = incoming.service_claims();
    ensure!(
        str_claim(claims, "x-ms-attestation-type")? == "tdxvm",
        "type"
    );
    ensure!(
        str_claim(claims, "eat_profile")? == "https://aka.ms/maa-eat-profile-tdxvm",
        "profile"
    );
    ensure!(
        check_str(case, claims, "tdx_mrtd", "mrtd")?,
        "{}: no mrtd",
        case.name
    );
    ensure!(
        check_str(case, claims, "tdx_report_data", "report_data")?,
        "{}: no report data",
        case.name
    );
    ensure!(
        check_str(case, claims, "tdx_tee_tcb_svn", "tee_tcb_svn")?,
        "{}: no svn",
        case.name
    );
    for (claim, key) in [
        ("tdx_rtmr0", "rtmr0"),
        ("tdx_mrseam", "mrseam"),
        ("tdx_xfam", "xfam"),
        ("tdx_td_attributes", "td_attributes"),
    ] {
        check_str(case, claims, claim, key)?;
    }
    check_str(case, claims, "attester_tcb_status", "status")?;
    let svn = hex::decode(case.json["tee_tcb_svn"].as_str().context("svn")?)?;
    let seamsvn = u64::from(svn[0]) | u64::from(svn[1]) << 8;
    ensure!(
        claims.get("tdx_seamsvn").and_then(Value::as_u64) == Some(seamsvn),
        "seamsvn"
    );
    if let Some(attributes) = case.json["td_attributes"].as_str() {
        let bytes = hex::decode(attributes)?;
        let septve = bytes[3] & 0x10 != 0;
        let debug = bytes[0] & 0x01 != 0;
        ensure!(
            claims.get("tdx_td_attributes_septve_disable") == Some(&Value::Bool(septve)),
            "septve"
        );
        ensure!(
            claims.get("tdx_td_attributes_debug") == Some(&Value::Bool(debug)),
            "debug"
        );
        let dbgstat = if debug { "enabled" } else { "disabled" };
        ensure!(str_claim(claims, "dbgstat")? == dbgstat, "dbgstat");
    }
    for absent in ["x-ms-sgx-mrenclave", "x-ms-sgx-collateral", "maa-ehd"] {
        ensure!(
            !claims.contains_key(absent),
            "{}: unexpected {absent}",
            case.name
        );
    }
    ensure!(incoming.input_aliases().is_empty(), "TDX has no $ aliases");
    check_tcb_facts(case, claims)
}

#[test]
fn every_real_quote_gives_its_expected_claims() -> Result<()> {
    let verifier = Verifier::new();
    for case in &cases()? {
        let kind = kind_of(case)?;
        let incoming = incoming_for(case, kind, &verifier)?;
        match kind {
            TdxVm => check_tdx(case, &incoming)?,
            _ => check_sgx(case, &incoming)?,
        }
        // The default policy permits, and its token carries the service claims unchanged.
        let payload = default_policy_payload(&incoming, at(case.time))?;
        for (name, value) in incoming.service_claims() {
            ensure!(
                payload.get(name) == Some(value),
                "{}: token {name}",
                case.name
            );
        }
    }
    Ok(())
}

#[test]
fn sgx_quotes_on_open_enclave_give_the_same_claims() -> Result<()> {
    let verifier = Verifier::new();
    for case in cases()?.iter().filter(|c| c.json["tee"] == "SGX") {
        let sgx = incoming_for(case, SgxEnclave, &verifier)?;
        let oe = incoming_for(case, OpenEnclave, &verifier)?;
        ensure!(oe.attestation_type() == OpenEnclave, "type");
        ensure!(oe.service_claims() == sgx.service_claims(), "{}", case.name);
    }
    Ok(())
}

#[test]
fn a_quote_on_the_other_tee_endpoint_is_rejected() -> Result<()> {
    let verifier = Verifier::new();
    for case in &cases()? {
        let (wrong, expected, found, endpoint) = match kind_of(case)? {
            TdxVm => (SgxEnclave, "SGX", "TDX", "TdxVm"),
            _ => (TdxVm, "TDX", "SGX", "SgxEnclave"),
        };
        match incoming_for(case, wrong, &verifier) {
            Err(error) => {
                let error = error.downcast::<ClaimsError>()?;
                ensure!(
                    error
                        == ClaimsError::WrongTee {
                            kind: wrong,
                            expected,
                            found,
                            endpoint
                        },
                    "{}: {error:?}",
                    case.name
                );
                ensure!(
                    error.to_string().contains(&format!("/attest/{endpoint}")),
                    "{error}"
                );
            }
            Ok(_) => bail!("{}: accepted on {wrong}", case.name),
        }
    }
    Ok(())
}

#[test]
fn runtime_data_not_bound_by_a_real_quote_is_rejected() -> Result<()> {
    let verifier = Verifier::new();
    for case in &cases()? {
        let kind = kind_of(case)?;
        let runtime = b"Hello, world!";
        let request = parse(
            kind,
            &body("quote", &case.quote, Some((runtime, "Binary")), None),
        )?;
        let verified = verifier.verify(&request.evidence, &case.collateral, at(case.time))?;
        let report_data = case.json["report_data"].as_str();
        match claims::incoming(kind, &verified, &request) {
            Err(ClaimsError::RuntimeDataMismatch { expected, actual }) => {
                ensure!(
                    expected == sha256_hex(runtime),
                    "{}: expected {expected}",
                    case.name
                );
                if let Some(report_data) = report_data {
                    ensure!(
                        Some(actual.as_str()) == report_data.get(..64),
                        "{}: actual {actual}",
                        case.name
                    );
                }
            }
            other => bail!("{}: {other:?}", case.name),
        }
        // The same data as JSON is just as unbound.
        let request = parse(
            kind,
            &body("quote", &case.quote, Some((br#"{"a":1}"#, "JSON")), None),
        )?;
        ensure!(
            matches!(
                claims::incoming(kind, &verified, &request),
                Err(ClaimsError::RuntimeDataMismatch { .. })
            ),
            "{}: JSON runtime data",
            case.name
        );
    }
    Ok(())
}
