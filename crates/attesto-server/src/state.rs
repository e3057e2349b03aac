//! Shared state of one running service: its identity, store, verifier, collateral cache, the
//! parsed policies in force, and metrics.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use anyhow::{Context, Result};
use attesto_collateral::CollateralCache;
use attesto_policy::{AttestationType, Policy, default_policy};
use attesto_quote::Verifier;
use attesto_store::Store;

use crate::auth::Authenticator;
use crate::clock::Clock;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::providers::Providers;

/// Cheap to clone: everything is behind `Arc`s.
#[derive(Clone)]
pub struct AppState {
    /// The loaded configuration.
    pub config: Arc<Config>,
    /// The default provider's issuer (public base URL, no trailing slash).
    pub issuer: Arc<str>,
    /// Source of "now".
    pub clock: Arc<dyn Clock>,
    /// Persistent state.
    pub store: Store,
    /// Attestation providers (tenants).
    pub providers: Arc<Providers>,
    /// Checks administrative credentials.
    pub auth: Arc<Authenticator>,
    /// Quote verifier with its collateral and PCK caches.
    pub verifier: Arc<Verifier>,
    /// Whether the verifier trusts roots other than Intel's (tokens then say so).
    pub non_intel_roots: bool,
    /// Valid collateral for quotes, fetched on demand.
    pub collateral: Arc<CollateralCache>,
    /// Collateral already verified by `verifier`, per cache entry.
    pub prepared: Arc<PreparedCollateral>,
    /// Collateral lookup keys per PCK certificate chain.
    pub collateral_keys: Arc<CollateralKeys>,
    /// The policies in force.
    pub policies: Arc<Policies>,
    /// TPM protocol state: AIK roots, the service_context key, used contexts.
    pub tpm: Arc<crate::routes::tpm::TpmState>,
    /// Prometheus metrics.
    pub metrics: Metrics,
}

impl AppState {
    /// Copies the collateral cache's view into the Prometheus gauges (called at scrape time).
    pub fn refresh_collateral_gauges(&self) {
        let snapshot = self.collateral.snapshot(self.clock.now());
        let metrics = &self.metrics;
        // Counters only move forward: add what happened since the last scrape.
        let hits_seen = metrics.collateral_hits.get();
        metrics
            .collateral_hits
            .inc_by(snapshot.hits.saturating_sub(hits_seen));
        let misses_seen = metrics.collateral_misses.get();
        metrics
            .collateral_misses
            .inc_by(snapshot.misses.saturating_sub(misses_seen));
        for entry in &snapshot.entries {
            let label = crate::metrics::CollateralLabel {
                key: entry.key.to_string(),
            };
            metrics
                .collateral_age
                .get_or_create(&label)
                .set(i64::try_from(entry.age.as_secs()).unwrap_or(i64::MAX));
            metrics
                .collateral_remaining
                .get_or_create(&label)
                .set(entry.remaining_secs);
        }
    }
}

/// Verified collateral per collateral-cache entry, so a warm attestation does not re-hash the
/// collateral to find the verifier's cached result. Keyed by identity: the cache hands out the
/// same `Arc` until it refreshes an entry, and holding that `Arc` here means a pointer can never
/// be reused by a different collateral set while it is in this map.
#[derive(Default)]
pub struct PreparedCollateral {
    entries: std::sync::Mutex<HashMap<attesto_collateral::CollateralKey, PreparedEntry>>,
}

/// A collateral set and the verifier's result for it.
type PreparedEntry = (
    Arc<attesto_quote::Collateral>,
    Arc<attesto_quote::VerifiedCollateral>,
);

impl PreparedCollateral {
    /// `collateral` verified by `verifier` (which also checks nothing time-dependent here: time
    /// windows and CRLs are evaluated per quote by `verify_prepared`).
    ///
    /// # Errors
    /// The collateral does not verify.
    pub fn get(
        &self,
        verifier: &Verifier,
        key: &attesto_collateral::CollateralKey,
        collateral: &Arc<attesto_quote::Collateral>,
    ) -> Result<Arc<attesto_quote::VerifiedCollateral>, attesto_quote::Error> {
        if let Ok(entries) = self.entries.lock()
            && let Some((source, prepared)) = entries.get(key)
            && Arc::ptr_eq(source, collateral)
        {
            return Ok(Arc::clone(prepared));
        }
        let prepared = verifier.prepare(collateral)?;
        if let Ok(mut entries) = self.entries.lock() {
            entries.insert(*key, (Arc::clone(collateral), Arc::clone(&prepared)));
        }
        Ok(prepared)
    }
}

/// The collateral lookup key of a quote depends only on its PCK certificate chain, so it is
/// remembered per chain (by SHA-256 of the chain's bytes) instead of parsing the leaf
/// certificate on every attestation. Bounded: the map is cleared when it reaches
/// [`CollateralKeys::CAPACITY`] entries.
#[derive(Default)]
pub struct CollateralKeys {
    entries: RwLock<HashMap<[u8; 32], attesto_collateral::CollateralKey>>,
}

impl CollateralKeys {
    /// Most chains remembered at once.
    pub const CAPACITY: usize = 4096;

    /// The (unverified) collateral lookup key of `quote`.
    ///
    /// # Errors
    /// The quote does not parse or carries no usable PCK leaf.
    pub fn lookup(
        &self,
        quote: &[u8],
    ) -> Result<attesto_collateral::CollateralKey, attesto_quote::Error> {
        let parsed = attesto_quote::Quote::parse(quote)?;
        let mut id = [0u8; 32];
        id.copy_from_slice(
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, parsed.pck_chain_pem).as_ref(),
        );
        if let Some(key) = self.entries.read().ok().and_then(|m| m.get(&id).copied()) {
            return Ok(key);
        }
        let key = attesto_collateral::CollateralKey::from_quote(quote)?;
        if let Ok(mut entries) = self.entries.write() {
            if entries.len() >= Self::CAPACITY {
                entries.clear();
            }
            entries.insert(id, key);
        }
        Ok(key)
    }
}

/// A parsed policy and what tokens say about it.
#[derive(Debug)]
pub struct ActivePolicy {
    /// The parsed policy.
    pub policy: Policy,
    /// `x-ms-policy-hash`.
    pub hash: String,
    /// The JWS it was uploaded as, if an administrator set it.
    pub jws: Option<String>,
    /// The certificate (DER) that signed the upload, if signed.
    pub signer_der: Option<Vec<u8>>,
}

/// Parsed policies per (provider, attestation type), loaded lazily from the store and replaced
/// when an administrator sets or resets one.
#[derive(Default)]
pub struct Policies {
    parsed: RwLock<HashMap<(String, AttestationType), Arc<ActivePolicy>>>,
}

impl Policies {
    /// The policy in force for `kind`: the stored one or the built-in default.
    ///
    /// # Errors
    /// A store failure, or a stored policy that no longer parses (never expected: policies are
    /// parsed before they are stored).
    pub fn get(
        &self,
        store: &Store,
        provider: &str,
        kind: AttestationType,
    ) -> Result<Arc<ActivePolicy>> {
        let key = (provider.to_owned(), kind);
        if let Some(found) = self
            .parsed
            .read()
            .ok()
            .and_then(|map| map.get(&key).cloned())
        {
            return Ok(found);
        }
        let active = match store
            .policy(provider, kind.as_str())
            .context("reading policy")?
        {
            Some(stored) => Arc::new(ActivePolicy {
                policy: Policy::parse(&stored.text).context("stored policy")?,
                hash: attesto_policy::policy_hash(&stored.text),
                jws: Some(stored.jws),
                signer_der: stored.signer_cert_der,
            }),
            None => Arc::new(default_active(kind)?),
        };
        if let Ok(mut map) = self.parsed.write() {
            map.insert(key, Arc::clone(&active));
        }
        Ok(active)
    }

    /// The parsed policy if already loaded (no store access).
    #[must_use]
    pub fn cached(&self, provider: &str, kind: AttestationType) -> Option<Arc<ActivePolicy>> {
        // Keyed by owned strings; a lookup needs one allocation, far cheaper than the store.
        self.parsed
            .read()
            .ok()
            .and_then(|map| map.get(&(provider.to_owned(), kind)).cloned())
    }

    /// Forgets the cached parse of one policy (after set or reset).
    pub fn invalidate(&self, provider: &str, kind: AttestationType) {
        if let Ok(mut map) = self.parsed.write() {
            map.remove(&(provider.to_owned(), kind));
        }
    }
}

/// The built-in default policy for `kind`.
///
/// # Errors
/// Never in practice: the defaults are tested to parse.
pub fn default_active(kind: AttestationType) -> Result<ActivePolicy> {
    let text = default_policy(kind);
    Ok(ActivePolicy {
        policy: Policy::parse(text).context("built-in default policy")?,
        hash: attesto_policy::policy_hash(text),
        jws: None,
        signer_der: None,
    })
}
