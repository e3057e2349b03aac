//! Issue 6 end to end with the real binary: `attesto serve --trust-test-root`, `attesto genquote
//! --simulate`, `attesto validate`, and the exit statuses a script relies on.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use serde_json::Value;

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

fn code(out: &Output) -> Option<i32> {
    out.status.code()
}

fn path_str(path: &Path) -> Result<&str> {
    path.to_str().context("UTF-8 path")
}

/// A running `attesto serve`, killed when dropped.
struct Server {
    child: Child,
    endpoint: String,
    ca_file: PathBuf,
    /// Keeps the stderr reader alive (it drains the pipe so the server never blocks on it).
    _lines: mpsc::Receiver<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nobody listens on right now.
fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Starts `attesto serve` on `port` trusting `root`, with `collateral` as offline source, and
/// waits until it says it is serving.
fn serve(dir: &Path, port: u16, data_dir: &Path, root: &Path, collateral: &Path) -> Result<Server> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_attesto"))
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
            path_str(data_dir)?,
            "--trust-test-root",
            path_str(root)?,
        ])
        .current_dir(dir)
        .env_remove("ATTESTO_CONFIG")
        .env("ATTESTO_COLLATERAL__SOURCE", "offline")
        .env("ATTESTO_COLLATERAL__OFFLINE_DIR", collateral)
        .env("ATTESTO_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let stderr = child.stderr.take().context("stderr")?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            // Once nobody listens, sending fails; keep draining so the server never blocks.
            let _ = tx.send(line);
        }
    });
    // `serve` prints "attesto: serving ..." and then the generated CA's path.
    let mut seen = Vec::new();
    let ca_file = loop {
        match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(line) => {
                if let Some(ca) = line
                    .strip_prefix("attesto: TLS CA certificate: ")
                    .and_then(|rest| rest.split(" (").next())
                {
                    break PathBuf::from(ca);
                }
                seen.push(line);
            }
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                bail!("attesto serve did not start:\n{}", seen.join("\n"));
            }
        }
    };
    let server = Server {
        child,
        endpoint: format!("https://localhost:{port}"),
        ca_file,
        _lines: rx,
    };
    ensure!(
        server.ca_file.is_file(),
        "no CA file {}",
        server.ca_file.display()
    );
    Ok(server)
}

/// `attesto validate FILE --endpoint E --ca-file CA` plus `extra`.
fn validate(dir: &Path, server: &Server, file: &Path, extra: &[&str]) -> Result<Output> {
    let mut args = vec![
        "validate",
        path_str(file)?,
        "--endpoint",
        &server.endpoint,
        "--ca-file",
        path_str(&server.ca_file)?,
    ];
    args.extend_from_slice(extra);
    attesto(dir, &args)
}

/// The report's `<label> : True|False` lines (not the parameters banner's "Including details"
/// line, nor indented detail lines such as `    We think   : False`).
fn results(stdout: &str) -> Vec<(String, bool)> {
    stdout
        .lines()
        .filter(|line| !line.starts_with("Including details") && !line.starts_with(' '))
        .filter_map(|line| {
            let (label, result) = line.rsplit_once(": ")?;
            let passed = match result {
                "True" => true,
                "False" => false,
                _ => return None,
            };
            Some((label.trim_end().to_owned(), passed))
        })
        .collect()
}

fn failed(stdout: &str) -> Vec<String> {
    results(stdout)
        .into_iter()
        .filter(|(_, passed)| !passed)
        .map(|(label, _)| label)
        .collect()
}

/// The token's claims (payload, base64url).
fn claims(token: &str) -> Result<Value> {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).context("payload")?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload)?;
    Ok(serde_json::from_slice(&bytes)?)
}

struct Simulation {
    dir: tempfile::TempDir,
    root: PathBuf,
    collateral: PathBuf,
}

impl Simulation {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `attesto genquote --simulate --out <name>` plus `extra`, in the simulation's directory.
    fn genquote(&self, name: &str, extra: &[&str]) -> Result<Output> {
        let out = self.path(name);
        let mut args = vec!["genquote", "--simulate", "--out", path_str(&out)?];
        args.extend_from_slice(extra);
        attesto(self.dir.path(), &args)
    }
}

/// A directory where `genquote --simulate` made its PKI and collateral (default locations).
fn simulation() -> Result<Simulation> {
    let dir = tempfile::tempdir()?;
    let sim = Simulation {
        root: dir.path().join("attesto-sim/pki/test-root-ca.crt.pem"),
        collateral: dir.path().join("attesto-sim/collateral"),
        dir,
    };
    let out = sim.genquote("enclave.info.json", &[])?;
    ensure!(code(&out) == Some(0), "{}", text(&out.stderr));
    ensure!(text(&out.stdout).contains("JSON file created:"));
    ensure!(sim.root.is_file() && sim.collateral.is_dir());
    Ok(sim)
}

#[test]
fn simulated_enclave_validates_all_true_and_mismatches_fail() -> Result<()> {
    let sim = simulation()?;
    let port = free_port()?;
    let server = serve(
        sim.dir.path(),
        port,
        &sim.path("data-a"),
        &sim.root,
        &sim.collateral,
    )?;
    let file = sim.path("enclave.info.json");

    // All true, exit 0, token saved.
    let token_path = sim.path("token.txt");
    let out = validate(
        sim.dir.path(),
        &server,
        &file,
        &["--token-out", path_str(&token_path)?],
    )?;
    let stdout = text(&out.stdout);
    ensure!(code(&out) == Some(0), "{stdout}\n{}", text(&out.stderr));
    let lines = results(&stdout);
    ensure!(
        lines.len() == 11 && lines.iter().all(|(_, ok)| *ok),
        "{stdout}"
    );
    for label in [
        "JWT JKU location validation",
        "JWT signature validation",
        "JWT issuer claim validation",
        "JWT signing cert issuer validation",
        "IsDebuggable match",
        "MRENCLAVE match",
        "MRSIGNER match",
        "ProductID match",
        "Security Version match",
        "Enclave Held Data match",
    ] {
        ensure!(
            lines.iter().any(|(l, _)| l == label),
            "{label} missing:\n{stdout}"
        );
    }
    let token = std::fs::read_to_string(&token_path)?;
    let claims = claims(&token)?;
    ensure!(claims["x-attesto-non-intel-roots"] == Value::Bool(true));
    ensure!(claims["iss"] == server.endpoint.as_str());
    ensure!(claims["x-ms-sgx-mrenclave"] == hex::encode([0xE1u8; 32]));

    // Details show both sides.
    let out = validate(sim.dir.path(), &server, &file, &["--include-details"])?;
    ensure!(code(&out) == Some(0));
    ensure!(text(&out.stdout).contains(&format!(
        "MRENCLAVE match                    : True\n    We think   : {0}\n    MAA service: {0}\n",
        hex::encode([0xE1u8; 32])
    )));

    // A file claiming another MRENCLAVE than its quote: that line False, exit 1.
    let original = std::fs::read_to_string(&file)?;
    let claimed = |byte: u8| format!("\"MrEnclaveHex\": \"{}\"", hex::encode_upper([byte; 32]));
    let edited = original.replace(&claimed(0xE1), &claimed(0xE2));
    ensure!(edited != original);
    let edited_path = sim.path("edited.json");
    std::fs::write(&edited_path, edited)?;
    let out = validate(sim.dir.path(), &server, &edited_path, &[])?;
    ensure!(code(&out) == Some(1), "{}", text(&out.stdout));
    ensure!(
        failed(&text(&out.stdout)) == ["MRENCLAVE match"],
        "{}",
        text(&out.stdout)
    );

    // Other held data than the quote binds: the quote is attested alone, the token carries no
    // such held data, and that line is False (exit 1).
    let edited = original.replace(
        "\"EnclaveHeldDataHex\": \"010203040506\"",
        "\"EnclaveHeldDataHex\": \"010203040507\"",
    );
    ensure!(edited != original);
    std::fs::write(&edited_path, edited)?;
    let out = validate(sim.dir.path(), &server, &edited_path, &[])?;
    ensure!(code(&out) == Some(1), "{}", text(&out.stdout));
    ensure!(
        failed(&text(&out.stdout)) == ["Enclave Held Data match"],
        "{}",
        text(&out.stdout)
    );

    // The same server under another name is another issuer: exit 2.
    let out = attesto(
        sim.dir.path(),
        &[
            "validate",
            path_str(&file)?,
            "--endpoint",
            &format!("https://127.0.0.1:{port}"),
            "--ca-file",
            path_str(&server.ca_file)?,
        ],
    )?;
    ensure!(code(&out) == Some(2), "{}", text(&out.stdout));
    ensure!(
        failed(&text(&out.stdout))
            == ["JWT JKU location validation", "JWT issuer claim validation"],
        "{}",
        text(&out.stdout)
    );

    // The saved token still checks out against this server's keys.
    let out = validate(
        sim.dir.path(),
        &server,
        &file,
        &["--token", path_str(&token_path)?],
    )?;
    ensure!(code(&out) == Some(0), "{}", text(&out.stdout));

    // Restart with a new data directory: another signing key behind the same URL. The token
    // issued by the old key is no longer vouched for (exit 2); a new one is fine.
    drop(server);
    let server = serve(
        sim.dir.path(),
        port,
        &sim.path("data-b"),
        &sim.root,
        &sim.collateral,
    )?;
    let out = validate(
        sim.dir.path(),
        &server,
        &file,
        &["--token", path_str(&token_path)?],
    )?;
    ensure!(
        code(&out) == Some(2),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    ensure!(
        failed(&text(&out.stdout)).contains(&"JWT signature validation".to_owned()),
        "{}",
        text(&out.stdout)
    );
    let out = validate(sim.dir.path(), &server, &file, &[])?;
    ensure!(code(&out) == Some(0), "{}", text(&out.stdout));

    // The Open Enclave variant goes to attest/OpenEnclave; debug and product flags carry over.
    let out = sim.genquote(
        "oe.json",
        &[
            "--format",
            "oe",
            "--debug",
            "--isv-prod-id",
            "9999",
            "--isv-svn",
            "8888",
        ],
    )?;
    ensure!(code(&out) == Some(0), "{}", text(&out.stderr));
    let oe = std::fs::read_to_string(sim.path("oe.json"))?;
    ensure!(oe.contains("\"Attributes\": 3,") && oe.contains("\"SecurityVersion\": 8888,"));
    ensure!(oe.contains("\"ProductIdHex\": \"0F270000000000000000000000000000\""));
    let out = validate(sim.dir.path(), &server, &sim.path("oe.json"), &[])?;
    ensure!(
        code(&out) == Some(0),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );

    Ok(())
}

#[test]
fn simulated_files_have_the_samples_shape() -> Result<()> {
    let sim = simulation()?;
    let json = std::fs::read_to_string(sim.path("enclave.info.json"))?;
    let keys: Vec<&str> = json
        .lines()
        .filter_map(|line| line.trim().strip_prefix('"')?.split('"').next())
        .collect();
    ensure!(
        keys == [
            "Type",
            "MrEnclaveHex",
            "MrSignerHex",
            "ProductIdHex",
            "SecurityVersion",
            "Attributes",
            "QuoteHex",
            "EnclaveHeldDataHex"
        ],
        "{keys:?}"
    );
    ensure!(json.starts_with("{\n  \"Type\": 2,\n") && json.ends_with("\"\n}\n"));
    ensure!(json.contains("\"EnclaveHeldDataHex\": \"010203040506\""));
    ensure!(
        json.contains("\"Attributes\": 5,"),
        "release by default: INIT|MODE64BIT"
    );
    let value: Value = serde_json::from_str(&json)?;
    let quote = value["QuoteHex"].as_str().context("QuoteHex")?;
    ensure!(quote.starts_with("03000200") && quote.chars().all(|c| !c.is_ascii_lowercase()));

    // Nothing trusts the test PKI by default: `attesto quote verify` (Intel's root only)
    // refuses the simulated quote even with its own collateral.
    let raw = sim.path("quote.bin");
    let out = sim.genquote("quote.bin", &["--format", "raw"])?;
    ensure!(code(&out) == Some(0), "{}", text(&out.stderr));
    let collateral = std::fs::read_dir(&sim.collateral)?
        .next()
        .context("a collateral file")??
        .path();
    let out = attesto(
        sim.dir.path(),
        &[
            "quote",
            "verify",
            path_str(&raw)?,
            "--collateral",
            path_str(&collateral)?,
        ],
    )?;
    ensure!(
        code(&out) == Some(1),
        "a test-PKI quote must not verify under Intel's root"
    );
    Ok(())
}

#[test]
fn genquote_reads_gramine_and_keys() -> Result<()> {
    let sim = simulation()?;
    // A Gramine tree whose quote binds the default held data.
    let out = sim.genquote("quote.bin", &["--format", "raw"])?;
    ensure!(code(&out) == Some(0), "{}", text(&out.stderr));
    let gramine = sim.path("gramine");
    std::fs::create_dir(&gramine)?;
    std::fs::write(gramine.join("attestation_type"), "dcap")?;
    std::fs::copy(sim.path("quote.bin"), gramine.join("quote"))?;
    let out = attesto(
        sim.dir.path(),
        &[
            "genquote",
            "--gramine-root",
            path_str(&gramine)?,
            "--out",
            "g.json",
        ],
    )?;
    ensure!(code(&out) == Some(0), "{}", text(&out.stderr));
    ensure!(std::fs::read(gramine.join("user_report_data"))?.len() == 64);
    let g: Value = serde_json::from_str(&std::fs::read_to_string(sim.path("g.json"))?)?;
    ensure!(g["QuoteHex"] == hex::encode_upper(std::fs::read(sim.path("quote.bin"))?));

    // Other held data than the quote binds: refused.
    let out = attesto(
        sim.dir.path(),
        &[
            "genquote",
            "--gramine-root",
            path_str(&gramine)?,
            "--ehd-hex",
            "00",
            "--out",
            "x.json",
        ],
    )?;
    ensure!(
        code(&out) == Some(2) && text(&out.stderr).contains("report data"),
        "{}",
        text(&out.stderr)
    );

    // The OE sample's enclave key as held data: the same 512 bytes the sample wrote.
    let sample = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/maa-sample/sgx.attest.sample.oe.sdk/genquotes/quotes/enclave.info.release.json");
    let sample: Value = serde_json::from_str(&std::fs::read_to_string(sample)?)?;
    let ehd_hex = sample["EnclaveHeldDataHex"].as_str().context("EHD")?;
    let ehd = hex::decode(ehd_hex)?;
    let pem: Vec<u8> = ehd.iter().copied().take_while(|&b| b != 0).collect();
    std::fs::write(sim.path("key.pem"), &pem)?;
    let out = sim.genquote("k.json", &["--format", "oe", "--ehd-key", "key.pem"])?;
    ensure!(code(&out) == Some(0), "{}", text(&out.stderr));
    let k: Value = serde_json::from_str(&std::fs::read_to_string(sim.path("k.json"))?)?;
    ensure!(k["EnclaveHeldDataHex"] == ehd_hex);
    Ok(())
}

#[test]
fn bad_input_and_unreachable_services_have_their_own_exit_statuses() -> Result<()> {
    let sim = simulation()?;
    let file = sim.path("enclave.info.json");
    let port = free_port()?;
    let endpoint = format!("https://127.0.0.1:{port}");

    let out = attesto(
        sim.dir.path(),
        &["validate", "missing.json", "--endpoint", &endpoint],
    )?;
    ensure!(code(&out) == Some(4), "{}", text(&out.stderr));
    std::fs::write(sim.path("broken.json"), "{\"Type\": 2}")?;
    let out = attesto(
        sim.dir.path(),
        &["validate", "broken.json", "--endpoint", &endpoint],
    )?;
    ensure!(code(&out) == Some(4) && text(&out.stderr).contains("MrEnclaveHex"));
    let out = attesto(
        sim.dir.path(),
        &["validate", path_str(&file)?, "--endpoint", "ftp://x"],
    )?;
    ensure!(code(&out) == Some(4), "{}", text(&out.stderr));

    // Nobody listens on the port.
    let out = attesto(
        sim.dir.path(),
        &["validate", path_str(&file)?, "--endpoint", &endpoint],
    )?;
    ensure!(code(&out) == Some(3), "{}", text(&out.stderr));

    // Simulation flags need --simulate; bad measurements are refused.
    let out = attesto(sim.dir.path(), &["genquote", "--out", "x.json", "--debug"])?;
    ensure!(code(&out) == Some(2) && text(&out.stderr).contains("--simulate"));
    let out = sim.genquote("x.json", &["--mrenclave", "abcd"])?;
    ensure!(code(&out) == Some(2) && text(&out.stderr).contains("--mrenclave"));
    Ok(())
}

/// The hook `serve` uses inside a TEE, driven by a simulated enclave: the published signing
/// certificate carries a quote binding its key, and `validate --check-signing-cert-quote`
/// verifies it (with the simulation's root; Intel's alone refuses it).
#[test]
fn the_signing_certificate_can_carry_the_services_quote() -> Result<()> {
    use std::sync::Arc;

    use attesto_client::evidence::{SimulatedEnclave, SimulatedIdentity, dcap_quote_for_key_hash};
    use attesto_server::ServerBuilder;
    use attesto_server::config::{CollateralSourceKind, Config};

    let sim = simulation()?;
    let pki = attesto_client::evidence::load_or_create_pki(&sim.path("attesto-sim/pki"))?;
    let service_enclave = SimulatedEnclave::new(
        pki,
        SimulatedIdentity {
            mrenclave: [0x5E; 32],
            ..SimulatedIdentity::default()
        },
        rustls_pki_types::UnixTime::now(),
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let server = runtime.block_on(async {
        let mut config = Config {
            listen: "127.0.0.1:0".parse()?,
            data_dir: sim.path("data"),
            ..Config::default()
        };
        config.collateral.source = CollateralSourceKind::Offline;
        config.collateral.offline_dir = Some(sim.collateral.clone());
        config.trust.extra_quote_roots = vec![sim.root.clone()];
        let source = service_enclave.clone();
        ServerBuilder::new(config)
            .signing_cert_quote(Arc::new(move |hash: &[u8; 32]| {
                dcap_quote_for_key_hash(&source, hash).ok().flatten()
            }))
            .start()
            .await
    })?;
    let ca = server.ca_file().context("generated CA")?.to_path_buf();
    let base = [
        "validate",
        "enclave.info.json",
        "--endpoint",
        server.issuer(),
        "--ca-file",
        path_str(&ca)?,
        "--check-signing-cert-quote",
        "--include-details",
    ];

    let mut args = base.to_vec();
    args.extend(["--trust-test-root", path_str(&sim.root)?]);
    let out = attesto(sim.dir.path(), &args)?;
    let stdout = text(&out.stdout);
    ensure!(code(&out) == Some(0), "{stdout}\n{}", text(&out.stderr));
    ensure!(
        stdout.contains("Signing cert quote validation      : True\n"),
        "{stdout}"
    );
    ensure!(
        stdout.contains(&format!(
            "    Enclave ID                     : {}\n",
            hex::encode_upper([0x5Eu8; 32])
        )),
        "{stdout}"
    );

    let out = attesto(sim.dir.path(), &base)?;
    ensure!(code(&out) == Some(2), "{}", text(&out.stdout));
    ensure!(failed(&text(&out.stdout)) == ["Signing cert quote validation"]);
    runtime.block_on(server.shutdown());
    Ok(())
}
