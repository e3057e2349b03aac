//! `attesto tpm`: replay measurement logs, and attest a TPM with MAA's TPM protocol.
//!
//! - `replay LOG [--pcrs FILE]`: the PCR values a TCG (or IMA) log replays to, per bank, and
//!   its events; with `--pcrs`, compares them with expected values (exit 1 on a mismatch).
//! - `challenge`: step 1 of the protocol alone. Saves the challenge and `service_context` and
//!   prints the qualifying data a quote must carry (`tpm2_quote -q`), for evidence made by
//!   other tools.
//! - `attest`: step 2 (after step 1, or with a saved `--context`): builds the `attReqV2`
//!   request (PS256, signed by the request key, bound to the quote by
//!   `SHA-256(jwk || 0x00 || challenge)`), prints the report. Evidence comes from files, or
//!   with `--tpm` from the local TPM through tpm2-tools (`tpm2_quote`, `tpm2_readpublic`) and
//!   the firmware log in securityfs.
//!
//! PCR files (`--pcrs`): JSON as MAA's `pcrs` array (`[{"algorithm": 11, "values": [{"index",
//! "digest" (base64url)}]}]`), `{"bank": "sha256", "pcrs": {"0": "<hex>"}}`, or
//! `{"SHA256": {"0": "<hex>"}}` (also under `"pcrs"`, as `replay --json` writes it); or the
//! YAML that `tpm2_pcrread` prints, and `tpm2_quote` when given `-o`.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, SystemTime};

use anyhow::{Context as _, Result, bail, ensure};
use attesto_jose::{Algorithm, Header, Jwk, Jwks, PublicKey, SigningKey, Unsecured, base64url};
use attesto_tpm::eventlog::EventType;
use attesto_tpm::eventlog::uefi::UefiVariableData;
use attesto_tpm::keys::hash_from_name;
use attesto_tpm::{EventLog, HashAlg, ImaLog, MeasurementLog, Replay};
use clap::{Args, Subcommand};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, SubjectPublicKeyInfoDer, UnixTime};
use serde_json::{Map, Value, json};

/// Where Linux exposes the firmware's TCG event log.
const SYSFS_EVENT_LOG: &str = "/sys/kernel/security/tpm0/binary_bios_measurements";
/// MAA's default `required_pcr_mask`: every PCR of the SHA-256 bank.
const DEFAULT_PCR_LIST: &str =
    "sha256:0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23";
/// The api-version the TPM endpoint is called with.
const DEFAULT_API_VERSION: &str = "2022-08-01";
/// Largest answer read from the service.
const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;
/// The hash of the request key binding (`info.tpm_quote.hash_alg`).
const BINDING_HASH: &str = "sha-256";

/// `attesto tpm` subcommands.
#[derive(Debug, Subcommand)]
pub enum TpmCommand {
    /// Replay a TCG event log (or an IMA list) and print the PCRs per bank and the events.
    Replay(ReplayArgs),
    /// Step 1 of MAA's TPM protocol: get a challenge, save it, print the qualifying data a
    /// quote must carry (for `tpm2_quote -q`).
    Challenge(ChallengeArgs),
    /// Attest a TPM with MAA's TPM protocol (v2) and print the report.
    Attest(Box<AttestArgs>),
}

/// `attesto tpm replay` flags.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The log (a TCG PC Client log, legacy SHA-1 or crypto-agile; with --ima an IMA list).
    log: PathBuf,
    /// The log is a Linux IMA measurement list (binary or ASCII).
    #[arg(long)]
    ima: bool,
    /// Expected PCR values; each is compared with the replay (exit 1 on a mismatch).
    #[arg(long, value_name = "FILE")]
    pcrs: Option<PathBuf>,
    /// Print JSON: {"format", "pcrs": {"SHA256": {"0": hex}}, "events": [...]}.
    #[arg(long)]
    json: bool,
}

/// Where the service is and how to reach it.
#[derive(Debug, Args)]
pub struct EndpointArgs {
    /// The attestation service (provider) base URL, e.g. https://localhost:8443.
    #[arg(long, value_name = "URL")]
    endpoint: String,
    /// Trust only these CA certificates (PEM) for TLS, e.g. attesto's `<data-dir>/tls/ca.pem`.
    #[arg(long, value_name = "PEM")]
    ca_file: Option<PathBuf>,
    /// `api-version` of the calls.
    #[arg(long, value_name = "V", default_value = DEFAULT_API_VERSION)]
    api_version: String,
    /// Time limit of each request, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    timeout: u64,
}

/// `attesto tpm challenge` flags.
#[derive(Debug, Args)]
pub struct ChallengeArgs {
    #[command(flatten)]
    endpoint: EndpointArgs,
    /// The request key (PKCS#8 PEM private key) the quote will bind.
    #[arg(long, value_name = "PEM")]
    request_key: PathBuf,
    /// Where to save the context for `attesto tpm attest --context`.
    #[arg(long, value_name = "FILE", default_value = "tpm-context.json")]
    out: PathBuf,
}

/// `attesto tpm attest` flags.
#[derive(Debug, Args)]
pub struct AttestArgs {
    #[command(flatten)]
    endpoint: EndpointArgs,
    /// Request key (PKCS#8 PEM). Default with --tpm: a fresh RSA-2048 key for this request.
    #[arg(long, value_name = "PEM")]
    request_key: Option<PathBuf>,
    /// A context saved by `attesto tpm challenge` (skips step 1; required for file evidence,
    /// whose quote must carry that context's qualifying data).
    #[arg(long, value_name = "FILE", conflicts_with = "tpm")]
    context: Option<PathBuf>,
    /// TPMS_ATTEST of the quote (`tpm2_quote -m`).
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "tpm",
        requires = "context"
    )]
    quote: Option<PathBuf>,
    /// TPMT_SIGNATURE of the quote (`tpm2_quote -s`).
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "tpm",
        requires = "context"
    )]
    signature: Option<PathBuf>,
    /// The quoted PCR values (JSON, or the YAML `tpm2_quote -o FILE` prints).
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "tpm",
        requires = "context"
    )]
    pcrs: Option<PathBuf>,
    /// Quote with the local TPM through tpm2-tools instead of reading evidence files.
    #[arg(long)]
    tpm: bool,
    /// tpm2-tools TCTI for --tpm (swtpm:host=127.0.0.1,port=2321 for a software TPM).
    #[arg(long, value_name = "TCTI", default_value = "device:/dev/tpmrm0")]
    tcti: String,
    /// The AK for --tpm: a persistent handle (0x81010002) or a context file.
    #[arg(long, value_name = "HANDLE|FILE", required_if_eq("tpm", "true"))]
    ak: Option<String>,
    /// PCRs to quote with --tpm, in tpm2-tools syntax.
    #[arg(long, value_name = "LIST", default_value = DEFAULT_PCR_LIST)]
    pcr_list: String,
    /// TCG event logs in measurement order. Default with --tpm: the firmware log in securityfs.
    #[arg(long, value_name = "FILE")]
    event_log: Vec<PathBuf>,
    /// IMA measurement lists (after the TCG logs).
    #[arg(long, value_name = "FILE")]
    ima_log: Vec<PathBuf>,
    /// The AIK certificate (DER or PEM).
    #[arg(long, value_name = "FILE")]
    aik_cert: Option<PathBuf>,
    /// The AIK public key (PEM or DER SubjectPublicKeyInfo, a JWK, or TPM2B_PUBLIC /
    /// TPMT_PUBLIC). Default with --tpm and no --aik-cert: read from the TPM.
    #[arg(long, value_name = "FILE")]
    aik_pub: Option<PathBuf>,
    /// `rp_data`: relying-party data (base64url) the report repeats.
    #[arg(long, value_name = "B64URL")]
    rp_data: Option<String>,
    /// Print the report's claims (JSON, signature checked against the service's /certs)
    /// instead of the report.
    #[arg(long)]
    claims: bool,
    /// Also save the report (JWT) here.
    #[arg(long, value_name = "FILE")]
    report_out: Option<PathBuf>,
}

/// Runs an `attesto tpm` subcommand.
///
/// # Errors
/// Unreadable input, a service error, a failing tool.
pub fn run(command: TpmCommand) -> Result<ExitCode> {
    match command {
        TpmCommand::Replay(args) => replay(&args),
        TpmCommand::Challenge(args) => challenge(&args),
        TpmCommand::Attest(args) => attest(&args),
    }
}

// ---- replay ------------------------------------------------------------------------------------

fn replay(args: &ReplayArgs) -> Result<ExitCode> {
    let bytes =
        std::fs::read(&args.log).with_context(|| format!("reading {}", args.log.display()))?;
    let log = if args.ima {
        MeasurementLog::Ima(
            ImaLog::parse(&bytes).with_context(|| format!("{}", args.log.display()))?,
        )
    } else {
        MeasurementLog::Tcg(
            EventLog::parse(&bytes).with_context(|| format!("{}", args.log.display()))?,
        )
    };
    let replay = Replay::run(std::slice::from_ref(&log)).context("replaying the log")?;
    let expected = match &args.pcrs {
        Some(path) => read_pcr_file(path)?,
        None => Vec::new(),
    };

    let mut pcrs = Map::new();
    for bank in replay.banks() {
        let mut values = Map::new();
        let extended = replay.extended_mask(bank);
        for pcr in 0..24u32 {
            let listed = expected.iter().any(|(b, p, _)| *b == bank && *p == pcr);
            if extended & (1 << pcr) != 0 || listed {
                let value = replay.value(bank, pcr).unwrap_or_default();
                values.insert(pcr.to_string(), Value::from(hex::encode(value)));
            }
        }
        pcrs.insert(bank.name().to_owned(), Value::Object(values));
    }
    let events = describe_events(&log);

    let mut mismatches = Vec::new();
    for (bank, pcr, value) in &expected {
        let replayed = replay
            .value(*bank, *pcr)
            .with_context(|| format!("the log has no {bank} bank to compare PCR {pcr} with"))?;
        if replayed != value.as_slice() {
            mismatches.push(format!(
                "PCR {pcr} ({bank}): expected {}, replayed {}",
                hex::encode(value),
                hex::encode(replayed)
            ));
        }
    }

    let mut out = std::io::stdout().lock();
    if args.json {
        let document = json!({
            "format": log_format(&log),
            "startup_locality": replay.startup_locality(),
            "pcrs": pcrs,
            "events": events,
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&document)?)?;
    } else {
        writeln!(out, "{}", log_format(&log))?;
        if let Some(locality) = replay.startup_locality() {
            writeln!(
                out,
                "StartupLocality {locality}: PCR 0 starts at {locality}, not 0"
            )?;
        }
        writeln!(
            out,
            "Replayed PCRs (extended ones; the others hold their reset value):"
        )?;
        for bank in replay.banks() {
            writeln!(out, "  {bank}")?;
            let shown = pcrs
                .get(bank.name())
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .filter_map(|(pcr, _)| pcr.parse::<u32>().ok());
            for pcr in shown.collect::<std::collections::BTreeSet<_>>() {
                let value = replay.value(bank, pcr).unwrap_or_default();
                let check = expected
                    .iter()
                    .find(|(b, p, _)| *b == bank && *p == pcr)
                    .map(|(_, _, want)| if want == value { "  ok" } else { "  MISMATCH" })
                    .unwrap_or_default();
                writeln!(out, "    {pcr:>2}  {}{check}", hex::encode(value))?;
            }
        }
        writeln!(out, "Events:")?;
        for event in &events {
            writeln!(out, "  {}", event_line(event))?;
        }
    }
    if !expected.is_empty() {
        if mismatches.is_empty() {
            eprintln!("attesto: all {} expected PCR values match", expected.len());
        } else {
            for line in &mismatches {
                eprintln!("attesto: MISMATCH {line}");
            }
            return Ok(ExitCode::from(1));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn log_format(log: &MeasurementLog) -> String {
    match log {
        MeasurementLog::Tcg(tcg) => {
            let format = match tcg.format {
                attesto_tpm::eventlog::LogFormat::Sha1Legacy => "legacy SHA-1",
                attesto_tpm::eventlog::LogFormat::CryptoAgile => "crypto-agile",
            };
            let banks: Vec<String> = tcg.banks().iter().map(ToString::to_string).collect();
            format!(
                "TCG event log, {format}, {} events, banks {}",
                tcg.events.len(),
                banks.join(", ")
            )
        }
        MeasurementLog::Ima(ima) => format!("IMA measurement list, {} entries", ima.entries.len()),
        _ => "measurement log".to_owned(),
    }
}

/// One JSON object per event: index, PCR, type, digests and what the data says.
fn describe_events(log: &MeasurementLog) -> Vec<Value> {
    match log {
        MeasurementLog::Tcg(tcg) => tcg
            .events
            .iter()
            .map(|event| {
                let digests: Map<String, Value> = event
                    .digests
                    .iter()
                    .map(|d| {
                        let name = d
                            .hash_alg()
                            .map_or_else(|| format!("0x{:04x}", d.alg_id), |a| a.name().to_owned());
                        (name, Value::from(hex::encode(&d.value)))
                    })
                    .collect();
                json!({
                    "index": event.index,
                    "pcr": event.pcr,
                    "type": event.event_type.name_or_hex(),
                    "digests": digests,
                    "data": data_summary(event.event_type, &event.data),
                })
            })
            .collect(),
        MeasurementLog::Ima(ima) => ima
            .entries
            .iter()
            .map(|entry| {
                json!({
                    "index": entry.index,
                    "pcr": entry.pcr,
                    "type": entry.template_name,
                    "digests": {"SHA1": hex::encode(entry.template_hash)},
                    "data": entry.file_name().unwrap_or_default(),
                })
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// A short, printable account of an event's data.
fn data_summary(kind: EventType, data: &[u8]) -> String {
    if kind.is_efi_variable()
        && let Ok(variable) = UefiVariableData::parse(data)
    {
        let shown = variable.data.get(..16).unwrap_or(&variable.data);
        let more = if variable.data.len() > 16 { "…" } else { "" };
        return format!(
            "{} {} = {}{more} ({} bytes)",
            variable.guid,
            variable.name,
            hex::encode(shown),
            variable.data.len()
        );
    }
    let text = data.strip_suffix(&[0]).unwrap_or(data);
    if !text.is_empty() && text.iter().all(|b| (0x20..0x7f).contains(b)) {
        return format!("\"{}\"", String::from_utf8_lossy(text));
    }
    if !data.is_empty()
        && data.len().is_multiple_of(2)
        && let Ok(text) = String::from_utf16(
            &data
                .chunks_exact(2)
                .map(|pair| match pair {
                    [low, high] => u16::from_le_bytes([*low, *high]),
                    _ => 0,
                })
                .collect::<Vec<_>>(),
        )
        && let trimmed = text.trim_end_matches('\0')
        && !trimmed.is_empty()
        && trimmed
            .chars()
            .all(|c| c.is_alphanumeric() || c.is_ascii_punctuation() || c == ' ')
    {
        return format!("\"{trimmed}\"");
    }
    let shown = data.get(..16).unwrap_or(data);
    let more = if data.len() > 16 { "…" } else { "" };
    format!("{}{more} ({} bytes)", hex::encode(shown), data.len())
}

fn event_line(event: &Value) -> String {
    let digests = event["digests"].as_object();
    let digest = digests
        .and_then(|d| d.get("SHA256").or_else(|| d.values().next()))
        .and_then(Value::as_str)
        .unwrap_or("");
    format!(
        "{:>4}  PCR {:>2}  {:<36} {}  {}",
        event["index"].as_u64().unwrap_or_default(),
        event["pcr"].as_u64().unwrap_or_default(),
        event["type"].as_str().unwrap_or(""),
        digest.get(..16).unwrap_or(digest),
        event["data"].as_str().unwrap_or("")
    )
}

// ---- PCR files ---------------------------------------------------------------------------------

/// A bank named `sha256`, `SHA-256`, `SHA256`, or by TPM_ALG_ID.
fn bank_from(value: &Value) -> Option<HashAlg> {
    match value {
        Value::String(name) => hash_from_name(name),
        Value::Number(id) => id
            .as_u64()
            .and_then(|id| u16::try_from(id).ok())
            .and_then(HashAlg::from_tpm_alg_id),
        _ => None,
    }
}

fn decode_hex(text: &str) -> Result<Vec<u8>> {
    let text = text.trim();
    let text = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .unwrap_or(text);
    hex::decode(text).with_context(|| format!("{text:?} is not hex"))
}

/// `{"0": "<hex>", ...}` of one bank.
fn bank_values(bank: HashAlg, values: &Value) -> Result<Vec<(HashAlg, u32, Vec<u8>)>> {
    let object = values
        .as_object()
        .with_context(|| format!("{bank} values must be an object of index: hex"))?;
    object
        .iter()
        .map(|(index, value)| {
            let pcr = index
                .parse::<u32>()
                .with_context(|| format!("PCR index {index:?}"))?;
            let hex = value.as_str().context("PCR values are hex strings")?;
            Ok((bank, pcr, decode_hex(hex)?))
        })
        .collect()
}

/// PCR values from a file (see the module docs for the formats).
fn read_pcr_file(path: &Path) -> Result<Vec<(HashAlg, u32, Vec<u8>)>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let values = match serde_json::from_str::<Value>(&text) {
        Ok(json) => pcrs_from_json(&json),
        Err(_) => pcrs_from_yaml(&text),
    }
    .with_context(|| format!("PCR values in {}", path.display()))?;
    ensure!(!values.is_empty(), "{} holds no PCR values", path.display());
    Ok(values)
}

fn pcrs_from_json(json: &Value) -> Result<Vec<(HashAlg, u32, Vec<u8>)>> {
    let mut out = Vec::new();
    match json {
        Value::Array(banks) => {
            for bank in banks {
                let alg = bank_from(&bank["algorithm"]).context("pcrs[].algorithm")?;
                for value in bank["values"].as_array().context("pcrs[].values")? {
                    let index = value["index"].as_u64().context("values[].index")?;
                    let digest = value["digest"].as_str().context("values[].digest")?;
                    out.push((
                        alg,
                        u32::try_from(index)?,
                        base64url::decode(digest).context("values[].digest")?,
                    ));
                }
            }
        }
        Value::Object(object) => {
            if let Some(bank) = object.get("bank").or_else(|| object.get("hash")) {
                let bank = bank_from(bank).context("unknown bank")?;
                return bank_values(bank, object.get("pcrs").context("no pcrs member")?);
            }
            let banks = match object.get("pcrs") {
                Some(Value::Object(inner)) => inner,
                _ => object,
            };
            for (name, values) in banks {
                let bank =
                    hash_from_name(name).with_context(|| format!("unknown bank {name:?}"))?;
                out.extend(bank_values(bank, values)?);
            }
        }
        _ => bail!("expected a JSON array or object"),
    }
    Ok(out)
}

/// The `pcrs:` part of `tpm2_quote` output, or `tpm2_pcrread` output:
/// `  sha256:` lines, then `    0 : 0x<HEX>` lines.
fn pcrs_from_yaml(text: &str) -> Result<Vec<(HashAlg, u32, Vec<u8>)>> {
    let mut out = Vec::new();
    let mut bank = None;
    for line in text.lines() {
        let trimmed = line.trim();
        if let Some(name) = trimmed.strip_suffix(':') {
            bank = hash_from_name(name);
            continue;
        }
        let (Some(current), Some((index, value))) = (bank, trimmed.split_once(':')) else {
            bank = None;
            continue;
        };
        match index.trim().parse::<u32>() {
            Ok(pcr) => out.push((current, pcr, decode_hex(value)?)),
            Err(_) => bank = None,
        }
    }
    ensure!(!out.is_empty(), "neither JSON nor tpm2-tools PCR output");
    Ok(out)
}

/// MAA's `pcrs`: one entry per bank, in first-appearance order, values by index.
fn maa_pcrs(values: &[(HashAlg, u32, Vec<u8>)]) -> Value {
    let mut banks: Vec<(HashAlg, BTreeMap<u32, &[u8]>)> = Vec::new();
    for (bank, pcr, value) in values {
        let position = match banks.iter().position(|(b, _)| b == bank) {
            Some(position) => position,
            None => {
                banks.push((*bank, BTreeMap::new()));
                banks.len() - 1
            }
        };
        if let Some((_, map)) = banks.get_mut(position) {
            map.insert(*pcr, value.as_slice());
        }
    }
    Value::Array(
        banks
            .into_iter()
            .map(|(bank, map)| {
                json!({
                    "algorithm": bank.tpm_alg_id(),
                    "values": map.into_iter().map(|(index, digest)| json!({
                        "index": index,
                        "digest": base64url::encode(digest),
                    })).collect::<Vec<_>>(),
                })
            })
            .collect(),
    )
}

// ---- keys and certificates ---------------------------------------------------------------------

fn read_request_key(path: &Path) -> Result<SigningKey> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let der = match PrivateKeyDer::from_pem_slice(&bytes) {
        Ok(PrivateKeyDer::Pkcs8(der)) => der.secret_pkcs8_der().to_vec(),
        Ok(_) => bail!(
            "{}: the request key must be PKCS#8 (BEGIN PRIVATE KEY)",
            path.display()
        ),
        Err(_) => bytes,
    };
    let key = SigningKey::from_pkcs8_der(&der)
        .with_context(|| format!("{}: not a PKCS#8 RSA private key", path.display()))?;
    // The protocol signs requests with PS256.
    ensure!(
        matches!(key.kind(), attesto_jose::KeyKind::Rsa { .. }),
        "{}: the request key must be RSA (requests are signed with PS256), not {}",
        path.display(),
        key.kind()
    );
    Ok(key)
}

/// The request key's JWK, as the request carries it (and the binding hashes it).
fn jwk_text(key: &SigningKey) -> Result<String> {
    Ok(serde_json::to_string(&Jwk::from_public_key(
        key.public_key(),
    ))?)
}

fn read_certificate(path: &Path) -> Result<Vec<u8>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    if bytes.starts_with(b"-----BEGIN") {
        Ok(CertificateDer::from_pem_slice(&bytes)
            .with_context(|| format!("{}: not a PEM certificate", path.display()))?
            .to_vec())
    } else {
        Ok(bytes)
    }
}

/// An AIK public key file as a JWK: JSON JWK, PEM/DER SubjectPublicKeyInfo, TPM2B_PUBLIC or
/// TPMT_PUBLIC.
fn read_aik_pub(path: &Path) -> Result<Value> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    if let Ok(jwk) = serde_json::from_slice::<Value>(&bytes)
        && jwk.get("kty").is_some()
    {
        return Ok(jwk);
    }
    let spki = if bytes.starts_with(b"-----BEGIN") {
        SubjectPublicKeyInfoDer::from_pem_slice(&bytes)
            .with_context(|| format!("{}: not a PEM public key", path.display()))?
            .to_vec()
    } else if PublicKey::from_spki_der(&bytes).is_ok() {
        bytes
    } else {
        let public = attesto_tpm::tpm2::Public::parse_tpm2b(&bytes)
            .or_else(|_| attesto_tpm::tpm2::Public::parse(&bytes))
            .with_context(|| {
                format!(
                    "{}: not a JWK, SubjectPublicKeyInfo or TPM public area",
                    path.display()
                )
            })?;
        attesto_tpm::AikPublicKey::from_public(&public)?.to_spki_der()
    };
    let key = PublicKey::from_spki_der(&spki)
        .with_context(|| format!("{}: unsupported public key", path.display()))?;
    Ok(serde_json::to_value(Jwk::from_public_key(&key))?)
}

// ---- the protocol ------------------------------------------------------------------------------

/// A TPM protocol client for one endpoint.
struct Service {
    http: reqwest::Client,
    runtime: tokio::runtime::Runtime,
    endpoint: String,
    api_version: String,
}

impl Service {
    fn new(args: &EndpointArgs) -> Result<Service> {
        let endpoint = args.endpoint.trim_end_matches('/').to_owned();
        ensure!(
            endpoint.starts_with("https://") || endpoint.starts_with("http://"),
            "--endpoint must be an http(s) URL"
        );
        let mut builder = reqwest::Client::builder()
            .timeout(Duration::from_secs(args.timeout))
            .user_agent(concat!("attesto-tpm/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = &args.ca_file {
            let pem = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .with_context(|| format!("{}: not PEM certificates", path.display()))?;
            ensure!(!certs.is_empty(), "{} holds no certificate", path.display());
            builder = builder.tls_certs_only(certs);
        }
        Ok(Service {
            http: builder.build().context("starting the HTTP client")?,
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("starting the async runtime")?,
            endpoint,
            api_version: args.api_version.clone(),
        })
    }

    /// One protocol message: `{"data": b64url(JSON)}` both ways.
    fn exchange(&self, message: &Value) -> Result<Value> {
        let url = format!(
            "{}/attest/Tpm?api-version={}",
            self.endpoint, self.api_version
        );
        let body = json!({ "data": base64url::encode(message.to_string().as_bytes()) });
        let (status, bytes) = self.runtime.block_on(async {
            let response = self
                .http
                .post(&url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_string())
                .send()
                .await
                .with_context(|| format!("POST {url}"))?;
            let status = response.status();
            let bytes = read_limited(response).await?;
            Ok::<_, anyhow::Error>((status, bytes))
        })?;
        let answer: Value = serde_json::from_slice(&bytes).with_context(|| {
            format!(
                "{url} answered {status} with a body that is not JSON: {}",
                String::from_utf8_lossy(bytes.get(..300).unwrap_or(&bytes))
            )
        })?;
        if !status.is_success() {
            let error = &answer["error"];
            bail!(
                "{url} answered {status} {}: {}",
                error["code"].as_str().unwrap_or("?"),
                error["message"].as_str().unwrap_or("(no message)")
            );
        }
        let data = answer["data"]
            .as_str()
            .context("the answer has no `data`")?;
        let decoded = base64url::decode(data).context("the answer's `data`")?;
        let mut inner: Value =
            serde_json::from_slice(&decoded).context("the answer's `data` is not JSON")?;
        // A service may answer in the REST sample's `payload` wrapping.
        if let Some(payload) = inner.get_mut("payload").map(Value::take) {
            inner = payload;
        }
        Ok(inner)
    }

    fn signing_keys(&self) -> Result<Jwks> {
        let url = format!("{}/certs", self.endpoint);
        let bytes = self.runtime.block_on(async {
            let response = self
                .http
                .get(&url)
                .send()
                .await
                .with_context(|| format!("GET {url}"))?;
            ensure!(
                response.status().is_success(),
                "{url} answered {}",
                response.status()
            );
            read_limited(response).await
        })?;
        Jwks::from_json(&String::from_utf8_lossy(&bytes)).with_context(|| url.clone())
    }
}

async fn read_limited(mut response: reqwest::Response) -> Result<Vec<u8>> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.context("reading the answer")? {
        ensure!(
            body.len().saturating_add(chunk.len()) <= MAX_RESPONSE_BYTES,
            "the answer is larger than {MAX_RESPONSE_BYTES} bytes"
        );
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// What step 1 yields, as `attesto tpm challenge` saves it.
struct Challenge {
    challenge: Vec<u8>,
    service_context: String,
    jwk_text: String,
}

impl Challenge {
    fn request(service: &Service, jwk_text: String) -> Result<Challenge> {
        let answer = service.exchange(&json!({"type": "aikcert"}))?;
        let challenge = answer["challenge"]
            .as_str()
            .context("the challenge answer has no `challenge`")?;
        let service_context = answer["service_context"]
            .as_str()
            .context("the challenge answer has no `service_context`")?;
        Ok(Challenge {
            challenge: base64url::decode(challenge).context("challenge")?,
            service_context: service_context.to_owned(),
            jwk_text,
        })
    }

    /// `SHA-256(jwk || 0x00 || challenge)`: the quote's qualifyingData.
    fn qualifying_data(&self) -> Vec<u8> {
        let hash = hash_from_name(BINDING_HASH).unwrap_or(HashAlg::Sha256);
        attesto_tpm::keys::quote_key_binding(&self.jwk_text, &self.challenge, hash)
    }

    fn to_json(&self, endpoint: &str) -> Value {
        json!({
            "endpoint": endpoint,
            "challenge": base64url::encode(&self.challenge),
            "service_context": self.service_context,
            "request_key_jwk": self.jwk_text,
            "hash_alg": BINDING_HASH,
            "qualifying_data": hex::encode(self.qualifying_data()),
        })
    }

    fn read(path: &Path, jwk_text: String) -> Result<Challenge> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let saved: Value =
            serde_json::from_str(&text).with_context(|| format!("{}", path.display()))?;
        ensure!(
            saved["request_key_jwk"].as_str() == Some(jwk_text.as_str()),
            "{} was made for another request key than --request-key",
            path.display()
        );
        Ok(Challenge {
            challenge: base64url::decode(saved["challenge"].as_str().context("challenge")?)
                .context("challenge")?,
            service_context: saved["service_context"]
                .as_str()
                .context("service_context")?
                .to_owned(),
            jwk_text,
        })
    }
}

fn challenge(args: &ChallengeArgs) -> Result<ExitCode> {
    let key = read_request_key(&args.request_key)?;
    let service = Service::new(&args.endpoint)?;
    let challenge = Challenge::request(&service, jwk_text(&key)?)?;
    std::fs::write(
        &args.out,
        serde_json::to_string_pretty(&challenge.to_json(&service.endpoint))?,
    )
    .with_context(|| format!("writing {}", args.out.display()))?;
    eprintln!(
        "attesto: context saved to {}; quote with this qualifying data (tpm2_quote -q):",
        args.out.display()
    );
    println!("{}", hex::encode(challenge.qualifying_data()));
    Ok(ExitCode::SUCCESS)
}

/// One attestation object's evidence.
struct Evidence {
    quote: Vec<u8>,
    signature: Vec<u8>,
    pcrs: Vec<(HashAlg, u32, Vec<u8>)>,
    aik_pub: Option<Value>,
}

fn attest(args: &AttestArgs) -> Result<ExitCode> {
    ensure!(
        args.tpm || args.context.is_some(),
        "evidence files need --context from `attesto tpm challenge` (their quote must carry its \
         qualifying data); or quote with the local TPM (--tpm)"
    );
    let key = match &args.request_key {
        Some(path) => read_request_key(path)?,
        None if args.tpm => SigningKey::generate_rsa(attesto_jose::RsaBits::B2048)
            .context("generating a request key")?,
        None => bail!("--request-key is required with evidence files"),
    };
    let jwk_text = jwk_text(&key)?;
    let service = Service::new(&args.endpoint)?;
    let challenge = match &args.context {
        Some(path) => Challenge::read(path, jwk_text)?,
        None => Challenge::request(&service, jwk_text)?,
    };

    let evidence = if args.tpm {
        let ak = args.ak.as_deref().context("--ak is required with --tpm")?;
        let want_pub = args.aik_pub.is_none() && args.aik_cert.is_none();
        quote_with_tpm(args, ak, &challenge.qualifying_data(), want_pub)?
    } else {
        let read = |path: &Option<PathBuf>, what: &str| -> Result<Vec<u8>> {
            let path = path
                .as_ref()
                .with_context(|| format!("--{what} is required without --tpm"))?;
            std::fs::read(path).with_context(|| format!("reading {}", path.display()))
        };
        Evidence {
            quote: read(&args.quote, "quote")?,
            signature: read(&args.signature, "signature")?,
            pcrs: read_pcr_file(
                args.pcrs
                    .as_deref()
                    .context("--pcrs is required without --tpm")?,
            )?,
            aik_pub: None,
        }
    };

    let mut logs = Vec::new();
    let mut event_logs = args.event_log.clone();
    if event_logs.is_empty() && args.tpm {
        event_logs.push(PathBuf::from(SYSFS_EVENT_LOG));
    }
    for path in &event_logs {
        let bytes = std::fs::read(path).with_context(|| {
            format!(
                "reading {} (the firmware log needs root; or pass --event-log)",
                path.display()
            )
        })?;
        logs.push(json!({"type": "TCG", "log": base64url::encode(&bytes)}));
    }
    for path in &args.ima_log {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        logs.push(json!({"type": "IMA", "log": base64url::encode(&bytes)}));
    }

    let mut current = Map::new();
    current.insert("logs".to_owned(), Value::Array(logs));
    if let Some(path) = &args.aik_cert {
        current.insert(
            "aik_cert".to_owned(),
            Value::from(base64url::encode(&read_certificate(path)?)),
        );
    }
    let aik_pub = match &args.aik_pub {
        Some(path) => Some(read_aik_pub(path)?),
        None => evidence.aik_pub.clone(),
    };
    if let Some(jwk) = aik_pub {
        current.insert("aik_pub".to_owned(), jwk);
    }
    ensure!(
        current.contains_key("aik_cert") || current.contains_key("aik_pub"),
        "give --aik-cert or --aik-pub"
    );
    current.insert("pcrs".to_owned(), maa_pcrs(&evidence.pcrs));
    current.insert(
        "quote".to_owned(),
        Value::from(base64url::encode(&evidence.quote)),
    );
    current.insert(
        "signature".to_owned(),
        Value::from(base64url::encode(&evidence.signature)),
    );

    let jws = request_jws(
        &key,
        &challenge,
        Value::Object(current),
        args.rp_data.as_deref(),
    )?;
    let answer = service.exchange(&json!({ "request": jws }))?;
    let report = answer["report"]
        .as_str()
        .context("the answer has no `report`")?;
    if let Some(path) = &args.report_out {
        std::fs::write(path, report).with_context(|| format!("writing {}", path.display()))?;
    }
    if args.claims {
        let jwks = service.signing_keys()?;
        let now = UnixTime::since_unix_epoch(
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default(),
        );
        let validated = attesto_jose::validate(
            report,
            &jwks,
            &attesto_jose::ValidationOptions {
                now,
                slack: Duration::from_secs(60),
                expected_issuer: Some(&service.endpoint),
                expected_jku: None,
                unsecured: Unsecured::Reject,
            },
        )
        .context("the report does not validate against the service's /certs")?;
        println!("{}", serde_json::to_string_pretty(&validated.claims)?);
    } else {
        println!("{report}");
    }
    Ok(ExitCode::SUCCESS)
}

/// The `attReqV2` JWS. The payload is assembled as text so the request key's JWK appears
/// exactly as the binding hashed it.
fn request_jws(
    key: &SigningKey,
    challenge: &Challenge,
    current: Value,
    rp_data: Option<&str>,
) -> Result<String> {
    let mut att_data = Map::new();
    if let Some(rp_data) = rp_data {
        att_data.insert("rp_data".to_owned(), Value::from(rp_data));
    }
    att_data.insert(
        "challenge".to_owned(),
        Value::from(base64url::encode(&challenge.challenge)),
    );
    att_data.insert(
        "tpm_att_data".to_owned(),
        json!({ "current_attestation": current }),
    );
    att_data.insert("other_keys".to_owned(), json!([]));
    att_data.insert("custom_claims".to_owned(), json!([]));
    att_data.insert(
        "service_context".to_owned(),
        Value::from(challenge.service_context.as_str()),
    );
    let att_data = Value::Object(att_data).to_string();
    let open = att_data
        .strip_suffix('}')
        .context("att_data is an object")?;
    let request_key = format!(
        "{{\"jwk\":{},\"info\":{}}}",
        challenge.jwk_text,
        json!({"tpm_quote": {"hash_alg": BINDING_HASH}})
    );
    let payload =
        format!("{{\"att_type\":\"basic\",\"att_data\":{open},\"request_key\":{request_key}}}}}");
    let mut header = Header::new(Algorithm::Ps256);
    header.typ = Some("attReqV2".to_owned());
    Ok(attesto_jose::sign_jws(&header, payload.as_bytes(), key)?)
}

/// Runs a tpm2-tools command against `tcti`.
fn tpm2(tool: &str, tcti: &str, args: &[&str]) -> Result<String> {
    let output = Command::new(tool)
        .args(args)
        .env("TPM2TOOLS_TCTI", tcti)
        .output()
        .with_context(|| format!("running {tool} (install tpm2-tools)"))?;
    ensure!(
        output.status.success(),
        "{tool} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr).trim()
    );
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// `tpm2_quote` over `--pcr-list` with `qualifying` as qualifyingData; the AIK public key too
/// when asked.
fn quote_with_tpm(
    args: &AttestArgs,
    ak: &str,
    qualifying: &[u8],
    want_pub: bool,
) -> Result<Evidence> {
    let dir = tempfile::tempdir().context("temporary directory")?;
    let path = |name: &str| dir.path().join(name).to_string_lossy().into_owned();
    let (message, signature, values) = (path("quote.msg"), path("quote.sig"), path("pcrs.bin"));
    let yaml = tpm2(
        "tpm2_quote",
        &args.tcti,
        &[
            "-c",
            ak,
            "-l",
            &args.pcr_list,
            "-q",
            &hex::encode(qualifying),
            "-m",
            &message,
            "-s",
            &signature,
            "-g",
            "sha256",
            // With -o, tpm2_quote also prints the quoted PCR values it read.
            "-o",
            &values,
            "-F",
            "values",
        ],
    )?;
    let pcrs = pcrs_from_yaml(&yaml).context("tpm2_quote's PCR values")?;
    let aik_pub = if want_pub {
        let pem = path("ak.pem");
        tpm2(
            "tpm2_readpublic",
            &args.tcti,
            &["-c", ak, "-f", "pem", "-o", &pem],
        )?;
        Some(read_aik_pub(Path::new(&pem))?)
    } else {
        None
    };
    Ok(Evidence {
        quote: std::fs::read(&message).context("tpm2_quote's message")?,
        signature: std::fs::read(&signature).context("tpm2_quote's signature")?,
        pcrs,
        aik_pub,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pcr_files_in_every_shape_give_the_same_values() -> Result<()> {
        let want = vec![
            (HashAlg::Sha256, 0u32, vec![0xab; 32]),
            (HashAlg::Sha256, 7u32, vec![0x01; 32]),
        ];
        let hex0 = hex::encode([0xab; 32]);
        let hex7 = hex::encode([0x01; 32]);
        let shapes = [
            json!([{"algorithm": 11, "values": [
                {"index": 0, "digest": base64url::encode(&[0xab; 32])},
                {"index": 7, "digest": base64url::encode(&[0x01; 32])},
            ]}]),
            json!({"bank": "sha256", "pcrs": {"0": hex0, "7": hex7}}),
            json!({"hash": 11, "pcrs": {"0": hex0, "7": hex7}}),
            json!({"SHA256": {"0": hex0, "7": hex7}}),
            json!({"file": "x.bin", "pcrs": {"sha-256": {"0": hex0, "7": format!("0x{hex7}")}}}),
        ];
        for shape in &shapes {
            let mut got = pcrs_from_json(shape)?;
            got.sort_by_key(|(_, pcr, _)| *pcr);
            assert_eq!(got, want, "{shape}");
        }
        let yaml = format!(
            "quoted: ff54\nsignature:\n  alg: rsassa\n  sig: 0102\npcrs:\n  sha1:\n  sha256:\n    \
             0 : 0x{}\n    7 : 0x{}\ncalcDigest: 00\n",
            hex0.to_uppercase(),
            hex7
        );
        assert_eq!(pcrs_from_yaml(&yaml)?, want);
        assert!(pcrs_from_yaml("not: pcrs\n").is_err());
        assert!(pcrs_from_json(&json!({"MD5": {"0": "00"}})).is_err());
        Ok(())
    }

    #[test]
    fn maa_pcrs_groups_by_bank_in_order() {
        let values = vec![
            (HashAlg::Sha256, 5, vec![5u8; 32]),
            (HashAlg::Sha1, 0, vec![0u8; 20]),
            (HashAlg::Sha256, 1, vec![1u8; 32]),
        ];
        let pcrs = maa_pcrs(&values);
        assert_eq!(pcrs[0]["algorithm"], 11);
        assert_eq!(pcrs[0]["values"][0]["index"], 1);
        assert_eq!(pcrs[0]["values"][1]["index"], 5);
        assert_eq!(pcrs[1]["algorithm"], 4);
        assert_eq!(pcrs_from_json(&pcrs).map(|v| v.len()).ok(), Some(3));
    }

    #[test]
    fn the_request_carries_the_jwk_text_the_binding_hashes() -> Result<()> {
        let key = SigningKey::generate_rsa(attesto_jose::RsaBits::B2048)?;
        let challenge = Challenge {
            challenge: vec![1, 2, 3],
            service_context: "ctx".to_owned(),
            jwk_text: jwk_text(&key)?,
        };
        let jws = request_jws(&key, &challenge, json!({"quote": "AA"}), Some("cnA"))?;
        let parsed = attesto_jose::Jws::parse(&jws)?;
        assert_eq!(parsed.header().typ.as_deref(), Some("attReqV2"));
        let payload = std::str::from_utf8(parsed.payload())?;
        assert!(payload.contains(&format!("\"jwk\":{}", challenge.jwk_text)));
        let value: Value = serde_json::from_str(payload)?;
        assert_eq!(value["att_type"], "basic");
        assert_eq!(value["att_data"]["challenge"], "AQID");
        assert_eq!(value["att_data"]["service_context"], "ctx");
        assert_eq!(value["att_data"]["rp_data"], "cnA");
        assert_eq!(
            value["att_data"]["request_key"]["info"]["tpm_quote"]["hash_alg"],
            "sha-256"
        );
        assert_eq!(
            challenge.qualifying_data(),
            HashAlg::Sha256.digest_parts(&[challenge.jwk_text.as_bytes(), &[0], &[1, 2, 3]])
        );
        Ok(())
    }
}
