//! Where collateral comes from: Intel's PCS, a PCCS, or a directory of bundles, behind one
//! dyn-compatible trait so the server and tests can swap them.

mod http;
mod offline;
mod pcs;

use core::future::Future;
use core::pin::Pin;
use std::path::PathBuf;

pub use offline::OfflineSource;
pub use pcs::{
    DEFAULT_MAX_BODY_BYTES, DEFAULT_TIMEOUT, INTEL_PCS_URL, INTEL_ROOT_CA_CRL_URL, PccsSource,
    PcsSource, SourceOptions,
};

use crate::bundle::Fetched;
use crate::key::CollateralKey;

/// A boxed, sendable future: what keeps [`CollateralSource`] usable as `dyn`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A place collateral can be fetched from.
pub trait CollateralSource: Send + Sync {
    /// Fetches the current collateral for `key`. Implementations do not verify signatures (the
    /// verifier does) but must return collateral that parses and serves `key`.
    fn fetch<'a>(&'a self, key: &'a CollateralKey) -> BoxFuture<'a, Result<Fetched, FetchError>>;

    /// A short description for logs and metrics, e.g. `Intel PCS https://...`.
    fn describe(&self) -> String;
}

/// Why a fetch failed. Every variant names the URL or key so the operator knows what is missing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The source has no collateral for this key (PCS answers 404 for an unknown FMSPC; an
    /// offline directory has no bundle for it).
    #[error("no collateral for FMSPC {fmspc} ({key}) at {location}")]
    NotFound {
        /// The key asked for.
        key: CollateralKey,
        /// The FMSPC, uppercase hex as PCS spells it.
        fmspc: String,
        /// The URL or directory asked.
        location: String,
    },
    /// The server answered with an unexpected HTTP status.
    #[error("GET {url} answered HTTP {status}{}", detail.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    Status {
        /// The URL.
        url: String,
        /// The status code.
        status: u16,
        /// PCS's `Error-Code` / `Error-Message` headers, if any.
        detail: Option<String>,
    },
    /// The request did not complete (DNS, connect, TLS, timeout, reset).
    #[error("GET {url} failed: {reason}")]
    Transport {
        /// The URL.
        url: String,
        /// The client's message, with its causes.
        reason: String,
    },
    /// The response body exceeded the configured limit.
    #[error("GET {url}: response larger than {limit} bytes")]
    TooLarge {
        /// The URL.
        url: String,
        /// The limit in bytes.
        limit: usize,
    },
    /// A required issuer-chain header was missing or not text.
    #[error("GET {url}: missing or non-text header {header}")]
    MissingHeader {
        /// The URL.
        url: String,
        /// The header (the first name tried).
        header: &'static str,
    },
    /// A response was not valid collateral.
    #[error("collateral from {origin} does not parse: {source}")]
    Malformed {
        /// The URL or file.
        origin: String,
        /// What is wrong.
        source: attesto_quote::Error,
    },
    /// The source delivered collateral for another key than the one asked for.
    #[error("{origin} returned collateral for {found}, not {key}")]
    WrongKey {
        /// The key asked for.
        key: CollateralKey,
        /// The key the collateral serves.
        found: CollateralKey,
        /// The URL or file.
        origin: String,
    },
}

/// Why a source could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// A base URL does not parse or is not http(s).
    #[error("invalid URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// The PCCS CA file could not be read or holds no certificate.
    #[error("PCCS CA file {path}: {reason}")]
    CaFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The HTTP client could not be built (TLS backend initialisation).
    #[error("cannot build HTTP client: {0}")]
    Client(String),
    /// The offline directory could not be read.
    #[error("cannot read offline collateral directory {path}: {source}")]
    OfflineDir {
        /// The directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}
