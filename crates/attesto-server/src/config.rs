//! Service configuration: built-in defaults, then a TOML file, then `ATTESTO_*` environment
//! variables, then command-line flags, each layer overriding the one before.
//!
//! Every default is safe to run unattended on a fresh machine: HTTPS on loopback with a generated
//! certificate, state under `./attesto-data`, Intel's PCS as the collateral source and nothing but
//! Intel's root trusted.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// Intel's Provisioning Certification Service (v4 API root).
pub const INTEL_PCS_URL: &str = "https://api.trustedservices.intel.com";

/// The top-level keys of [`Config`], for picking configuration out of the environment.
const CONFIG_KEYS: [&str; 13] = [
    "listen",
    "public_url",
    "data_dir",
    "token_lifetime_secs",
    "insecure_http",
    "max_body_bytes",
    "request_timeout_secs",
    "tls",
    "collateral",
    "trust",
    "admin",
    "store",
    "tpm",
];

/// Everything `attesto serve` can be told.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Socket address to listen on.
    pub listen: SocketAddr,
    /// The externally visible base URL: the token `iss`, the `jku` prefix and the signing
    /// certificate's subject. Defaults to `https://localhost:<port>` (or `http://` with
    /// `insecure_http`).
    pub public_url: Option<String>,
    /// Where keys, policies, signers and cached collateral live.
    pub data_dir: PathBuf,
    /// Attestation token lifetime in seconds (MAA: 8 hours).
    pub token_lifetime_secs: u64,
    /// Serve plain HTTP. Only for deployments behind a TLS-terminating proxy; the Azure SDKs
    /// refuse bearer tokens over plain HTTP anyway.
    pub insecure_http: bool,
    /// Largest accepted request body in bytes.
    pub max_body_bytes: usize,
    /// Per-request time limit in seconds.
    pub request_timeout_secs: u64,
    /// TLS certificate and key. Without them the service generates a local CA and a server
    /// certificate under `<data_dir>/tls` and keeps them across restarts.
    pub tls: TlsConfig,
    /// Where DCAP collateral comes from.
    pub collateral: CollateralConfig,
    /// Extra trust anchors for quote verification.
    pub trust: TrustConfig,
    /// Who may administer providers.
    pub admin: crate::auth::AdminConfig,
    /// Where the key-encryption key for private keys at rest comes from.
    pub store: StoreConfig,
    /// TPM attestation (`POST /attest/Tpm`).
    pub tpm: TpmConfig,
}

/// TPM attestation settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TpmConfig {
    /// DER or PEM certificates trusted as AIK certificate roots (TPM vendor EK roots, a
    /// cloud's AK CA, the Microsoft AIK CA). None by default: then no AIK certificate
    /// validates, and only policies with `require_valid_aik_cert = false` accept TPM evidence.
    pub roots: Vec<PathBuf>,
    /// Intermediate CA certificates offered when building AIK chains (MAA's request has no
    /// field for them). Untrusted: a chain must still end in one of `roots`. At most 8.
    pub intermediates: Vec<PathBuf>,
    /// `false` turns off the AIK certificate requirement for every provider and policy (a lab
    /// without an AIK CA; `aikValidated` still tells the truth). `true` (default) leaves it to
    /// each Tpm policy's `require_valid_aik_cert` configuration rule, itself true by default.
    pub require_valid_aik_cert: bool,
    /// How long a challenge's `service_context` is accepted, in seconds (default 300). Contexts
    /// are sealed with a key held in memory only: they do not survive a restart.
    pub service_context_lifetime_secs: u64,
}

impl Default for TpmConfig {
    fn default() -> Self {
        TpmConfig {
            roots: Vec::new(),
            intermediates: Vec::new(),
            require_valid_aik_cert: true,
            service_context_lifetime_secs: 5 * 60,
        }
    }
}

/// The key-encryption key (KEK) protecting private keys in the store. At most one source may
/// be set; with none, the store uses (and on first start generates, mode 0600) `<data_dir>/kek`,
/// which protects copies of the database but not a stolen data directory: production should
/// keep the KEK elsewhere.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// A file holding the KEK (32 raw bytes or 64 hex characters).
    pub kek_file: Option<PathBuf>,
    /// An environment variable holding the KEK (64 hex characters).
    pub kek_env: Option<String>,
    /// An environment variable holding a passphrase the KEK is derived from.
    pub kek_passphrase_env: Option<String>,
}

impl StoreConfig {
    /// The store's KEK source.
    ///
    /// # Errors
    /// More than one source, or a passphrase variable that is not set.
    pub fn kek_source(&self) -> Result<attesto_store::KekSource> {
        match (&self.kek_file, &self.kek_env, &self.kek_passphrase_env) {
            (None, None, None) => Ok(attesto_store::KekSource::DataDir),
            (Some(file), None, None) => Ok(attesto_store::KekSource::File(file.clone())),
            (None, Some(var), None) => Ok(attesto_store::KekSource::Env(var.clone())),
            (None, None, Some(var)) => {
                let passphrase = std::env::var(var)
                    .with_context(|| format!("store.kek_passphrase_env: {var} is not set"))?;
                Ok(attesto_store::KekSource::Passphrase(passphrase))
            }
            _ => {
                bail!("set at most one of store.kek_file, store.kek_env, store.kek_passphrase_env")
            }
        }
    }
}

/// TLS material supplied by the operator.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain, leaf first.
    pub cert: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: Option<PathBuf>,
}

/// Which collateral service to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CollateralSourceKind {
    /// Intel's PCS (`pcs_url`).
    Pcs,
    /// A PCCS caching service (`pccs_url`).
    Pccs,
    /// Only bundles from `offline_dir` (and those imported with `attesto collateral import`).
    Offline,
}

/// Collateral settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CollateralConfig {
    /// The source consulted when the cache has nothing valid.
    pub source: CollateralSourceKind,
    /// Base URL of Intel's PCS.
    pub pcs_url: String,
    /// Base URL of a PCCS (required when `source = "pccs"`).
    pub pccs_url: Option<String>,
    /// PEM CA file to trust for a PCCS with a private certificate.
    pub pccs_ca_file: Option<PathBuf>,
    /// Directory of collateral bundles (JSON) for `source = "offline"`.
    pub offline_dir: Option<PathBuf>,
    /// Refresh cached collateral this many seconds before its `nextUpdate`.
    pub refresh_margin_secs: u64,
    /// Off by default. When set, collateral up to this many seconds past its `nextUpdate` is
    /// still used if no fresh copy can be fetched; every token built on it carries
    /// `x-attesto-collateral-grace: true`.
    pub grace_period_secs: Option<u64>,
}

/// Extra roots for quote verification.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrustConfig {
    /// DER or PEM root certificates trusted *in addition to* Intel's SGX root, e.g. a
    /// simulation PKI. Never set by default; every token then carries
    /// `x-attesto-non-intel-roots: true`.
    pub extra_quote_roots: Vec<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8443)),
            public_url: None,
            data_dir: PathBuf::from("attesto-data"),
            token_lifetime_secs: 8 * 60 * 60,
            insecure_http: false,
            max_body_bytes: 256 * 1024,
            request_timeout_secs: 30,
            tls: TlsConfig::default(),
            collateral: CollateralConfig::default(),
            trust: TrustConfig::default(),
            admin: crate::auth::AdminConfig::default(),
            store: StoreConfig::default(),
            tpm: TpmConfig::default(),
        }
    }
}

impl Default for CollateralConfig {
    fn default() -> Self {
        CollateralConfig {
            source: CollateralSourceKind::Pcs,
            pcs_url: INTEL_PCS_URL.to_owned(),
            pccs_url: None,
            pccs_ca_file: None,
            offline_dir: None,
            refresh_margin_secs: 60 * 60,
            grace_period_secs: None,
        }
    }
}

impl Config {
    /// Defaults, then `file` (if any), then `ATTESTO_*` variables (`ATTESTO_LISTEN`,
    /// `ATTESTO_PUBLIC_URL`, `ATTESTO_COLLATERAL__SOURCE`, ... with `__` for nesting).
    ///
    /// # Errors
    /// An unreadable file, an unknown key or a value of the wrong type.
    pub fn load(file: Option<&Path>) -> Result<Config> {
        Self::load_from(file, Env::prefixed("ATTESTO_").split("__"))
    }

    fn load_from(file: Option<&Path>, env: Env) -> Result<Config> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            if !path.is_file() {
                bail!("config file {} does not exist", path.display());
            }
            figment = figment.merge(Toml::file(path));
        }
        // Only variables naming a configuration section or key are configuration; others with
        // the prefix (ATTESTO_LOG, ATTESTO_LOG_FORMAT, tools' own variables) are not.
        let env = env.filter(|key| {
            let top = key.as_str().split('.').next().unwrap_or_default();
            CONFIG_KEYS
                .iter()
                .any(|known| known.eq_ignore_ascii_case(top))
        });
        let config: Config = figment
            .merge(env)
            .extract()
            .context("invalid configuration")?;
        config.validate()?;
        Ok(config)
    }

    /// Rejects combinations that cannot work, before anything is started.
    ///
    /// # Errors
    /// A message naming the setting at fault.
    pub fn validate(&self) -> Result<()> {
        if self.token_lifetime_secs == 0 || self.token_lifetime_secs > 366 * 24 * 3600 {
            bail!("token_lifetime_secs must be between 1 and one year");
        }
        if self.max_body_bytes < 1024 {
            bail!("max_body_bytes must be at least 1024");
        }
        if self.request_timeout_secs == 0 {
            bail!("request_timeout_secs must be positive");
        }
        if self.tls.cert.is_some() != self.tls.key.is_some() {
            bail!("tls.cert and tls.key must be set together");
        }
        if let Some(url) = &self.public_url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            bail!("public_url must be an http(s) URL, got {url:?}");
        }
        if !(1..=3600).contains(&self.tpm.service_context_lifetime_secs) {
            bail!("tpm.service_context_lifetime_secs must be between 1 and 3600");
        }
        if self.tpm.intermediates.len() > 8 {
            bail!("tpm.intermediates holds at most 8 certificates");
        }
        match self.collateral.source {
            CollateralSourceKind::Pccs if self.collateral.pccs_url.is_none() => {
                bail!("collateral.source = \"pccs\" needs collateral.pccs_url")
            }
            CollateralSourceKind::Offline if self.collateral.offline_dir.is_none() => {
                bail!("collateral.source = \"offline\" needs collateral.offline_dir")
            }
            _ => {}
        }
        Ok(())
    }

    /// The base URL clients use; the token issuer.
    #[must_use]
    pub fn issuer(&self) -> String {
        self.issuer_for_port(self.listen.port())
    }

    /// The issuer when the listener is bound to `port` (differs from `listen` for port 0).
    #[must_use]
    pub fn issuer_for_port(&self, port: u16) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => {
                let scheme = if self.insecure_http { "http" } else { "https" };
                format!("{scheme}://localhost:{port}")
            }
        }
    }

    /// The token lifetime.
    #[must_use]
    pub fn token_lifetime(&self) -> Duration {
        Duration::from_secs(self.token_lifetime_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An environment layer no test sets, so parallel tests never see each other.
    fn no_env() -> Env {
        Env::prefixed("ATTESTO_UNUSED_TEST_PREFIX_")
    }

    #[test]
    fn defaults_are_valid_and_local() -> Result<()> {
        let config = Config::load_from(None, no_env())?;
        assert_eq!(config.listen.to_string(), "127.0.0.1:8443");
        assert_eq!(config.issuer(), "https://localhost:8443");
        assert_eq!(config.token_lifetime_secs, 28_800);
        assert!(!config.insecure_http);
        assert_eq!(config.collateral.grace_period_secs, None);
        assert!(config.trust.extra_quote_roots.is_empty());
        Ok(())
    }

    #[test]
    fn file_overrides_defaults_and_unknown_keys_fail() -> Result<()> {
        let dir = std::env::temp_dir().join(format!("attesto-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let path = dir.join("a.toml");
        std::fs::write(
            &path,
            "listen = \"0.0.0.0:9443\"\npublic_url = \"https://attest.example/\"\n\
             token_lifetime_secs = 600\n[collateral]\nsource = \"offline\"\noffline_dir = \"/x\"\n",
        )?;
        let config = Config::load_from(Some(&path), no_env())?;
        assert_eq!(config.listen.port(), 9443);
        assert_eq!(config.issuer(), "https://attest.example");
        assert_eq!(config.token_lifetime(), Duration::from_secs(600));
        assert_eq!(config.collateral.source, CollateralSourceKind::Offline);

        std::fs::write(&path, "listn = \"0.0.0.0:9443\"\n")?;
        let err = Config::load_from(Some(&path), no_env()).err();
        assert!(format!("{err:?}").contains("listn"), "{err:?}");
        Ok(())
    }

    #[test]
    fn inconsistent_settings_are_rejected() {
        let mut config = Config::default();
        config.collateral.source = CollateralSourceKind::Pccs;
        assert!(config.validate().is_err());
        let mut config = Config::default();
        config.tls.cert = Some(PathBuf::from("c.pem"));
        assert!(config.validate().is_err());
        let config = Config {
            token_lifetime_secs: 0,
            ..Config::default()
        };
        assert!(config.validate().is_err());
    }

    #[test]
    #[expect(
        clippy::result_large_err,
        reason = "figment's Jail closure returns figment::Error"
    )]
    fn environment_overrides_file() -> Result<()> {
        figment::Jail::expect_with(|jail| {
            jail.create_file("c.toml", "token_lifetime_secs = 600\n")?;
            jail.set_env("ATTESTO_TOKEN_LIFETIME_SECS", "1200");
            jail.set_env("ATTESTO_COLLATERAL__REFRESH_MARGIN_SECS", "60");
            // Not configuration: other tools' variables with the same prefix are ignored.
            jail.set_env("ATTESTO_LOG_FORMAT", "json");
            jail.set_env("ATTESTO_ADMIN_TOKEN", "x");
            let config = Config::load(Some(Path::new("c.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(config.token_lifetime_secs, 1200);
            assert_eq!(config.collateral.refresh_margin_secs, 60);
            Ok(())
        });
        Ok(())
    }
}
