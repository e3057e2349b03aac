//! `attesto serve`: run the attestation service.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use attesto_server::{Config, ServerBuilder};
use clap::Args;

/// Flags override the config file and `ATTESTO_*` environment variables.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// TOML configuration file.
    #[arg(long, env = "ATTESTO_CONFIG")]
    config: Option<PathBuf>,
    /// Listen address, e.g. 127.0.0.1:8443.
    #[arg(long)]
    listen: Option<std::net::SocketAddr>,
    /// Public base URL (the token issuer).
    #[arg(long)]
    public_url: Option<String>,
    /// Data directory (keys, policies, cached collateral).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Serve plain HTTP instead of HTTPS (only behind a TLS-terminating proxy).
    #[arg(long)]
    insecure_http: bool,
    /// Trust this root certificate (PEM or DER) for quotes in addition to Intel's, e.g. the
    /// test root of `attesto genquote --simulate`. Tokens then carry
    /// `x-attesto-non-intel-roots: true`. Repeatable.
    #[arg(long, value_name = "FILE")]
    trust_test_root: Vec<PathBuf>,
}

/// Loads the configuration, starts the service and serves until SIGINT/SIGTERM.
///
/// # Errors
/// Invalid configuration or a failed start.
pub fn run(args: ServeArgs) -> Result<ExitCode> {
    let mut config = Config::load(args.config.as_deref())?;
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if let Some(url) = args.public_url {
        config.public_url = Some(url);
    }
    if let Some(dir) = args.data_dir {
        config.data_dir = dir;
    }
    if args.insecure_http {
        config.insecure_http = true;
    }
    config.trust.extra_quote_roots.extend(args.trust_test_root);
    init_tracing();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let mut builder = ServerBuilder::new(config);
        if let Some(provider) = super::genquote::tee_signing_cert_quote() {
            builder = builder.signing_cert_quote(provider);
        }
        let server = builder.start().await?;
        if let Some(token) = server.initial_admin_token() {
            // Shown once: only its hash is stored.
            eprintln!("attesto: admin token (shown only now, keep it): {token}");
        }
        eprintln!(
            "attesto: serving {} (issuer {})",
            server.local_url(),
            server.issuer()
        );
        if let Some(ca) = server.ca_file() {
            let ca = std::fs::canonicalize(ca).unwrap_or_else(|_| ca.to_path_buf());
            eprintln!(
                "attesto: TLS CA certificate: {} (e.g. export REQUESTS_CA_BUNDLE={})",
                ca.display(),
                ca.display()
            );
        }
        server.run_until_signal().await;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// `ATTESTO_LOG` selects levels (default `info`); `ATTESTO_LOG_FORMAT=json` emits JSON lines.
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("ATTESTO_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let json = std::env::var("ATTESTO_LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}
