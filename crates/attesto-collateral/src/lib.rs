//! DCAP collateral for attesto: where it comes from (Intel PCS, a PCCS, a directory of
//! bundles) and a cache that hands every request valid collateral, fetching each key once.
//!
//! This is an I/O edge: it talks HTTP and writes through `attesto-store`. It never verifies a
//! quote and never trusts what it fetches: the TCB info, QE identity and CRLs are only parsed to
//! learn their key and validity windows ([`attesto_quote::collateral_summary`]); the verifier in
//! `attesto-quote` checks every signature. Time is always an argument (`now`), never read here,
//! so tests and the server's clock decide.
//!
//! ```text
//! quote ─► CollateralKey::from_quote (unverified hint: tee/fmspc/ca)
//!            │
//!            ▼
//!   CollateralCache::get(key, now) ──miss──► CollateralSource::fetch ─► PcsSource | PccsSource | OfflineSource
//!            │         ▲                                 │
//!            │         └──── attesto-store (persisted across restarts) ◄─┘
//!            ▼
//!   Fresh { collateral, stale_grace } ─► attesto_quote::Verifier::verify(quote, &collateral, fresh.verification_time(now))
//! ```
//!
//! ```no_run
//! use std::sync::Arc;
//! use attesto_collateral::{CacheOptions, CollateralCache, CollateralKey, PcsSource, INTEL_PCS_URL};
//! # async fn demo(quote: &[u8], now: rustls_pki_types::UnixTime) -> Result<(), Box<dyn std::error::Error>> {
//! let source = Arc::new(PcsSource::new(INTEL_PCS_URL)?);
//! let cache = Arc::new(CollateralCache::new(source, None, CacheOptions::default())?);
//! let key = CollateralKey::from_quote(quote)?;
//! let fresh = cache.get(&key, now).await?;
//! let verified = attesto_quote::verify(quote, &fresh.collateral, fresh.verification_time(now))?;
//! # let _ = verified; Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod bundle;
mod cache;
mod import;
mod key;
mod source;

pub use bundle::{Fetched, to_json};
pub use cache::{
    CacheOptions, CacheSnapshot, CollateralCache, CollateralError, EntrySnapshot, Fresh,
    RefreshReport,
};
pub use import::{ImportError, ImportOutcome, import};
pub use key::{CollateralKey, ParseKeyError};
pub use source::{
    BoxFuture, CollateralSource, DEFAULT_MAX_BODY_BYTES, DEFAULT_TIMEOUT, FetchError,
    INTEL_PCS_URL, INTEL_ROOT_CA_CRL_URL, OfflineSource, PccsSource, PcsSource, SourceError,
    SourceOptions,
};
