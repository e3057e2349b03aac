//! Load benchmark: attests/s and latency percentiles of the real server (optimized build, HTTPS
//! on loopback, real Intel SGX quote and collateral, warm caches), side by side with the raw
//! cryptographic limit of the same machine measured in the same process: one RSA-2048 PKCS#1
//! signature plus two ECDSA P-256 verifications per attestation.
//!
//! Run: `cargo bench -p attesto-server --bench load` (options: `ATTESTO_LOAD_SECS`,
//! `ATTESTO_LOAD_CONCURRENCY`).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use attesto_server::ServerBuilder;
use attesto_server::clock::FixedClock;
use attesto_server::config::{CollateralSourceKind, Config};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair};
use base64::Engine as _;

const VERIFY_TIME: u64 = 1_751_328_000;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Operations per second of "1 RSA-2048 sign + 2 ECDSA P-256 verifies" on `threads` threads.
fn crypto_limit(threads: usize, duration: Duration) -> Result<f64> {
    let rsa_pkcs8 = attesto_jose::SigningKey::generate_rsa(attesto_jose::RsaBits::B2048)?
        .pkcs8_der()
        .to_vec();
    let rsa = Arc::new(RsaKeyPair::from_pkcs8(&rsa_pkcs8).map_err(|e| anyhow::anyhow!("{e}"))?);
    let rng = SystemRandom::new();
    let ec_pkcs8 = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let ec = EcdsaKeyPair::from_pkcs8(
        &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        ec_pkcs8.as_ref(),
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let message = vec![0x5a_u8; 1024];
    let ec_sig = ec
        .sign(&rng, &message)
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .as_ref()
        .to_vec();
    let ec_public = Arc::new(ec.public_key().as_ref().to_vec());
    let ec_sig = Arc::new(ec_sig);
    let message = Arc::new(message);
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (rsa, ec_public, ec_sig, message, stop, count) = (
                Arc::clone(&rsa),
                Arc::clone(&ec_public),
                Arc::clone(&ec_sig),
                Arc::clone(&message),
                Arc::clone(&stop),
                Arc::clone(&count),
            );
            std::thread::spawn(move || {
                let rng = SystemRandom::new();
                let mut sig = vec![0u8; rsa.public_modulus_len()];
                let verifier = signature::UnparsedPublicKey::new(
                    &signature::ECDSA_P256_SHA256_FIXED,
                    &*ec_public,
                );
                while !stop.load(Ordering::Relaxed) {
                    let _ = rsa.sign(&signature::RSA_PKCS1_SHA256, &rng, &message, &mut sig);
                    let _ = verifier.verify(&message, &ec_sig);
                    let _ = verifier.verify(&message, &ec_sig);
                    count.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    std::thread::sleep(duration);
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        let _ = worker.join();
    }
    Ok(count.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64())
}

struct LoadResult {
    rate: f64,
    p50: Duration,
    p99: Duration,
    errors: u64,
}

async fn load(concurrency: usize, duration: Duration) -> Result<LoadResult> {
    let testdata = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/dcap/phala-dcap-qvl");
    let dir = tempfile::tempdir()?;
    let offline = dir.path().join("collateral");
    std::fs::create_dir_all(&offline)?;
    std::fs::copy(
        testdata.join("sgx_quote_collateral.json"),
        offline.join("sgx.json"),
    )?;
    let mut config = Config {
        listen: "127.0.0.1:0".parse()?,
        data_dir: dir.path().join("data"),
        ..Config::default()
    };
    config.collateral.source = CollateralSourceKind::Offline;
    config.collateral.offline_dir = Some(offline);
    let server = ServerBuilder::new(config)
        .clock(Arc::new(FixedClock::at(VERIFY_TIME)))
        .start()
        .await?;
    let ca = std::fs::read(server.ca_file().context("CA file")?)?;
    let client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&ca)?])
        .pool_max_idle_per_host(concurrency)
        // One keep-alive connection per worker, as wrk and most load generators do; with HTTP/2
        // every request would share one connection and its single TLS stream.
        .http1_only()
        .build()?;
    let quote = std::fs::read(testdata.join("sgx_quote"))?;
    let body = serde_json::json!({
        "quote": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&quote)
    })
    .to_string();
    let url = format!(
        "{}/attest/SgxEnclave?api-version=2022-08-01",
        server.issuer()
    );

    // Warm up: collateral cache, PCK chain cache, connections.
    for _ in 0..20 {
        let response = client.post(&url).body(body.clone()).send().await?;
        ensure!(
            response.status() == 200,
            "warm-up failed: {}",
            response.text().await?
        );
        let _ = response.bytes().await?;
    }

    let deadline = Instant::now() + duration;
    let started = Instant::now();
    // Like wrk: each worker keeps one HTTP/1.1 keep-alive connection and writes a pre-built
    // request, so the load generator spends as little of the shared CPU as it can.
    let connector = tls_connector(&ca)?;
    let port = server.local_addr().port();
    let request = Arc::new(
        format!(
            "POST /attest/SgxEnclave?api-version=2022-08-01 HTTP/1.1\r\nHost: localhost:{port}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    );
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (connector, request) = (connector.clone(), Arc::clone(&request));
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            let Ok(mut stream) = connect(&connector, port).await else {
                return (latencies, 1);
            };
            let mut buffer = Vec::with_capacity(16 * 1024);
            while Instant::now() < deadline {
                let begin = Instant::now();
                match exchange(&mut stream, &request, &mut buffer).await {
                    Ok(200) => latencies.push(begin.elapsed()),
                    _ => errors += 1,
                }
            }
            (latencies, errors)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (mut l, e) = task.await?;
        latencies.append(&mut l);
        errors += e;
    }
    let elapsed = started.elapsed();
    server.shutdown().await;
    latencies.sort();
    let pick = |q: f64| {
        let index = ((latencies.len() as f64 - 1.0) * q).round() as usize;
        latencies.get(index).copied().unwrap_or_default()
    };
    Ok(LoadResult {
        rate: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50: pick(0.50),
        p99: pick(0.99),
        errors,
    })
}

type TlsStream = tokio_rustls::client::TlsStream<tokio::net::TcpStream>;

fn tls_connector(ca_pem: &[u8]) -> Result<tokio_rustls::TlsConnector> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem) {
        roots.add(cert?)?;
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

async fn connect(connector: &tokio_rustls::TlsConnector, port: u16) -> Result<TlsStream> {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    tcp.set_nodelay(true)?;
    let name = rustls_pki_types::ServerName::try_from("localhost")?;
    Ok(connector.connect(name, tcp).await?)
}

/// Writes one request and reads its response; returns the status code.
async fn exchange(stream: &mut TlsStream, request: &[u8], buffer: &mut Vec<u8>) -> Result<u16> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream.write_all(request).await?;
    buffer.clear();
    let mut chunk = [0u8; 8192];
    loop {
        let n = stream.read(&mut chunk).await?;
        anyhow::ensure!(n > 0, "connection closed");
        buffer.extend_from_slice(&chunk[..n]);
        let Some(head_end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = std::str::from_utf8(&buffer[..head_end])?;
        let status: u16 = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .context("status line")?;
        let length: usize = head
            .lines()
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().ok())
                    .flatten()
            })
            .context("content-length")?;
        if buffer.len() >= head_end + 4 + length {
            return Ok(status);
        }
    }
}

fn main() -> Result<()> {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing useful. Run a short
    // smoke pass under test so CI proves the harness works without spending minutes on it.
    let smoke = !std::env::args().any(|a| a == "--bench");
    let secs = if smoke {
        1
    } else {
        env_u64("ATTESTO_LOAD_SECS", 10)
    };
    let concurrency = usize::try_from(env_u64("ATTESTO_LOAD_CONCURRENCY", 32))?;
    let threads = std::thread::available_parallelism().map_or(1, usize::from);

    let limit = crypto_limit(threads, Duration::from_secs(secs.min(3)))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()?;
    let result = runtime.block_on(load(concurrency, Duration::from_secs(secs)))?;
    println!("machine: {threads} hardware threads; concurrency {concurrency}; {secs} s");
    println!(
        "raw crypto limit (RSA-2048 sign + 2x ECDSA P-256 verify, {threads} threads): {limit:.0} attests/s"
    );
    println!(
        "attesto over HTTPS (server and load generator share the machine): {:.0} attests/s, p50 {:.2} ms, p99 {:.2} ms, errors {}",
        result.rate,
        result.p50.as_secs_f64() * 1e3,
        result.p99.as_secs_f64() * 1e3,
        result.errors
    );
    println!("ratio to the crypto limit: {:.2}", result.rate / limit);
    ensure!(result.errors == 0, "{} requests failed", result.errors);
    Ok(())
}
