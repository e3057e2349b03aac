//! Persisted state survives SIGKILL: the real `attesto serve` binary is killed in the middle of a
//! stream of policy and policy-signer writes, restarted on the same data directory, and every
//! write it acknowledged must be there, with the store intact.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use attesto_jose::{Algorithm, Header, SigningCertificateParams, SigningKey, maa, sign_jws};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rustls_pki_types::UnixTime;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_attesto");

struct Signer {
    key: SigningKey,
    der: Vec<u8>,
}

fn signer(name: &str) -> Result<Signer> {
    let key = SigningKey::generate_ec_p256()?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?;
    let der = attesto_jose::self_signed_certificate(
        &key,
        &SigningCertificateParams {
            issuer: name.to_owned(),
            not_before: UnixTime::since_unix_epoch(now - Duration::from_secs(3600)),
            not_after: UnixTime::since_unix_epoch(now + Duration::from_secs(86_400)),
            extensions: Vec::new(),
        },
    )?;
    Ok(Signer { key, der })
}

fn pem(der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .filter_map(|c| std::str::from_utf8(c).ok())
        .collect();
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        lines.join("\n")
    )
}

fn signed(signer: &Signer, payload: &str) -> Result<String> {
    let mut header = Header::new(Algorithm::Es256);
    header.x5c = Some(vec![STANDARD.encode(&signer.der)]);
    Ok(sign_jws(&header, payload.as_bytes(), &signer.key)?)
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

struct Server {
    child: Child,
    base: String,
    admin_token: Option<String>,
}

fn start(data_dir: &std::path::Path) -> Result<Server> {
    let port = free_port()?;
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(data_dir)
        .env("ATTESTO_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let stderr = child.stderr.take().context("stderr")?;
    let mut lines = BufReader::new(stderr).lines();
    let mut admin_token = None;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if Instant::now() > deadline {
            bail!("server did not report serving in time");
        }
        let Some(line) = lines.next() else {
            bail!("server exited: {:?}", child.wait());
        };
        let line = line?;
        if let Some(token) = line.split("keep it): ").nth(1) {
            admin_token = Some(token.trim().to_owned());
        }
        if line.contains("TLS CA certificate") {
            break;
        }
    }
    // Keep draining stderr so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Ok(Server {
        child,
        base: format!("https://localhost:{port}"),
        admin_token,
    })
}

fn client(data_dir: &std::path::Path) -> Result<reqwest::Client> {
    let ca = std::fs::read(data_dir.join("tls/ca.pem"))?;
    Ok(reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&ca)?])
        .timeout(Duration::from_secs(10))
        .build()?)
}

async fn call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    admin: &str,
    body: Option<String>,
) -> Result<(u16, Value)> {
    let mut request = client.request(method, url).bearer_auth(admin);
    if let Some(body) = body {
        request = request.body(body);
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    let value = response.json().await.unwrap_or(Value::Null);
    Ok((status, value))
}

fn payload_of(token: &str) -> Result<Value> {
    let jws = attesto_jose::Jws::parse(token)?;
    Ok(serde_json::from_slice(jws.payload())?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_sigkill() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let first = signer("first signer")?;
    std::fs::write(dir.path().join("first.pem"), pem(&first.der))?;
    let status = Command::new(BIN)
        .args([
            "provider",
            "create",
            "iso",
            "--trust-model",
            "isolated",
            "--signer",
        ])
        .arg(dir.path().join("first.pem"))
        .arg("--data-dir")
        .arg(&data)
        .status()?;
    ensure!(status.success(), "provider create failed");

    let mut admin = None;
    let mut acked_policy: Option<u64> = None;
    let mut acked_signers: Vec<Vec<u8>> = vec![first.der.clone()];
    let mut sequence = 0u64;
    for round in 0..3 {
        let mut server = start(&data)?;
        if admin.is_none() {
            admin = server.admin_token.clone();
        }
        let admin = admin.clone().context("admin token from the first start")?;
        let client = client(&data)?;
        let q = "?api-version=2022-08-01";
        let iso = format!("{}/providers/iso", server.base);

        // What the previous incarnation acknowledged is all there.
        let (status, value) = call(
            &client,
            reqwest::Method::GET,
            &format!("{iso}/policies/SgxEnclave{q}"),
            &admin,
            None,
        )
        .await?;
        ensure!(status == 200, "round {round}: get policy {status} {value}");
        let stored = payload_of(value["token"].as_str().context("token")?)?["x-ms-policy"]
            .as_str()
            .context("x-ms-policy")?
            .to_owned();
        let text = maa::decode_stored_policy(attesto_jose::Jws::parse(&stored)?.payload())?.text;
        if let Some(acked) = acked_policy {
            let marker: u64 = text
                .split("marker-")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .and_then(|n| n.parse().ok())
                .with_context(|| format!("round {round}: stored policy has no marker: {text}"))?;
            ensure!(
                marker >= acked,
                "round {round}: policy {marker} older than acknowledged {acked}"
            );
        }
        let (status, value) = call(
            &client,
            reqwest::Method::GET,
            &format!("{iso}/certificates{q}"),
            &admin,
            None,
        )
        .await?;
        ensure!(status == 200, "round {round}: certificates {status}");
        let keys = payload_of(value["token"].as_str().context("token")?)?["x-ms-policy-certificates"]["keys"].clone();
        let present: Vec<Vec<u8>> = keys
            .as_array()
            .context("keys")?
            .iter()
            .filter_map(|k| k["x5c"][0].as_str())
            .filter_map(|b| STANDARD.decode(b).ok())
            .collect();
        for der in &acked_signers {
            ensure!(
                present.contains(der),
                "round {round}: an acknowledged signer is missing"
            );
        }

        // A stream of writes, killed at an arbitrary moment.
        let kill_after = Duration::from_millis(300 + 250 * round);
        let started = Instant::now();
        while started.elapsed() < kill_after {
            sequence += 1;
            let text = format!(
                "version=1.0; authorizationrules{{=> permit();}}; issuancerules{{=> issue(type=\"marker\", value=\"marker-{sequence}\");}};"
            );
            let body = signed(&first, &maa::stored_policy_payload(&text))?;
            let (status, _) = call(
                &client,
                reqwest::Method::PUT,
                &format!("{iso}/policies/SgxEnclave{q}"),
                &admin,
                Some(body),
            )
            .await?;
            ensure!(status == 200, "policy write {sequence}: {status}");
            acked_policy = Some(sequence);

            let new = signer(&format!("signer {sequence}"))?;
            let payload =
                json!({"policyCertificate": {"kty": "EC", "x5c": [STANDARD.encode(&new.der)]}})
                    .to_string();
            let body = format!("\"{}\"", signed(&first, &payload)?);
            let (status, _) = call(
                &client,
                reqwest::Method::POST,
                &format!("{iso}/certificates:add{q}"),
                &admin,
                Some(body),
            )
            .await?;
            ensure!(status == 200, "signer write {sequence}: {status}");
            acked_signers.push(new.der);
        }
        server.child.kill()?; // SIGKILL
        let _ = server.child.wait();
    }
    ensure!(sequence >= 3, "only {sequence} writes happened");

    // A last start proves the store opens cleanly after the final kill.
    let mut server = start(&data)?;
    let client = client(&data)?;
    let health = client.get(format!("{}/health", server.base)).send().await?;
    ensure!(health.status() == 200);
    server.child.kill()?;
    let _ = server.child.wait();
    Ok(())
}
