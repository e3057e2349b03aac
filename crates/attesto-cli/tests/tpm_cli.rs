//! `attesto tpm` with the real binary: `replay` on the real logs of testdata/tpm, and `attest`
//! against `attesto serve` with a real software TPM (swtpm, driven by tpm2-tools), both from
//! the TPM directly and from files made by tpm2-tools after `attesto tpm challenge`.
//!
//! The software TPM test needs Debian's `swtpm`, `swtpm-tools` and `tpm2-tools` (installed by
//! scripts/test.sh) and fails, saying so, when they are missing.

use std::io::{BufRead as _, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use base64::Engine as _;
use serde_json::{Value, json};

fn testdata(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/tpm")
        .join(relative)
}

fn attesto(dir: &Path, args: &[&str]) -> Result<Output> {
    Ok(Command::new(env!("CARGO_BIN_EXE_attesto"))
        .args(args)
        .current_dir(dir)
        .env_remove("ATTESTO_CONFIG")
        .output()?)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn path_str(path: &Path) -> Result<&str> {
    path.to_str().context("UTF-8 path")
}

// ---- replay ------------------------------------------------------------------------------------

#[test]
fn every_go_tpm_tools_log_replays_to_its_expected_pcrs() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let expected: Value = serde_json::from_slice(&std::fs::read(testdata(
        "go-tpm-tools-eventlogs/expected_pcrs.json",
    ))?)?;
    let cases = expected.as_object().context("cases")?;
    ensure!(cases.len() == 14, "{} cases", cases.len());
    for (name, case) in cases {
        let log = testdata(&format!(
            "go-tpm-tools-eventlogs/{}",
            case["file"].as_str().context("file")?
        ));
        let pcrs = dir.path().join(format!("{name}.json"));
        std::fs::write(&pcrs, case.to_string())?;
        let out = attesto(
            dir.path(),
            &["tpm", "replay", path_str(&log)?, "--pcrs", path_str(&pcrs)?],
        )?;
        let count: usize = case["pcrs"]
            .as_object()
            .context("pcrs")?
            .values()
            .filter_map(Value::as_object)
            .map(serde_json::Map::len)
            .sum();
        ensure!(
            out.status.code() == Some(0)
                && text(&out.stderr).contains(&format!("all {count} expected PCR values match")),
            "{name}: {:?}\n{}\n{}",
            out.status,
            text(&out.stdout),
            text(&out.stderr)
        );
        for bank in case["pcrs"].as_object().context("pcrs")?.values() {
            for value in bank.as_object().context("bank")?.values() {
                let value = value.as_str().context("hex")?;
                ensure!(
                    text(&out.stdout).contains(&format!("{value}  ok")),
                    "{name}: {value} not printed as ok"
                );
            }
        }
    }

    // One value off: exit 1, the PCR named.
    let (name, case) = cases.iter().next().context("a case")?;
    let mut altered = case.clone();
    let bank = altered["pcrs"]["SHA1"]
        .as_object_mut()
        .context("SHA1 values")?;
    bank.insert("4".to_owned(), Value::from("00".repeat(20)));
    let pcrs = dir.path().join("altered.json");
    std::fs::write(&pcrs, altered.to_string())?;
    let log = testdata(&format!(
        "go-tpm-tools-eventlogs/{}",
        case["file"].as_str().context("file")?
    ));
    let out = attesto(
        dir.path(),
        &["tpm", "replay", path_str(&log)?, "--pcrs", path_str(&pcrs)?],
    )?;
    ensure!(
        out.status.code() == Some(1)
            && text(&out.stderr).contains("MISMATCH PCR 4 (SHA-1)")
            && text(&out.stdout).contains("  MISMATCH"),
        "{name}: {:?} {}",
        out.status,
        text(&out.stderr)
    );
    Ok(())
}

#[test]
fn replay_prints_events_and_json_that_reads_back_as_a_pcr_file() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let log = testdata("go-tpm-tools-gce-cos85/eventlog.bin");
    let out = attesto(dir.path(), &["tpm", "replay", path_str(&log)?])?;
    ensure!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    ensure!(
        stdout.starts_with("TCG event log, crypto-agile, 45 events, banks SHA-1, SHA-256, SHA-384"),
        "{stdout}"
    );
    ensure!(
        stdout.contains("EV_EFI_VARIABLE_DRIVER_CONFIG")
            && stdout.contains("8BE4DF61-93CA-11D2-AA0D-00E098032B8C SecureBoot = 01")
            && stdout.contains("\"GCE Virtual Firmware v1\""),
        "{stdout}"
    );

    let out = attesto(dir.path(), &["tpm", "replay", path_str(&log)?, "--json"])?;
    ensure!(out.status.success(), "{}", text(&out.stderr));
    let document: Value = serde_json::from_slice(&out.stdout)?;
    // The quoted SHA-256 PCR 0 of the recorded GCE attestation.
    let decoded: Value = serde_json::from_slice(&std::fs::read(testdata(
        "go-tpm-tools-gce-cos85/gce-cos-85-nonce9009.decoded.json",
    ))?)?;
    let quoted = decoded["quotes"]
        .as_array()
        .context("quotes")?
        .iter()
        .find(|q| q["pcrs"]["hash"] == 11)
        .context("SHA-256 quote")?;
    assert_eq!(document["pcrs"]["SHA256"]["0"], quoted["pcrs"]["pcrs"]["0"]);
    assert_eq!(document["events"].as_array().map(Vec::len), Some(45));
    assert_eq!(
        document["events"][3]["type"],
        "EV_EFI_VARIABLE_DRIVER_CONFIG"
    );

    let pcrs = dir.path().join("replayed.json");
    std::fs::write(&pcrs, &out.stdout)?;
    let out = attesto(
        dir.path(),
        &["tpm", "replay", path_str(&log)?, "--pcrs", path_str(&pcrs)?],
    )?;
    ensure!(
        out.status.success() && text(&out.stderr).contains("all 30 expected PCR values match"),
        "{}",
        text(&out.stderr)
    );
    Ok(())
}

#[test]
fn broken_logs_fail_cleanly_and_edge_cases_parse() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let log = std::fs::read(testdata("go-tpm-tools-gce-cos85/eventlog.bin"))?;
    let cut = dir.path().join("cut.bin");
    std::fs::write(&cut, log.get(..300).context("300 bytes")?)?;
    let out = attesto(dir.path(), &["tpm", "replay", path_str(&cut)?])?;
    ensure!(
        out.status.code() == Some(2) && text(&out.stderr).contains("truncated"),
        "{:?} {}",
        out.status,
        text(&out.stderr)
    );
    for name in [
        "coreos_36_shielded_vm_no_secure_boot_eventlog",
        "crypto_agile_eventlog",
        "ebs_event_missing_eventlog",
        "option_rom_eventlog",
        "sb_cert_eventlog",
        "short_no_action_eventlog",
    ] {
        let path = testdata(&format!("go-attestation-eventlogs/{name}"));
        let out = attesto(dir.path(), &["tpm", "replay", path_str(&path)?])?;
        ensure!(out.status.success(), "{name}: {}", text(&out.stderr));
    }
    let out = attesto(
        dir.path(),
        &[
            "tpm",
            "replay",
            path_str(&testdata(
                "go-attestation-eventlogs/short_no_action_eventlog",
            ))?,
        ],
    )?;
    ensure!(
        text(&out.stdout).contains("StartupLocality 3"),
        "{}",
        text(&out.stdout)
    );
    Ok(())
}

// ---- a software TPM ----------------------------------------------------------------------------

const TOOLS: [&str; 10] = [
    "swtpm",
    "swtpm_setup",
    "tpm2_createek",
    "tpm2_createak",
    "tpm2_evictcontrol",
    "tpm2_flushcontext",
    "tpm2_pcrextend",
    "tpm2_quote",
    "tpm2_readpublic",
    "tpm2_pcrread",
];
const AK_HANDLE: &str = "0x81010002";
const ALL_PCRS: &str = "sha256:0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23";

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(tool).is_file()))
}

/// A port nobody listens on right now.
fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Two consecutive free ports.
fn free_port_pair() -> Result<(u16, u16)> {
    for _ in 0..50 {
        let port = free_port()?;
        if let Some(next) = port.checked_add(1)
            && std::net::TcpListener::bind(("127.0.0.1", next)).is_ok()
        {
            return Ok((port, next));
        }
    }
    bail!("no two consecutive free ports")
}

/// A child process killed (by its own handle) when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// swtpm listening on a TCP port, manufactured with an EK and a SHA-256 bank.
struct SwTpm {
    _process: Killed,
    tcti: String,
}

fn start_swtpm(dir: &Path) -> Result<SwTpm> {
    let state = dir.join("tpm-state");
    std::fs::create_dir_all(&state)?;
    let setup = Command::new("swtpm_setup")
        .args([
            "--tpm2",
            "--tpmstate",
            path_str(&state)?,
            "--createek",
            "--pcr-banks",
            "sha256",
            "--overwrite",
        ])
        .output()?;
    ensure!(
        setup.status.success(),
        "swtpm_setup: {}{}",
        text(&setup.stdout),
        text(&setup.stderr)
    );
    // The swtpm TCTI expects the control channel on the next port.
    let (port, ctrl) = free_port_pair()?;
    let process = Killed(
        Command::new("swtpm")
            .args([
                "socket",
                "--tpm2",
                "--tpmstate",
                &format!("dir={}", path_str(&state)?),
                "--server",
                &format!("type=tcp,port={port},bindaddr=127.0.0.1"),
                "--ctrl",
                &format!("type=tcp,port={ctrl},bindaddr=127.0.0.1"),
                "--flags",
                "not-need-init,startup-clear",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting swtpm")?,
    );
    for _ in 0..100 {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(SwTpm {
                _process: process,
                tcti: format!("swtpm:host=127.0.0.1,port={port}"),
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("swtpm did not listen on port {port}")
}

impl SwTpm {
    fn run(&self, dir: &Path, tool: &str, args: &[&str]) -> Result<String> {
        let out = Command::new(tool)
            .args(args)
            .current_dir(dir)
            .env("TPM2TOOLS_TCTI", &self.tcti)
            .output()
            .with_context(|| format!("running {tool}"))?;
        ensure!(
            out.status.success(),
            "{tool} {args:?}: {}",
            text(&out.stderr)
        );
        Ok(text(&out.stdout))
    }

    /// Without a resource manager every transient object and session must be flushed.
    fn flush(&self, dir: &Path) -> Result<()> {
        self.run(dir, "tpm2_flushcontext", &["-t"])?;
        self.run(dir, "tpm2_flushcontext", &["-s"])?;
        Ok(())
    }
}

fn sha256(data: &[u8]) -> Vec<u8> {
    attesto_tpm::HashAlg::Sha256.digest(data)
}

fn utf16(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// Each measurement of a log: (PCR, SHA-256 digest).
type Extends = Vec<(u32, Vec<u8>)>;

/// A crypto-agile log with a SHA-256 bank, and what it extends.
fn firmware_log() -> Result<(Vec<u8>, Extends)> {
    let mut spec = b"Spec ID Event03\0".to_vec();
    spec.extend_from_slice(&0u32.to_le_bytes()); // platform class: client
    spec.extend_from_slice(&[0, 2, 0, 2]); // version 2.0, errata 0, UINTN 64-bit
    spec.extend_from_slice(&1u32.to_le_bytes());
    spec.extend_from_slice(&0x000bu16.to_le_bytes());
    spec.extend_from_slice(&32u16.to_le_bytes());
    spec.push(0); // no vendor info
    let mut log = Vec::new();
    log.extend_from_slice(&0u32.to_le_bytes());
    log.extend_from_slice(&3u32.to_le_bytes()); // EV_NO_ACTION
    log.extend_from_slice(&[0u8; 20]);
    log.extend_from_slice(&u32::try_from(spec.len())?.to_le_bytes());
    log.extend_from_slice(&spec);

    let mut secure_boot = vec![
        0x61, 0xdf, 0xe4, 0x8b, 0xca, 0x93, 0xd2, 0x11, 0xaa, 0x0d, 0x00, 0xe0, 0x98, 0x03, 0x2b,
        0x8c,
    ];
    secure_boot.extend_from_slice(&10u64.to_le_bytes());
    secure_boot.extend_from_slice(&1u64.to_le_bytes());
    secure_boot.extend_from_slice(&utf16("SecureBoot"));
    secure_boot.push(1);
    // (PCR, type, data, digest of what was measured)
    let mut events: Vec<(u32, u32, Vec<u8>, Vec<u8>)> = vec![
        (0, 0x8, utf16("attesto test firmware\0"), Vec::new()),
        (7, 0x8000_0001, secure_boot, Vec::new()),
    ];
    for pcr in 0..8 {
        events.push((pcr, 0x4, vec![0; 4], Vec::new()));
    }
    events.push((
        4,
        0x8000_0007,
        b"Calling EFI Application from Boot Option".to_vec(),
        Vec::new(),
    ));
    events.push((
        4,
        0x8000_0003,
        vec![0x42; 40],
        sha256(b"an EFI application image"),
    ));
    let mut extends = Vec::new();
    for (pcr, kind, data, digest) in events {
        let digest = if digest.is_empty() {
            sha256(&data)
        } else {
            digest
        };
        log.extend_from_slice(&pcr.to_le_bytes());
        log.extend_from_slice(&kind.to_le_bytes());
        log.extend_from_slice(&1u32.to_le_bytes());
        log.extend_from_slice(&0x000bu16.to_le_bytes());
        log.extend_from_slice(&digest);
        log.extend_from_slice(&u32::try_from(data.len())?.to_le_bytes());
        log.extend_from_slice(&data);
        extends.push((pcr, digest));
    }
    Ok((log, extends))
}

/// A test CA and a certificate for the AK's public key (PEM SubjectPublicKeyInfo).
fn ak_certificate(ak_pem: &str) -> Result<(Vec<u8>, Vec<u8>)> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
        SubjectPublicKeyInfo,
    };
    let root_key = KeyPair::generate()?;
    let mut root = CertificateParams::default();
    root.distinguished_name
        .push(DnType::CommonName, "attesto swtpm test root");
    root.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    root.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let root_cert = root.self_signed(&root_key)?;
    let issuer = Issuer::new(root, root_key);
    let mut leaf = CertificateParams::default();
    leaf.distinguished_name.push(DnType::CommonName, "swtpm AK");
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let ak_cert = leaf.signed_by(&SubjectPublicKeyInfo::from_pem(ak_pem)?, &issuer)?;
    Ok((root_cert.der().to_vec(), ak_cert.der().to_vec()))
}

/// A running `attesto serve`, killed when dropped.
struct Server {
    _process: Killed,
    endpoint: String,
    ca_file: PathBuf,
    _lines: mpsc::Receiver<String>,
}

fn serve(dir: &Path, tpm_root: &Path) -> Result<Server> {
    let port = free_port()?;
    let offline = dir.join("collateral");
    std::fs::create_dir_all(&offline)?;
    let config = dir.join("attesto.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:{port}\"\ndata_dir = {}\n[collateral]\nsource = \"offline\"\n\
             offline_dir = {}\n[tpm]\nroots = [{}]\n",
            json!(path_str(&dir.join("data"))?),
            json!(path_str(&offline)?),
            json!(path_str(tpm_root)?),
        ),
    )?;
    let mut child = Command::new(env!("CARGO_BIN_EXE_attesto"))
        .args(["serve", "--config", path_str(&config)?])
        .current_dir(dir)
        .env_remove("ATTESTO_CONFIG")
        .env("ATTESTO_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let stderr = child.stderr.take().context("stderr")?;
    let process = Killed(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            let _ = tx.send(line);
        }
    });
    let mut seen = Vec::new();
    let ca_file = loop {
        let Ok(line) = rx.recv_timeout(Duration::from_secs(120)) else {
            bail!("attesto serve did not start:\n{}", seen.join("\n"));
        };
        if let Some(ca) = line
            .strip_prefix("attesto: TLS CA certificate: ")
            .and_then(|rest| rest.split(" (").next())
        {
            break PathBuf::from(ca);
        }
        seen.push(line);
    };
    Ok(Server {
        _process: process,
        endpoint: format!("https://localhost:{port}"),
        ca_file,
        _lines: rx,
    })
}

impl Server {
    /// `attesto tpm <command> --endpoint E --ca-file CA` plus `args`.
    fn tpm(&self, dir: &Path, command: &str, args: &[&str]) -> Result<Output> {
        let mut all = vec![
            "tpm",
            command,
            "--endpoint",
            &self.endpoint,
            "--ca-file",
            path_str(&self.ca_file)?,
        ];
        all.extend_from_slice(args);
        attesto(dir, &all)
    }
}

fn claims(out: &Output) -> Result<Value> {
    ensure!(
        out.status.success(),
        "{:?}\n{}",
        out.status,
        text(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).with_context(|| text(&out.stdout))
}

fn pkcs8_pem(der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
    for line in b64.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str("-----END PRIVATE KEY-----\n");
    pem
}

#[test]
fn a_software_tpm_attests_through_the_protocol() -> Result<()> {
    let missing: Vec<&str> = TOOLS.into_iter().filter(|t| !on_path(t)).collect();
    ensure!(
        missing.is_empty(),
        "this test needs a software TPM, and {missing:?} are not installed: install Debian's \
         swtpm, swtpm-tools and tpm2-tools (scripts/test.sh does: apt-get install -y swtpm \
         swtpm-tools tpm2-tools)"
    );
    let dir = tempfile::tempdir()?;
    let d = dir.path();
    let tpm = start_swtpm(d)?;

    // An AK, persisted so later tools (and attesto) can name it by handle.
    tpm.run(
        d,
        "tpm2_createek",
        &["-c", "ek.ctx", "-G", "rsa", "-u", "ek.pub"],
    )?;
    tpm.flush(d)?;
    tpm.run(
        d,
        "tpm2_createak",
        &[
            "-C", "ek.ctx", "-c", "ak.ctx", "-G", "rsa", "-g", "sha256", "-s", "rsassa", "-u",
            "ak.pem", "-f", "pem", "-n", "ak.name",
        ],
    )?;
    tpm.flush(d)?;
    tpm.run(
        d,
        "tpm2_evictcontrol",
        &["-C", "o", "-c", "ak.ctx", AK_HANDLE],
    )?;
    tpm.flush(d)?;

    // "Boot": measure the events of a firmware log into the TPM.
    let (log, extends) = firmware_log()?;
    std::fs::write(d.join("log.bin"), &log)?;
    for (pcr, digest) in &extends {
        tpm.run(
            d,
            "tpm2_pcrextend",
            &[&format!("{pcr}:sha256={}", hex::encode(digest))],
        )?;
    }
    // The log replays to what the TPM holds.
    let pcrread = tpm.run(d, "tpm2_pcrread", &[ALL_PCRS])?;
    std::fs::write(d.join("pcrread.yaml"), &pcrread)?;
    let out = attesto(d, &["tpm", "replay", "log.bin", "--pcrs", "pcrread.yaml"])?;
    ensure!(
        out.status.success(),
        "replay vs TPM: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );

    let ak_pem = std::fs::read_to_string(d.join("ak.pem"))?;
    let (root_der, ak_der) = ak_certificate(&ak_pem)?;
    std::fs::write(d.join("tpm-root.der"), &root_der)?;
    std::fs::write(d.join("ak.der"), &ak_der)?;
    let server = serve(d, &d.join("tpm-root.der"))?;

    // From the TPM: challenge, tpm2_quote, request, report.
    let from_tpm = [
        "--tpm",
        "--tcti",
        &tpm.tcti,
        "--ak",
        AK_HANDLE,
        "--event-log",
        "log.bin",
        "--rp-data",
        "cnBkYXRh",
        "--claims",
    ];
    let mut args = from_tpm.to_vec();
    args.extend(["--aik-cert", "ak.der"]);
    let report = claims(&server.tpm(d, "attest", &args)?)?;
    assert_eq!(report["x-ms-attestation-type"], "tpm");
    assert_eq!(report["aikValidated"], true);
    assert_eq!(report["secureBootEnabled"], true);
    assert_eq!(report["tpmVersion"], 2);
    assert_eq!(report["rp_data"], "cnBkYXRh");
    assert_eq!(
        report["x-ms-tpm-request-key"]["info"],
        json!({"tpm_quote": {"hash_alg": "sha-256"}})
    );
    assert_eq!(report["cnf"]["jwk"], report["x-ms-tpm-request-key"]["jwk"]);

    // Without a certificate the AK key comes from the TPM, and the default policy wants one.
    let out = server.tpm(d, "attest", &from_tpm)?;
    ensure!(
        out.status.code() == Some(2)
            && text(&out.stderr).contains("a valid AIK certificate is required"),
        "{:?} {}",
        out.status,
        text(&out.stderr)
    );

    // From files: the challenge, then tpm2_quote by hand, then the request.
    let key = attesto_jose::SigningKey::generate_rsa(attesto_jose::RsaBits::B2048)?;
    std::fs::write(d.join("key.pem"), pkcs8_pem(key.pkcs8_der()))?;
    let challenge = |out: &str| -> Result<String> {
        let output = server.tpm(d, "challenge", &["--request-key", "key.pem", "--out", out])?;
        ensure!(output.status.success(), "{}", text(&output.stderr));
        let qualifying = text(&output.stdout).trim().to_owned();
        ensure!(qualifying.len() == 64, "{qualifying}");
        Ok(qualifying)
    };
    let quote = |qualifying: &str| -> Result<()> {
        let yaml = tpm.run(
            d,
            "tpm2_quote",
            &[
                "-c",
                AK_HANDLE,
                "-l",
                ALL_PCRS,
                "-q",
                qualifying,
                "-m",
                "quote.msg",
                "-s",
                "quote.sig",
                "-g",
                "sha256",
                "-o",
                "pcrs.bin",
                "-F",
                "values",
            ],
        )?;
        std::fs::write(d.join("quote.yaml"), yaml)?;
        Ok(())
    };
    let from_files = |context: &str, log: &str| -> Result<Output> {
        server.tpm(
            d,
            "attest",
            &[
                "--context",
                context,
                "--request-key",
                "key.pem",
                "--quote",
                "quote.msg",
                "--signature",
                "quote.sig",
                "--pcrs",
                "quote.yaml",
                "--event-log",
                log,
                "--aik-cert",
                "ak.der",
                "--aik-pub",
                "ak.pem",
                "--claims",
            ],
        )
    };
    quote(&challenge("ctx.json")?)?;
    let report = claims(&from_files("ctx.json", "log.bin")?)?;
    assert_eq!(report["aikValidated"], true);
    assert_eq!(report["secureBootEnabled"], true);
    let jwk = serde_json::to_value(attesto_jose::Jwk::from_public_key(key.public_key()))?;
    assert_eq!(report["cnf"]["jwk"], jwk);

    // The same context again: refused.
    let out = from_files("ctx.json", "log.bin")?;
    ensure!(
        out.status.code() == Some(2) && text(&out.stderr).contains("already used"),
        "{}",
        text(&out.stderr)
    );

    // A log whose SecureBoot measurement was altered: refused.
    let mut altered = log.clone();
    let secure_boot_digest = &extends.get(1).context("event")?.1;
    let at = altered
        .windows(32)
        .position(|w| w == secure_boot_digest.as_slice())
        .context("digest in the log")?;
    *altered.get_mut(at).context("byte")? ^= 0x01;
    std::fs::write(d.join("altered.bin"), &altered)?;
    quote(&challenge("ctx2.json")?)?;
    let out = from_files("ctx2.json", "altered.bin")?;
    ensure!(
        out.status.code() == Some(2)
            && text(&out.stderr).contains("InvalidEvidence")
            && text(&out.stderr).contains("PCR 7"),
        "{}",
        text(&out.stderr)
    );
    Ok(())
}
