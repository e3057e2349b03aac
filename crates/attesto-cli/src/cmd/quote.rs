//! `attesto quote ...`: parse and verify Intel SGX/TDX DCAP quotes.
//!
//! A quote file may be raw binary or hex text, and may be an Open Enclave report (16-byte header
//! before the quote). Collateral is a JSON file (the `*_collateral.json` format of `testdata/`) or
//! a directory of raw Intel PCS responses with these names:
//!
//! | file | content |
//! |---|---|
//! | `tcbinfo.json` | body of the TCB info response |
//! | `tcbinfo-issuer-chain.pem` | `TCB-Info-Issuer-Chain` header (PEM or URL-encoded) |
//! | `qeidentity.json` | body of the QE identity response |
//! | `qeidentity-issuer-chain.pem` | `SGX-Enclave-Identity-Issuer-Chain` header |
//! | `pckcrl.der` | PCK CRL (DER, PEM or hex) |
//! | `pckcrl-issuer-chain.pem` | `SGX-PCK-CRL-Issuer-Chain` header |
//! | `rootcrl.der` | Intel SGX Root CA CRL (DER, PEM or hex) |

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use attesto_quote::quote::{is_oe_report, parse_oe_report};
use attesto_quote::time::format_rfc3339;
use attesto_quote::{Collateral, PcsResponses, Quote, ReportBody, VerifiedQuote, Verifier};
use clap::Subcommand;
use rustls_pki_types::UnixTime;
use serde_json::{Value, json};

/// Exit code when a quote fails verification or cannot be read.
const EXIT_FAILED: u8 = 1;

/// `attesto quote` subcommands.
#[derive(Subcommand)]
pub enum QuoteCommand {
    /// Verify a quote completely against collateral. Exit 0 if it verifies, 1 with one line on
    /// stderr naming the failed check otherwise.
    Verify {
        /// The quote: raw binary or hex text; an Open Enclave report is accepted too.
        quote: PathBuf,
        /// Collateral: a JSON file, or a directory of raw PCS responses (see `attesto quote --help`).
        #[arg(long, value_name = "FILE_OR_DIR")]
        collateral: PathBuf,
        /// Verification time: Unix seconds or RFC 3339 (default: now).
        #[arg(long, value_name = "TIME")]
        at: Option<String>,
        /// Print one JSON object instead of a summary.
        #[arg(long)]
        json: bool,
    },
    /// Print the parsed structure of a quote without verifying anything.
    Parse {
        /// The quote: raw binary or hex text; an Open Enclave report is accepted too.
        quote: PathBuf,
        /// Print JSON instead of a summary.
        #[arg(long)]
        json: bool,
    },
}

/// Runs one `attesto quote` subcommand.
pub fn run(command: QuoteCommand) -> anyhow::Result<ExitCode> {
    let result = match command {
        QuoteCommand::Verify {
            quote,
            collateral,
            at,
            json,
        } => verify(&quote, &collateral, at.as_deref(), json),
        QuoteCommand::Parse { quote, json } => parse(&quote, json),
    };
    match result {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(error) => {
            // One line: anyhow's alternate form joins the context chain with ": ".
            eprintln!("attesto: {error:#}");
            Ok(ExitCode::from(EXIT_FAILED))
        }
    }
}

fn verify(quote: &Path, collateral: &Path, at: Option<&str>, json: bool) -> anyhow::Result<()> {
    let evidence = read_evidence(quote)?;
    let quote_bytes = unwrap_oe(&evidence)?;
    let collateral = read_collateral(collateral)?;
    let time = match at {
        Some(text) => parse_time(text)?,
        // The edge may read the clock; the verifier core never does.
        None => UnixTime::since_unix_epoch(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .context("system clock is before 1970")?,
        ),
    };
    let verified = Verifier::new().verify(quote_bytes, &collateral, time)?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&verified_json(&verified))?
        );
    } else {
        print_summary(&verified);
    }
    Ok(())
}

fn parse(quote: &Path, json: bool) -> anyhow::Result<()> {
    let evidence = read_evidence(quote)?;
    let oe = is_oe_report(&evidence);
    let quote_bytes = unwrap_oe(&evidence)?;
    let parsed = Quote::parse(quote_bytes)?;
    if json {
        let mut value = serde_json::to_value(&parsed)?;
        if let Value::Object(map) = &mut value {
            map.insert("open_enclave_report".to_owned(), Value::Bool(oe));
            map.insert("quote_len".to_owned(), json!(parsed.raw.len()));
        }
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    let header = &parsed.header;
    println!(
        "{} quote v{} ({:?} body{}), {} bytes",
        parsed.tee().as_str().to_uppercase(),
        header.version,
        parsed.body_type,
        if oe {
            ", inside an Open Enclave report"
        } else {
            ""
        },
        parsed.raw.len()
    );
    println!(
        "qe_svn {}  pce_svn {}  user_data {}",
        header.qe_svn,
        header.pce_svn,
        hex::encode(header.user_data)
    );
    print_body(&parsed.body);
    println!(
        "QE report: mrsigner {} isvprodid {} isvsvn {}",
        hex::encode(parsed.qe_report.mrsigner),
        parsed.qe_report.isvprodid,
        parsed.qe_report.isvsvn
    );
    let pem = String::from_utf8_lossy(parsed.pck_chain_pem);
    println!(
        "PCK chain: {} PEM certificates, {} bytes; QE auth data {} bytes",
        pem.matches("-----BEGIN CERTIFICATE-----").count(),
        parsed.pck_chain_pem.len(),
        parsed.qe_auth_data.len()
    );
    Ok(())
}

/// Reads a quote file; hex text (optionally `0x`-prefixed) is decoded.
fn read_evidence(path: &Path) -> anyhow::Result<Vec<u8>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let text = std::str::from_utf8(&bytes).ok().map(str::trim);
    let hex_text = text.map(|t| t.strip_prefix("0x").unwrap_or(t));
    match hex_text {
        Some(t) if !t.is_empty() && t.bytes().all(|b| b.is_ascii_hexdigit()) => {
            hex::decode(t).with_context(|| format!("decoding hex in {}", path.display()))
        }
        _ => Ok(bytes),
    }
}

fn unwrap_oe(evidence: &[u8]) -> anyhow::Result<&[u8]> {
    if is_oe_report(evidence) {
        Ok(parse_oe_report(evidence)?)
    } else {
        Ok(evidence)
    }
}

fn read_collateral(path: &Path) -> anyhow::Result<Collateral> {
    if !path.is_dir() {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading collateral {}", path.display()))?;
        return Ok(Collateral::from_json(&text)?);
    }
    let text = |name: &str| {
        let file = path.join(name);
        std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))
    };
    let bytes = |name: &str| {
        let file = path.join(name);
        std::fs::read(&file).with_context(|| format!("reading {}", file.display()))
    };
    let tcb_info = text("tcbinfo.json")?;
    let tcb_info_issuer_chain = text("tcbinfo-issuer-chain.pem")?;
    let qe_identity = text("qeidentity.json")?;
    let qe_identity_issuer_chain = text("qeidentity-issuer-chain.pem")?;
    let pck_crl = bytes("pckcrl.der")?;
    let pck_crl_issuer_chain = text("pckcrl-issuer-chain.pem")?;
    let root_ca_crl = bytes("rootcrl.der")?;
    Ok(Collateral::from_pcs(&PcsResponses {
        tcb_info: &tcb_info,
        tcb_info_issuer_chain: &tcb_info_issuer_chain,
        qe_identity: &qe_identity,
        qe_identity_issuer_chain: &qe_identity_issuer_chain,
        pck_crl: &pck_crl,
        pck_crl_issuer_chain: &pck_crl_issuer_chain,
        root_ca_crl: &root_ca_crl,
    })?)
}

/// Unix seconds or RFC 3339.
fn parse_time(text: &str) -> anyhow::Result<UnixTime> {
    if let Ok(secs) = text.parse::<u64>() {
        return Ok(UnixTime::since_unix_epoch(Duration::from_secs(secs)));
    }
    let parsed = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .with_context(|| format!("--at {text:?} is neither Unix seconds nor RFC 3339"))?;
    let Ok(secs) = u64::try_from(parsed.unix_timestamp()) else {
        bail!("--at {text:?} is before 1970");
    };
    Ok(UnixTime::since_unix_epoch(Duration::from_secs(secs)))
}

fn verified_json(v: &VerifiedQuote) -> Value {
    let mut out = json!({
        "tee": v.tee.as_str(),
        "quote_version": v.quote_version,
        "body_type": v.body_type.number(),
        "status": v.status.as_str(),
        "sgx_ql_qv_result": v.sgx_ql_qv_result(),
        "advisory_ids": v.advisory_ids,
        "platform_status": v.platform_status.as_str(),
        "qe_status": v.qe_status.as_str(),
        "fmspc": hex::encode(v.pck.fmspc),
        "pce_id": hex::encode(v.pck.pce_id),
        "pck_ca": v.pck.ca.as_str(),
        "pcesvn": v.pck.pcesvn,
        "cpusvn": hex::encode(v.pck.cpusvn),
        "tcb_components": hex::encode(v.pck.tcb_components),
        "qe_isvsvn": v.qe.isvsvn,
        "tcb_date": format_rfc3339(v.tcb_date),
        "tcb_evaluation_data_number": v.tcb_evaluation_data_number,
        "earliest_expiry": format_rfc3339(v.earliest_expiry),
        "is_debuggable": v.report.is_debuggable(),
        "report_data": hex::encode(v.report.report_data()),
        "collateral_hashes": v.collateral_hashes,
    });
    let Value::Object(map) = &mut out else {
        return out;
    };
    match &v.report {
        ReportBody::Sgx(sgx) => {
            map.insert("mrenclave".into(), json!(hex::encode(sgx.mrenclave)));
            map.insert("mrsigner".into(), json!(hex::encode(sgx.mrsigner)));
            map.insert("isvprodid".into(), json!(sgx.isvprodid));
            map.insert("isvsvn".into(), json!(sgx.isvsvn));
            map.insert("attributes".into(), json!(hex::encode(sgx.attributes)));
        }
        ReportBody::Td(td) => {
            map.insert("mrtd".into(), json!(hex::encode(td.mrtd)));
            for (i, rtmr) in td.rtmr.iter().enumerate() {
                map.insert(format!("rtmr{i}"), json!(hex::encode(rtmr)));
            }
            map.insert("mrseam".into(), json!(hex::encode(td.mrseam)));
            map.insert("tee_tcb_svn".into(), json!(hex::encode(td.tee_tcb_svn)));
            map.insert("td_attributes".into(), json!(hex::encode(td.td_attributes)));
            map.insert("xfam".into(), json!(hex::encode(td.xfam)));
            if let Some(module) = &v.tdx_module {
                map.insert("tdx_module".into(), json!(module));
            }
        }
    }
    out
}

fn print_summary(v: &VerifiedQuote) {
    let advisories = if v.advisory_ids.is_empty() {
        "none".to_owned()
    } else {
        v.advisory_ids.join(", ")
    };
    println!(
        "verified: {} quote v{}, status {}, advisories {advisories}",
        v.tee.as_str().to_uppercase(),
        v.quote_version,
        v.status
    );
    println!(
        "platform: fmspc {} ({} CA), pcesvn {}, platform {}, QE {} (isvsvn {})",
        hex::encode(v.pck.fmspc),
        v.pck.ca.as_str(),
        v.pck.pcesvn,
        v.platform_status,
        v.qe_status,
        v.qe.isvsvn
    );
    print_body(&v.report);
    println!(
        "tcb date {}, collateral valid until {}",
        format_rfc3339(v.tcb_date),
        format_rfc3339(v.earliest_expiry)
    );
}

fn print_body(body: &ReportBody) {
    match body {
        ReportBody::Sgx(sgx) => {
            println!("mrenclave   {}", hex::encode(sgx.mrenclave));
            println!("mrsigner    {}", hex::encode(sgx.mrsigner));
            println!(
                "isvprodid {}  isvsvn {}  debug {}",
                sgx.isvprodid,
                sgx.isvsvn,
                sgx.is_debuggable()
            );
            println!("report_data {}", hex::encode(sgx.report_data));
        }
        ReportBody::Td(td) => {
            println!("mrtd        {}", hex::encode(td.mrtd));
            for (i, rtmr) in td.rtmr.iter().enumerate() {
                println!("rtmr{i}       {}", hex::encode(rtmr));
            }
            println!("mrseam      {}", hex::encode(td.mrseam));
            println!(
                "tee_tcb_svn {}  debug {}",
                hex::encode(td.tee_tcb_svn),
                td.is_debuggable()
            );
            println!("report_data {}", hex::encode(td.report_data));
        }
    }
}
