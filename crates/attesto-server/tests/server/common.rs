//! Starts a real server on an ephemeral port with offline collateral and a pinned clock, and
//! gives tests an HTTPS client that trusts its generated CA.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use attesto_server::clock::FixedClock;
use attesto_server::config::{CollateralSourceKind, Config};
use attesto_server::{RunningServer, ServerBuilder};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::Value;

/// The repository's `testdata` folder.
pub fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata")
}

/// A running server and a client for it.
pub struct TestServer {
    pub server: RunningServer,
    pub client: reqwest::Client,
    pub base: String,
    _dir: tempfile::TempDir,
}

/// Options for [`start`].
#[derive(Default)]
pub struct Options {
    /// Collateral bundles (dcap-qvl JSON) the offline source serves.
    pub collateral: Vec<String>,
    /// Extra trusted quote root (a test PKI).
    pub extra_root: Option<Vec<u8>>,
    /// Body limit override.
    pub max_body_bytes: Option<usize>,
    /// Administrator authentication settings.
    pub admin: Option<attesto_server::auth::AdminConfig>,
}

/// TPM settings for [`start_with_tpm`].
#[derive(Default)]
pub struct TpmOptions {
    /// TPM AIK roots (DER), written to files and named in `[tpm] roots`.
    pub tpm_roots: Vec<Vec<u8>>,
    /// TPM intermediates (DER), likewise in `[tpm] intermediates`.
    pub tpm_intermediates: Vec<Vec<u8>>,
    /// Test overrides of the TPM protocol (fixed challenge, unbound request key).
    pub tpm_hooks: Option<attesto_server::routes::tpm::TestHooks>,
    /// A clock to use instead of one pinned at `at_secs` (tests that move time).
    pub clock: Option<Arc<dyn attesto_server::Clock>>,
}

pub async fn start(at_secs: u64, options: Options) -> Result<TestServer> {
    start_with_tpm(at_secs, options, TpmOptions::default()).await
}

/// [`start`] with TPM settings.
pub async fn start_with_tpm(at_secs: u64, options: Options, tpm: TpmOptions) -> Result<TestServer> {
    let dir = tempfile::tempdir()?;
    let offline = dir.path().join("collateral");
    std::fs::create_dir_all(&offline)?;
    for (i, json) in options.collateral.iter().enumerate() {
        std::fs::write(offline.join(format!("bundle-{i}.json")), json)?;
    }
    let mut config = Config {
        listen: "127.0.0.1:0".parse()?,
        data_dir: dir.path().join("data"),
        ..Config::default()
    };
    config.collateral.source = CollateralSourceKind::Offline;
    config.collateral.offline_dir = Some(offline);
    if let Some(limit) = options.max_body_bytes {
        config.max_body_bytes = limit;
    }
    if let Some(admin) = options.admin {
        config.admin = admin;
    }
    for (list, ders, name) in [
        (&mut config.tpm.roots, &tpm.tpm_roots, "tpm-root"),
        (
            &mut config.tpm.intermediates,
            &tpm.tpm_intermediates,
            "tpm-intermediate",
        ),
    ] {
        for (i, der) in ders.iter().enumerate() {
            let path = dir.path().join(format!("{name}-{i}.der"));
            std::fs::write(&path, der)?;
            list.push(path);
        }
    }
    let clock = tpm
        .clock
        .unwrap_or_else(|| Arc::new(FixedClock::at(at_secs)));
    let mut builder = ServerBuilder::new(config).clock(clock);
    if let Some(root) = options.extra_root {
        builder = builder.extra_quote_root(root);
    }
    if let Some(hooks) = tpm.tpm_hooks {
        builder = builder.tpm_test_hooks(hooks);
    }
    let server = builder.start().await?;
    let ca = std::fs::read(server.ca_file().context("generated CA file")?)?;
    let client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&ca)?])
        .build()?;
    let base = server.issuer().to_owned();
    Ok(TestServer {
        server,
        client,
        base,
        _dir: dir,
    })
}

impl TestServer {
    pub async fn post(&self, path: &str, body: impl Into<reqwest::Body>) -> Result<(u16, Value)> {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await?;
        let status = response.status().as_u16();
        let text = response.text().await?;
        let value = serde_json::from_str(&text)
            .with_context(|| format!("response is not JSON ({status}): {text}"))?;
        Ok((status, value))
    }

    pub async fn get(&self, path: &str) -> Result<(u16, Value)> {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await?;
        let status = response.status().as_u16();
        let value = response.json().await?;
        Ok((status, value))
    }

    /// Verifies `token` with jsonwebtoken (independent of attesto-jose) against `/certs`.
    pub async fn verify_token(&self, token: &str) -> Result<Value> {
        self.verify_token_at("", token).await
    }

    /// Verifies `token` against the `/certs` of the provider at `prefix` (e.g.
    /// `/providers/x`), whose issuer is the base URL plus `prefix`.
    pub async fn verify_token_at(&self, prefix: &str, token: &str) -> Result<Value> {
        let issuer = format!("{}{prefix}", self.base);
        let header = jsonwebtoken::decode_header(token)?;
        let kid = header.kid.context("token header has no kid")?;
        let (status, jwks) = self.get(&format!("{prefix}/certs")).await?;
        if status != 200 {
            bail!("/certs answered {status}");
        }
        let key = jwks["keys"]
            .as_array()
            .context("keys")?
            .iter()
            .find(|k| k["kid"] == kid.as_str())
            .context("no /certs key with the token's kid")?;
        assert_eq!(key["kty"], "RSA");
        let cert_der = STANDARD.decode(key["x5c"][0].as_str().context("x5c")?)?;
        let (_, cert) = x509_parser::parse_x509_certificate(&cert_der)?;
        let rsa_public = cert.public_key().subject_public_key.data.to_vec();
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        // The server's clock is pinned in the past; check the times against each other instead.
        validation.validate_exp = false;
        validation.set_required_spec_claims(&["iss", "exp", "nbf", "iat"]);
        validation.set_issuer(&[issuer.as_str()]);
        let data = jsonwebtoken::decode::<Value>(
            token,
            &jsonwebtoken::DecodingKey::from_rsa_der(&rsa_public),
            &validation,
        )?;
        let h = data.header;
        assert_eq!(h.typ.as_deref(), Some("JWT"));
        assert_eq!(h.jku.as_deref(), Some(format!("{issuer}/certs").as_str()));
        assert!(h.x5c.is_none(), "MAA never puts x5c in the token header");
        Ok(data.claims)
    }
}

pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Reads a quote file that may be binary or hex text.
pub fn read_quote(path: &Path) -> Result<Vec<u8>> {
    let bytes = std::fs::read(path)?;
    let text = String::from_utf8_lossy(&bytes);
    let trimmed = text.trim();
    if !trimmed.is_empty() && trimmed.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(hex::decode(trimmed)?)
    } else {
        Ok(bytes)
    }
}
