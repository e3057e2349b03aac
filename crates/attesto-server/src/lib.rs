//! The attesto service: Microsoft Azure Attestation's data-plane API over HTTPS.
//!
//! This crate is an edge: it parses HTTP, reads the clock, talks to the store and the
//! collateral sources, and hands bytes to the pure cores (`attesto-quote`, `attesto-policy`,
//! `attesto-provider`, `attesto-jose`) for everything that decides an outcome.
//!
//! ```text
//! POST /attest/{type} ─► provider::request::parse ─► collateral cache (store, PCS/PCCS/offline)
//!   ─► Verifier::verify ─► provider::claims ─► policy evaluate ─► token payload ─► RS256 JWT
//! GET /certs, /.well-known/openid-configuration, /health, /metrics, /openapi.json
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod auth;
pub mod clock;
pub mod config;
pub mod error;
mod fsutil;
pub mod metrics;
pub mod openapi;
pub mod providers;
pub mod routes;
pub mod state;
pub mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use attesto_collateral::{CollateralCache, CollateralSource};
use attesto_quote::{TrustAnchors, Verifier};
use attesto_store::Store;
use axum_server::Handle;
use axum_server::tls_rustls::RustlsConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

pub use clock::{Clock, SystemClock};
pub use config::Config;

use crate::auth::Authenticator;
use crate::metrics::Metrics;
use crate::providers::Providers;
use crate::state::{AppState, Policies};

/// How long in-flight requests get to finish after a shutdown signal.
const GRACEFUL_SHUTDOWN: Duration = Duration::from_secs(10);

/// Produces a TEE quote whose report data starts with the given 32 bytes, or `None` when none
/// can be had. See [`ServerBuilder::signing_cert_quote`].
pub type SigningCertQuoteProvider = Arc<dyn Fn(&[u8; 32]) -> Option<Vec<u8>> + Send + Sync>;

/// Builds a service from a [`Config`].
pub struct ServerBuilder {
    config: Config,
    clock: Arc<dyn Clock>,
    collateral_source: Option<Arc<dyn CollateralSource>>,
    extra_roots_der: Vec<Vec<u8>>,
    signing_cert_quote: Option<SigningCertQuoteProvider>,
    tpm_hooks: routes::tpm::TestHooks,
}

impl ServerBuilder {
    /// A builder using the system clock and the configured collateral source.
    #[must_use]
    pub fn new(config: Config) -> Self {
        ServerBuilder {
            config,
            clock: Arc::new(SystemClock),
            collateral_source: None,
            extra_roots_der: Vec::new(),
            signing_cert_quote: None,
            tpm_hooks: routes::tpm::TestHooks::default(),
        }
    }

    /// When the service runs inside a TEE: `provider` is asked for a quote over SHA-256 of each
    /// new signing key's PEM text plus NUL, and the signing certificate published in `/certs`
    /// carries it under OID 1.3.6.1.4.1.311.105.1, so relying parties can check where the
    /// service runs. Without a quote the certificate has no such extension.
    #[must_use]
    pub fn signing_cert_quote(mut self, provider: SigningCertQuoteProvider) -> Self {
        self.signing_cert_quote = Some(provider);
        self
    }

    /// Pins the clock. Only tests can call this: the `test-clock` feature is enabled solely by
    /// this crate's own dev-dependency, so no released binary contains it.
    #[cfg(feature = "test-clock")]
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Overrides parts of the TPM protocol so recorded quotes can be replayed through it. Only
    /// tests can call this (see [`ServerBuilder::clock`]).
    #[cfg(feature = "test-clock")]
    #[must_use]
    pub fn tpm_test_hooks(mut self, hooks: routes::tpm::TestHooks) -> Self {
        self.tpm_hooks = hooks;
        self
    }

    /// Uses `source` instead of the configured collateral source.
    #[must_use]
    pub fn collateral_source(mut self, source: Arc<dyn CollateralSource>) -> Self {
        self.collateral_source = Some(source);
        self
    }

    /// Trusts `root_der` for quote verification in addition to Intel's root (tests, simulation).
    /// Tokens then carry `x-attesto-non-intel-roots: true`.
    #[must_use]
    pub fn extra_quote_root(mut self, root_der: Vec<u8>) -> Self {
        self.extra_roots_der.push(root_der);
        self
    }

    /// Opens the store, loads or creates identities, binds the listener and starts serving.
    ///
    /// # Errors
    /// Anything that prevents a correct start: unreadable data directory, bad TLS material,
    /// a port in use, an invalid trust anchor.
    pub async fn start(self) -> Result<RunningServer> {
        let ServerBuilder {
            config,
            clock,
            collateral_source,
            mut extra_roots_der,
            signing_cert_quote,
            tpm_hooks,
        } = self;
        config.validate()?;
        // Certificates (TLS, token signing) are dated by the real clock: clients check them
        // against theirs, whatever time verification is pinned to.
        let wall = SystemClock.now();
        // Bind first: with port 0 the issuer must name the port actually bound.
        let listener = std::net::TcpListener::bind(config.listen)
            .with_context(|| format!("binding {}", config.listen))?;
        listener.set_nonblocking(true)?;
        let local_addr = listener.local_addr()?;
        let issuer = config.issuer_for_port(local_addr.port());

        let data_dir = config.data_dir.clone();
        let kek = config.store.kek_source()?;
        let store = tokio::task::spawn_blocking(move || Store::open_with(&data_dir, kek))
            .await
            .context("store task")?
            .with_context(|| format!("opening store in {}", config.data_dir.display()))?;

        let providers = {
            let store = store.clone();
            let issuer = issuer.clone();
            let lifetime = config.token_lifetime();
            tokio::task::spawn_blocking(move || {
                let providers = Providers::load(store, issuer, lifetime, signing_cert_quote)?;
                // Create the default provider's signing key now rather than on first request.
                providers.get(providers::DEFAULT_PROVIDER, wall)?;
                Ok::<_, anyhow::Error>(providers)
            })
            .await
            .context("provider task")??
        };
        let (auth, initial_admin_token) = Authenticator::load(&config.data_dir, &config.admin)?;

        for path in &config.trust.extra_quote_roots {
            extra_roots_der.push(read_certificate(path)?);
        }
        let non_intel_roots = !extra_roots_der.is_empty();
        let mut anchors = TrustAnchors::intel();
        for der in &extra_roots_der {
            anchors = anchors.with_root(der).context("extra quote trust anchor")?;
        }
        if non_intel_roots {
            tracing::warn!(
                count = extra_roots_der.len(),
                "trusting quote roots other than Intel's; tokens will say so"
            );
        }
        let verifier = Verifier::with_trust_anchors(anchors.clone());
        let tpm = {
            let roots = (config.tpm.roots.iter())
                .map(|path| read_certificate(path))
                .collect::<Result<Vec<_>>>()?;
            let intermediates = (config.tpm.intermediates.iter())
                .map(|path| read_certificate(path))
                .collect::<Result<Vec<_>>>()?;
            routes::tpm::TpmState::new(&config.tpm, &roots, intermediates, tpm_hooks)?
        };

        let source = match collateral_source {
            Some(source) => source,
            None => routes::collateral_source_from(&config)?,
        };
        let collateral = Arc::new(
            CollateralCache::new(
                source,
                Some(store.clone()),
                attesto_collateral::CacheOptions {
                    // Fetched collateral must verify before it can replace a cached copy.
                    verify_with: Some(anchors),
                    ..routes::cache_options(&config)
                },
            )
            .context("collateral cache")?,
        );
        {
            let clock = Arc::clone(&clock);
            Arc::clone(&collateral).spawn_refresher(move || clock.now());
        }

        let state = AppState {
            config: Arc::new(config.clone()),
            issuer: Arc::from(issuer.as_str()),
            clock,
            store,
            providers: Arc::new(providers),
            auth: Arc::new(auth),
            verifier: Arc::new(verifier),
            non_intel_roots,
            collateral,
            prepared: Arc::new(state::PreparedCollateral::default()),
            collateral_keys: Arc::new(state::CollateralKeys::default()),
            policies: Arc::new(Policies::default()),
            tpm: Arc::new(tpm),
            metrics: Metrics::new(),
        };
        let app = routes::router(state.clone());

        let handle: Handle<SocketAddr> = Handle::new();
        let service = app.into_make_service_with_connect_info::<SocketAddr>();

        let (scheme, ca_file) = if config.insecure_http {
            tracing::warn!("serving plain HTTP (insecure_http); use only behind a TLS proxy");
            let server = axum_server::from_tcp(listener)?.handle(handle.clone());
            tokio::spawn(async move {
                if let Err(error) = server.serve(service).await {
                    tracing::error!(%error, "server stopped");
                }
            });
            ("http", None)
        } else {
            let material = match (&config.tls.cert, &config.tls.key) {
                (Some(cert), Some(key)) => tls::load_configured(cert, key)?,
                _ => {
                    let hosts = vec![host_of(&issuer), config.listen.ip().to_string()];
                    let ca_file = config.data_dir.join("tls").join("ca.pem");
                    let store = state.store.clone();
                    tokio::task::spawn_blocking(move || {
                        tls::load_or_generate(&store, &ca_file, &hosts, wall)
                    })
                    .await
                    .context("TLS task")??
                }
            };
            let rustls = RustlsConfig::from_config(Arc::new(rustls_config(&material)?));
            let server =
                axum_server::tls_rustls::from_tcp_rustls(listener, rustls)?.handle(handle.clone());
            tokio::spawn(async move {
                if let Err(error) = server.serve(service).await {
                    tracing::error!(%error, "server stopped");
                }
            });
            ("https", material.ca_file)
        };

        let local_url = format!("{scheme}://{}", display_addr(local_addr));
        tracing::info!(listen = %local_addr, issuer = %issuer, "attesto is serving");
        Ok(RunningServer {
            initial_admin_token,
            local_addr,
            local_url,
            issuer,
            ca_file,
            handle,
            state,
        })
    }
}

/// A started service.
pub struct RunningServer {
    initial_admin_token: Option<String>,
    local_addr: SocketAddr,
    local_url: String,
    issuer: String,
    ca_file: Option<PathBuf>,
    handle: Handle<SocketAddr>,
    state: AppState,
}

impl RunningServer {
    /// The bound address (useful with port 0).
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `https://127.0.0.1:<port>` (or `http://`), for clients on this machine.
    #[must_use]
    pub fn local_url(&self) -> &str {
        &self.local_url
    }

    /// The token issuer.
    #[must_use]
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The generated CA clients should trust, if the service generated its TLS certificate.
    #[must_use]
    pub fn ca_file(&self) -> Option<&std::path::Path> {
        self.ca_file.as_deref()
    }

    /// The administrator token generated at this (first) start, to show the operator once.
    /// `None` on later starts: only its hash is kept.
    #[must_use]
    pub fn initial_admin_token(&self) -> Option<&str> {
        self.initial_admin_token.as_deref()
    }

    /// Shared state, for tests that inspect metrics or the store.
    #[must_use]
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Stops accepting connections and waits up to 10 s for in-flight requests.
    pub async fn shutdown(self) {
        self.handle.graceful_shutdown(Some(GRACEFUL_SHUTDOWN));
        while self.handle.connection_count() > 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Serves until SIGINT or SIGTERM, then shuts down gracefully.
    pub async fn run_until_signal(self) {
        shutdown_signal().await;
        tracing::info!("shutting down");
        self.shutdown().await;
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

fn rustls_config(material: &tls::TlsMaterial) -> Result<rustls::ServerConfig> {
    let certs = CertificateDer::pem_slice_iter(material.cert_chain_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .context("TLS certificate PEM")?;
    if certs.is_empty() {
        bail!("the TLS certificate file holds no certificate");
    }
    let key = PrivateKeyDer::from_pem_slice(material.key_pem.as_bytes())
        .context("TLS private key PEM")?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .context("TLS protocol versions")?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .context("TLS certificate and key do not match")?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

fn read_certificate(path: &std::path::Path) -> Result<Vec<u8>> {
    let bytes =
        std::fs::read(path).with_context(|| format!("reading trust anchor {}", path.display()))?;
    if bytes.starts_with(b"-----BEGIN") {
        let cert = CertificateDer::from_pem_slice(&bytes)
            .with_context(|| format!("trust anchor {} is not a PEM certificate", path.display()))?;
        Ok(cert.as_ref().to_vec())
    } else {
        Ok(bytes)
    }
}

fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split('/').next().unwrap_or(rest);
    if let Some(v6) = authority.strip_prefix('[') {
        return v6.split(']').next().unwrap_or(v6).to_owned();
    }
    authority
        .rsplit_once(':')
        .map_or(authority, |(host, _)| host)
        .to_owned()
}

fn display_addr(addr: SocketAddr) -> String {
    if addr.ip().is_unspecified() {
        format!("localhost:{}", addr.port())
    } else {
        addr.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_of_urls() {
        assert_eq!(host_of("https://localhost:8443"), "localhost");
        assert_eq!(host_of("https://attest.example/x"), "attest.example");
        assert_eq!(host_of("https://[::1]:8443"), "::1");
    }
}
