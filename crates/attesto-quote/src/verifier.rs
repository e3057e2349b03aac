//! A verifier that caches what does not change from quote to quote.
//!
//! Cached: verified collateral (keyed by a hash of its content) and verified PCK chains (keyed
//! by a hash of the PEM chain). Both are bounded. Never cached: time windows, CRL membership of
//! the quote's PCK certificate and CA, and every per-quote signature, so a cached entry can
//! never make a check pass that would fail cold.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::sync::{Arc, PoisonError, RwLock};

use aws_lc_rs::digest::{SHA256, digest};
use rustls_pki_types::UnixTime;

use crate::collateral::{Collateral, VerifiedCollateral};
use crate::error::Error;
use crate::outcome::{SignedQuote, VerifiedQuote};
use crate::pck_chain::VerifiedPckChain;
use crate::quote::Quote;
use crate::verify::{signatures_and_chain, verify_parsed};
use crate::x509::TrustAnchors;

/// Default number of collateral sets kept (one per FMSPC and TEE kind in practice).
pub const DEFAULT_COLLATERAL_CAPACITY: usize = 256;
/// Default number of PCK chains kept (one per platform).
pub const DEFAULT_PCK_CHAIN_CAPACITY: usize = 4096;

/// A bounded map that forgets the oldest insertion first.
#[derive(Debug)]
struct BoundedCache<K, V> {
    map: HashMap<K, V>,
    order: VecDeque<K>,
    capacity: usize,
}

impl<K: Eq + Hash + Clone, V: Clone> BoundedCache<K, V> {
    fn new(capacity: usize) -> Self {
        Self {
            map: HashMap::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    fn get(&self, key: &K) -> Option<V> {
        self.map.get(key).cloned()
    }

    fn insert(&mut self, key: K, value: V) {
        if self.map.insert(key.clone(), value).is_none() {
            self.order.push_back(key);
        }
        while self.map.len() > self.capacity {
            match self.order.pop_front() {
                Some(oldest) => {
                    self.map.remove(&oldest);
                }
                None => break,
            }
        }
    }

    fn len(&self) -> usize {
        self.map.len()
    }
}

/// Verifies quotes, sharing verified collateral and PCK chains between calls. `Send + Sync`;
/// every method takes `&self`, so one instance can serve all requests.
#[derive(Debug)]
pub struct Verifier {
    anchors: TrustAnchors,
    collateral: RwLock<BoundedCache<[u8; 32], Arc<VerifiedCollateral>>>,
    chains: RwLock<BoundedCache<[u8; 32], Arc<VerifiedPckChain>>>,
}

impl Default for Verifier {
    fn default() -> Self {
        Self::new()
    }
}

impl Verifier {
    /// A verifier trusting only the Intel SGX Root CA.
    #[must_use]
    pub fn new() -> Self {
        Self::with_trust_anchors(TrustAnchors::intel())
    }

    /// A verifier trusting exactly `anchors`.
    #[must_use]
    pub fn with_trust_anchors(anchors: TrustAnchors) -> Self {
        Self::with_capacity(
            anchors,
            DEFAULT_COLLATERAL_CAPACITY,
            DEFAULT_PCK_CHAIN_CAPACITY,
        )
    }

    /// A verifier trusting only the given root (DER), e.g. a test root. Intel's root is not
    /// trusted by this verifier.
    ///
    /// # Errors
    /// If the root does not parse as an ECDSA P-256 CA certificate.
    pub fn with_trust_anchor(root_der: &[u8]) -> Result<Self, Error> {
        Ok(Self::with_trust_anchors(TrustAnchors::from_der(root_der)?))
    }

    /// A verifier with explicit cache bounds (entries).
    #[must_use]
    pub fn with_capacity(anchors: TrustAnchors, collateral: usize, pck_chains: usize) -> Self {
        Self {
            anchors,
            collateral: RwLock::new(BoundedCache::new(collateral)),
            chains: RwLock::new(BoundedCache::new(pck_chains)),
        }
    }

    /// The trust anchors.
    #[must_use]
    pub fn trust_anchors(&self) -> &TrustAnchors {
        &self.anchors
    }

    /// Verifies collateral once (or returns the cached result) for use with
    /// [`Verifier::verify_prepared`].
    ///
    /// # Errors
    /// As [`VerifiedCollateral::new`]. Failures are not cached.
    pub fn prepare(&self, collateral: &Collateral) -> Result<Arc<VerifiedCollateral>, Error> {
        let key = collateral.content_hash();
        let cached = self
            .collateral
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key);
        if let Some(hit) = cached {
            return Ok(hit);
        }
        let verified = Arc::new(VerifiedCollateral::new(collateral, &self.anchors)?);
        self.collateral
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, Arc::clone(&verified));
        Ok(verified)
    }

    fn pck_chain(
        &self,
        pem: &[u8],
        collateral: Option<&VerifiedCollateral>,
    ) -> Result<Arc<VerifiedPckChain>, Error> {
        let mut key = [0u8; 32];
        key.copy_from_slice(digest(&SHA256, pem).as_ref());
        let cached = self
            .chains
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key);
        if let Some(hit) = cached {
            return Ok(hit);
        }
        let known_ca = collateral.and_then(|c| c.known_pck_ca(&self.anchors));
        let verified = Arc::new(VerifiedPckChain::new(pem, &self.anchors, known_ca)?);
        self.chains
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, Arc::clone(&verified));
        Ok(verified)
    }

    /// Verifies a quote completely against collateral at `time`.
    ///
    /// # Errors
    /// The first failing check, as a specific [`Error`] variant.
    pub fn verify(
        &self,
        quote: &[u8],
        collateral: &Collateral,
        time: UnixTime,
    ) -> Result<VerifiedQuote, Error> {
        let parsed = Quote::parse(quote)?;
        let collateral = self.prepare(collateral)?;
        let chain = self.pck_chain(parsed.pck_chain_pem, Some(&collateral))?;
        verify_parsed(&parsed, &collateral, &chain, &self.anchors, time)
    }

    /// Verifies a quote against collateral prepared by [`Verifier::prepare`] of this verifier.
    ///
    /// # Errors
    /// The first failing check; [`Error::AnchorMismatch`] if the collateral was prepared by a
    /// verifier with other trust anchors.
    pub fn verify_prepared(
        &self,
        quote: &[u8],
        collateral: &VerifiedCollateral,
        time: UnixTime,
    ) -> Result<VerifiedQuote, Error> {
        let parsed = Quote::parse(quote)?;
        let chain = self.pck_chain(parsed.pck_chain_pem, Some(collateral))?;
        verify_parsed(&parsed, collateral, &chain, &self.anchors, time)
    }

    /// [`crate::verify_signatures_and_chain`] with this verifier's anchors and chain cache.
    ///
    /// # Errors
    /// The first failing check.
    pub fn verify_signatures_and_chain(
        &self,
        quote: &[u8],
        time: UnixTime,
    ) -> Result<SignedQuote, Error> {
        let parsed = Quote::parse(quote)?;
        let chain = self.pck_chain(parsed.pck_chain_pem, None)?;
        signatures_and_chain(&parsed, &chain, &self.anchors, time)
    }

    /// Number of cached collateral sets and PCK chains.
    #[must_use]
    pub fn cache_len(&self) -> (usize, usize) {
        (
            self.collateral
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .len(),
            self.chains
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .len(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_cache_forgets_oldest() {
        let mut cache = BoundedCache::new(2);
        cache.insert(1, "a");
        cache.insert(2, "b");
        cache.insert(1, "a2");
        cache.insert(3, "c");
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.get(&1), None);
        assert_eq!(cache.get(&2), Some("b"));
        assert_eq!(cache.get(&3), Some("c"));
    }

    #[test]
    fn verifier_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Verifier>();
    }
}
