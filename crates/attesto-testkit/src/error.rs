//! The one error type of this crate.

use std::path::PathBuf;

/// Why minting a certificate, quote or collateral failed.
///
/// Every failure here is a mistake by the caller (an impossible combination of options, a time
/// that cannot be encoded, a corrupt persisted PKI) or a failure of the crypto library. Nothing
/// here is about *verifying* anything: this crate only produces data.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// rcgen refused to build a certificate or CRL (for example `next_update <= this_update`).
    #[error("certificate or CRL generation failed for {what}: {source}")]
    Certificate {
        /// Which certificate or CRL was being generated.
        what: &'static str,
        /// The rcgen error.
        source: rcgen::Error,
    },
    /// aws-lc-rs could not generate, parse or use a P-256 key.
    #[error("P-256 key operation failed: {what}")]
    Key {
        /// What was being done with the key.
        what: &'static str,
    },
    /// A time cannot be written into a certificate, CRL or collateral JSON.
    #[error("time {secs} s since the Unix epoch cannot be encoded in {field}")]
    TimeOutOfRange {
        /// The field that would have carried the time.
        field: &'static str,
        /// The offending time.
        secs: u64,
    },
    /// A variable-length field is longer than its length prefix can express.
    #[error("{field} is {len} bytes, more than its length field allows ({max})")]
    TooLong {
        /// The field.
        field: &'static str,
        /// Its length.
        len: usize,
        /// The largest length the format can express.
        max: usize,
    },
    /// The quote version cannot carry the requested report body (for example TDX in a v3 quote).
    #[error("a version {version} quote cannot carry a {body} report body")]
    UnsupportedLayout {
        /// The quote version.
        version: u16,
        /// The report body kind.
        body: &'static str,
    },
    /// The TCB Info format cannot express the requested content (TDX data in TCB Info v2).
    #[error("TCB Info {version} cannot express {what}")]
    UnsupportedTcbInfo {
        /// The TCB Info version.
        version: &'static str,
        /// What was requested.
        what: &'static str,
    },
    /// A persisted PKI is malformed: bad PEM, wrong CN, or a key that does not match its certificate.
    #[error("persisted test PKI is invalid: {item}: {reason}")]
    InvalidPersistedPki {
        /// Which certificate or key.
        item: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Reading or writing a persisted PKI failed.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Serializing or parsing JSON failed.
    #[error("JSON error in {what}: {source}")]
    Json {
        /// Which document.
        what: &'static str,
        /// The serde_json error.
        source: serde_json::Error,
    },
}

impl Error {
    pub(crate) fn certificate(what: &'static str) -> impl FnOnce(rcgen::Error) -> Self {
        move |source| Self::Certificate { what, source }
    }

    pub(crate) fn json(what: &'static str) -> impl FnOnce(serde_json::Error) -> Self {
        move |source| Self::Json { what, source }
    }
}
