//! Intel's Provisioning Certification Service (API v4) and PCCS, which serves the same API.
//!
//! Per key, four GETs (run concurrently):
//!
//! ```text
//! {base}/{sgx|tdx}/certification/v4/tcb?fmspc={FMSPC}        body: {"tcbInfo":..,"signature":..}
//!     header TCB-Info-Issuer-Chain (older: SGX-TCB-Info-Issuer-Chain)
//! {base}/{sgx|tdx}/certification/v4/qe/identity              body: {"enclaveIdentity":..,"signature":..}
//!     header SGX-Enclave-Identity-Issuer-Chain
//! {base}/sgx/certification/v4/pckcrl?ca={processor|platform}&encoding=der    body: DER
//!     header SGX-PCK-CRL-Issuer-Chain
//! root CA CRL: PCS  -> Intel's CRL distribution point (configurable)
//!              PCCS -> {base}/sgx/certification/v4/rootcacrl (hex or DER)
//! ```
//! Issuer chains arrive URL-encoded; [`Collateral::from_pcs`] decodes them and cuts the signed
//! documents out of the bodies byte for byte.

use std::path::Path;
use std::time::Duration;

use attesto_quote::{Collateral, PcsResponses};

use super::http::{self, Response};
use super::{BoxFuture, CollateralSource, FetchError, SourceError};
use crate::bundle::Fetched;
use crate::key::CollateralKey;

/// Base URL of Intel's PCS API.
pub const INTEL_PCS_URL: &str = "https://api.trustedservices.intel.com";
/// CRL distribution point of the Intel SGX Root CA (from the root certificate).
pub const INTEL_ROOT_CA_CRL_URL: &str =
    "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der";
/// Default limit on one request, connect to last byte.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default limit on one response body. Real TCB infos are tens of KiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

const TCB_INFO_CHAIN: &[&str] = &["TCB-Info-Issuer-Chain", "SGX-TCB-Info-Issuer-Chain"];
const QE_IDENTITY_CHAIN: &[&str] = &["SGX-Enclave-Identity-Issuer-Chain"];
const PCK_CRL_CHAIN: &[&str] = &["SGX-PCK-CRL-Issuer-Chain"];

/// HTTP limits shared by [`PcsSource`] and [`PccsSource`].
#[derive(Clone, Debug)]
pub struct SourceOptions {
    /// Limit on one request, connect to last byte.
    pub timeout: Duration,
    /// Limit on establishing a connection.
    pub connect_timeout: Duration,
    /// Limit on one response body; larger responses are refused.
    pub max_body_bytes: usize,
}

impl Default for SourceOptions {
    fn default() -> Self {
        Self {
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: Duration::from_secs(10),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }
}

/// Where the root CA CRL comes from.
#[derive(Clone, Debug)]
enum RootCrl {
    /// A plain URL (Intel's distribution point).
    Url(String),
    /// The PCCS `rootcacrl` endpoint.
    Pccs,
}

/// The PCS v4 API at one base URL.
#[derive(Debug)]
struct PcsApi {
    client: reqwest::Client,
    base: String,
    root_crl: RootCrl,
    max_body_bytes: usize,
}

/// Checks a base URL and strips trailing slashes so paths can be appended.
fn check_base_url(url: &str) -> Result<String, SourceError> {
    let invalid = |reason: &str| SourceError::InvalidUrl {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    let parsed = reqwest::Url::parse(url).map_err(|e| invalid(&e.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid("scheme must be http or https"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(invalid("a base URL has no query or fragment"));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

fn client(
    options: &SourceOptions,
    roots: Option<Vec<reqwest::Certificate>>,
) -> Result<reqwest::Client, SourceError> {
    let mut builder = reqwest::Client::builder()
        .timeout(options.timeout)
        .connect_timeout(options.connect_timeout)
        .user_agent(concat!("attesto/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::limited(3));
    if let Some(roots) = roots {
        builder = builder.tls_certs_only(roots);
    }
    builder
        .build()
        .map_err(|e| SourceError::Client(e.to_string()))
}

impl PcsApi {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// GET that must answer 200.
    async fn get_ok(&self, url: &str) -> Result<Response, FetchError> {
        let response = http::get(&self.client, url, self.max_body_bytes).await?;
        if response.status != 200 {
            return Err(FetchError::Status {
                url: url.to_owned(),
                status: response.status,
                detail: response.error_detail(),
            });
        }
        Ok(response)
    }

    async fn tcb_info(&self, key: &CollateralKey) -> Result<(String, String), FetchError> {
        let url = self.url(&format!(
            "/{}/certification/v4/tcb?fmspc={}",
            key.tee.as_str(),
            key.fmspc_hex()
        ));
        let response = http::get(&self.client, &url, self.max_body_bytes).await?;
        match response.status {
            200 => {}
            404 => {
                return Err(FetchError::NotFound {
                    key: *key,
                    fmspc: key.fmspc_hex(),
                    location: url,
                });
            }
            status => {
                return Err(FetchError::Status {
                    detail: response.error_detail(),
                    url,
                    status,
                });
            }
        }
        let chain = chain_header(&response, &url, TCB_INFO_CHAIN)?;
        Ok((body_text(response.body, &url)?, chain))
    }

    async fn qe_identity(&self, key: &CollateralKey) -> Result<(String, String), FetchError> {
        let url = self.url(&format!(
            "/{}/certification/v4/qe/identity",
            key.tee.as_str()
        ));
        let response = self.get_ok(&url).await?;
        let chain = chain_header(&response, &url, QE_IDENTITY_CHAIN)?;
        Ok((body_text(response.body, &url)?, chain))
    }

    async fn pck_crl(&self, key: &CollateralKey) -> Result<(Vec<u8>, String), FetchError> {
        let url = self.url(&format!(
            "/sgx/certification/v4/pckcrl?ca={}&encoding=der",
            key.ca.as_str()
        ));
        let response = self.get_ok(&url).await?;
        let chain = chain_header(&response, &url, PCK_CRL_CHAIN)?;
        Ok((response.body, chain))
    }

    async fn root_ca_crl(&self) -> Result<Vec<u8>, FetchError> {
        let url = match &self.root_crl {
            RootCrl::Url(url) => url.clone(),
            RootCrl::Pccs => self.url("/sgx/certification/v4/rootcacrl"),
        };
        Ok(self.get_ok(&url).await?.body)
    }

    async fn fetch(&self, key: &CollateralKey) -> Result<Fetched, FetchError> {
        let (tcb, qe, pck_crl, root_crl) = tokio::try_join!(
            self.tcb_info(key),
            self.qe_identity(key),
            self.pck_crl(key),
            self.root_ca_crl(),
        )?;
        let malformed = |source| FetchError::Malformed {
            origin: self.base.clone(),
            source,
        };
        let collateral = Collateral::from_pcs(&PcsResponses {
            tcb_info: &tcb.0,
            tcb_info_issuer_chain: &tcb.1,
            qe_identity: &qe.0,
            qe_identity_issuer_chain: &qe.1,
            pck_crl: &pck_crl.0,
            pck_crl_issuer_chain: &pck_crl.1,
            root_ca_crl: &root_crl,
        })
        .map_err(malformed)?;
        let fetched = Fetched::new(collateral, self.base.clone()).map_err(malformed)?;
        check_key(key, fetched)
    }
}

/// A source must never hand the cache collateral filed under the wrong key.
pub(crate) fn check_key(key: &CollateralKey, fetched: Fetched) -> Result<Fetched, FetchError> {
    let found = fetched.key();
    if &found != key {
        return Err(FetchError::WrongKey {
            key: *key,
            found,
            origin: fetched.origin,
        });
    }
    Ok(fetched)
}

/// An issuer-chain header in a form [`Collateral::from_pcs`] decodes to the exact PEM text.
///
/// PCS encodes spaces and newlines but leaves `-` alone (`-----BEGIN%20CERTIFICATE-----%0A..`);
/// `from_pcs` takes any value containing `-----BEGIN` for plain PEM and trims it, which would
/// keep the `%20`s (or drop the final newline that is part of the hashed chain). So the header is
/// decoded (a no-op for plain PEM, which never contains `%`) and re-encoded with every
/// non-alphanumeric byte escaped, which `from_pcs` decodes byte for byte.
fn chain_header(
    response: &Response,
    url: &str,
    names: &'static [&'static str],
) -> Result<String, FetchError> {
    let missing = || FetchError::MissingHeader {
        url: url.to_owned(),
        header: names.first().copied().unwrap_or("issuer chain"),
    };
    let raw = response.header(names).ok_or_else(missing)?;
    let pem = percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .map_err(|_| missing())?;
    Ok(percent_encoding::utf8_percent_encode(&pem, percent_encoding::NON_ALPHANUMERIC).to_string())
}

fn body_text(body: Vec<u8>, url: &str) -> Result<String, FetchError> {
    String::from_utf8(body).map_err(|_| FetchError::Malformed {
        origin: url.to_owned(),
        source: attesto_quote::Error::CollateralMalformed {
            field: "body",
            reason: "not UTF-8".to_owned(),
        },
    })
}

/// Intel's PCS (or anything serving its v4 API without a `rootcacrl` endpoint). The root CA CRL
/// comes from Intel's distribution point unless configured otherwise.
#[derive(Debug)]
pub struct PcsSource {
    api: PcsApi,
}

impl PcsSource {
    /// A PCS at `base_url` (e.g. [`INTEL_PCS_URL`]) with default limits and Intel's root CA CRL.
    ///
    /// # Errors
    /// [`SourceError::InvalidUrl`], [`SourceError::Client`].
    pub fn new(base_url: &str) -> Result<Self, SourceError> {
        Self::with_options(base_url, INTEL_ROOT_CA_CRL_URL, &SourceOptions::default())
    }

    /// A PCS with an explicit root CA CRL URL and limits.
    ///
    /// # Errors
    /// [`SourceError::InvalidUrl`] for either URL, [`SourceError::Client`].
    pub fn with_options(
        base_url: &str,
        root_ca_crl_url: &str,
        options: &SourceOptions,
    ) -> Result<Self, SourceError> {
        base_url_or_crl(root_ca_crl_url)?;
        Ok(Self {
            api: PcsApi {
                client: client(options, None)?,
                base: check_base_url(base_url)?,
                root_crl: RootCrl::Url(root_ca_crl_url.to_owned()),
                max_body_bytes: options.max_body_bytes,
            },
        })
    }
}

/// The root CRL URL is a full URL (it may have a path and query); only check it parses.
fn base_url_or_crl(url: &str) -> Result<(), SourceError> {
    let parsed = reqwest::Url::parse(url).map_err(|e| SourceError::InvalidUrl {
        url: url.to_owned(),
        reason: e.to_string(),
    })?;
    if matches!(parsed.scheme(), "http" | "https") {
        Ok(())
    } else {
        Err(SourceError::InvalidUrl {
            url: url.to_owned(),
            reason: "scheme must be http or https".to_owned(),
        })
    }
}

impl CollateralSource for PcsSource {
    fn fetch<'a>(&'a self, key: &'a CollateralKey) -> BoxFuture<'a, Result<Fetched, FetchError>> {
        Box::pin(self.api.fetch(key))
    }

    fn describe(&self) -> String {
        format!("Intel PCS {}", self.api.base)
    }
}

/// A PCCS (Intel's caching service, e.g. `https://pccs.internal:8081`). Its TLS certificate is
/// checked against the system roots, or, when a CA file is given, against that file only: that
/// is the one way to use a PCCS with a self-signed certificate.
#[derive(Debug)]
pub struct PccsSource {
    api: PcsApi,
}

impl PccsSource {
    /// A PCCS at `base_url`, trusting only the PEM certificates in `ca_file` if given.
    ///
    /// # Errors
    /// [`SourceError::InvalidUrl`], [`SourceError::CaFile`], [`SourceError::Client`].
    pub fn new(base_url: &str, ca_file: Option<&Path>) -> Result<Self, SourceError> {
        Self::with_options(base_url, ca_file, &SourceOptions::default())
    }

    /// As [`PccsSource::new`], with explicit limits.
    ///
    /// # Errors
    /// As [`PccsSource::new`].
    pub fn with_options(
        base_url: &str,
        ca_file: Option<&Path>,
        options: &SourceOptions,
    ) -> Result<Self, SourceError> {
        let roots = ca_file.map(read_ca_file).transpose()?;
        Ok(Self {
            api: PcsApi {
                client: client(options, roots)?,
                base: check_base_url(base_url)?,
                root_crl: RootCrl::Pccs,
                max_body_bytes: options.max_body_bytes,
            },
        })
    }
}

fn read_ca_file(path: &Path) -> Result<Vec<reqwest::Certificate>, SourceError> {
    let err = |reason: String| SourceError::CaFile {
        path: path.to_owned(),
        reason,
    };
    let pem = std::fs::read(path).map_err(|e| err(e.to_string()))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| err(e.to_string()))?;
    if certs.is_empty() {
        return Err(err("no PEM certificate in the file".to_owned()));
    }
    Ok(certs)
}

impl CollateralSource for PccsSource {
    fn fetch<'a>(&'a self, key: &'a CollateralKey) -> BoxFuture<'a, Result<Fetched, FetchError>> {
        Box::pin(self.api.fetch(key))
    }

    fn describe(&self) -> String {
        format!("PCCS {}", self.api.base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_checked_and_normalized() {
        assert_eq!(
            check_base_url("https://pccs.example.invalid:8081/")
                .ok()
                .as_deref(),
            Some("https://pccs.example.invalid:8081")
        );
        assert!(check_base_url("ftp://x").is_err());
        assert!(check_base_url("not a url").is_err());
        assert!(check_base_url("https://x/?a=b").is_err());
    }

    #[test]
    fn ca_file_must_hold_a_certificate() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let missing = dir.path().join("missing.pem");
        assert!(matches!(
            PccsSource::new("https://pccs.example.invalid", Some(&missing)),
            Err(SourceError::CaFile { .. })
        ));
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "no certificate here\n")?;
        assert!(matches!(
            PccsSource::new("https://pccs.example.invalid", Some(&empty)),
            Err(SourceError::CaFile { .. })
        ));
        let good = dir.path().join("root.pem");
        std::fs::copy("../../testdata/dcap/Intel_SGX_Root_CA.pem", &good)?;
        let source = PccsSource::new("https://pccs.example.invalid:8081/", Some(&good))?;
        assert_eq!(source.describe(), "PCCS https://pccs.example.invalid:8081");
        Ok(())
    }
}
