//! The collateral cache every request shares: valid collateral from memory, one fetch per key at
//! a time, persisted through the store, refreshed before it expires.
//!
//! ```text
//! get(key, now) ─ valid in memory? ──yes──► Fresh
//!        │ no
//!        ├─ failed < failure_backoff ago? ──► grace or Unavailable (the source is not hammered)
//!        ▼
//!   per-key async lock (single flight) ─ someone fetched while we waited? ──► their outcome
//!        ▼
//!   spawned fetch (survives the request being cancelled) ─► check key, signatures (optional),
//!   keep only if not older ─► store ─► Fresh, or grace, or Unavailable { key, reason }
//! ```
//!
//! **Validity** is every document window (TCB info, QE identity, PCK CRL, root CA CRL) containing
//! `now`, bounds inclusive, the same rule the verifier applies.
//!
//! **Grace** (off by default): when no valid collateral can be had and the cached one expired at
//! most `grace` ago, it is returned with `stale_grace = true`. The verifier checks windows at the
//! time it is given, so the caller must verify at [`Fresh::verification_time`] (the collateral's
//! earliest `nextUpdate`, the last second every window held) and must say so in the token.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use attesto_quote::time::format_rfc3339;
use attesto_quote::{Collateral, CollateralSummary, TrustAnchors, VerifiedCollateral};
use attesto_store::{Store, StoreError, StoredCollateral};
use rustls_pki_types::UnixTime;

use crate::bundle::Fetched;
use crate::key::CollateralKey;
use crate::source::CollateralSource;

/// How the cache behaves. Every field has a production default.
#[derive(Clone, Debug)]
pub struct CacheOptions {
    /// Refresh an entry this long before its earliest `nextUpdate` (default 1 h).
    pub refresh_margin: Duration,
    /// Off by default. Serve collateral up to this long past its `nextUpdate` when no valid
    /// collateral can be fetched, flagged `stale_grace`.
    pub grace: Option<Duration>,
    /// After a failed fetch for a key, requests within this time get the failure without a new
    /// fetch (default 10 s), so an outage or an unknown FMSPC does not turn every request into a
    /// request to the source.
    pub failure_backoff: Duration,
    /// First retry delay of the background refresher after a failure; doubles up to
    /// `retry_max` (defaults 30 s and 30 min).
    pub retry_min: Duration,
    /// Longest retry delay of the background refresher.
    pub retry_max: Duration,
    /// How often the background refresher looks for due entries (default 60 s).
    pub refresh_tick: Duration,
    /// If set, fetched collateral must pass [`VerifiedCollateral::new`] (signatures and chains
    /// to these anchors, no time check) before it can replace anything. Off by default because
    /// the verifier checks it anyway; set it to the verifier's anchors so a broken fetch cannot
    /// displace good collateral.
    pub verify_with: Option<TrustAnchors>,
    /// Most distinct keys kept. Keys come from unverified quotes, so a flood of made-up FMSPCs
    /// must not grow memory without bound: entries without collateral are dropped first, and
    /// beyond the limit new keys are refused (default 1024).
    pub max_keys: usize,
}

impl Default for CacheOptions {
    fn default() -> Self {
        Self {
            refresh_margin: Duration::from_secs(60 * 60),
            grace: None,
            failure_backoff: Duration::from_secs(10),
            retry_min: Duration::from_secs(30),
            retry_max: Duration::from_secs(30 * 60),
            refresh_tick: Duration::from_secs(60),
            verify_with: None,
            max_keys: 1024,
        }
    }
}

/// Valid collateral for a quote.
#[derive(Clone, Debug)]
pub struct Fresh {
    /// The collateral.
    pub collateral: Arc<Collateral>,
    /// `true` when it is past its `nextUpdate`, served under the grace option.
    pub stale_grace: bool,
    /// Its key.
    pub key: CollateralKey,
    /// The latest start of its windows.
    pub not_before: UnixTime,
    /// Its earliest `nextUpdate`.
    pub next_update: UnixTime,
    /// When it was fetched.
    pub fetched_at: UnixTime,
    /// Where it came from.
    pub origin: Arc<str>,
}

impl Fresh {
    /// The time to verify the quote at: `now`, or for grace collateral its earliest
    /// `nextUpdate`, the last second at which every collateral window held.
    #[must_use]
    pub fn verification_time(&self, now: UnixTime) -> UnixTime {
        if self.stale_grace && now.as_secs() > self.next_update.as_secs() {
            self.next_update
        } else {
            now
        }
    }
}

/// Why no collateral could be returned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CollateralError {
    /// No valid collateral for `key`, and none could be fetched. The server answers 503 and
    /// names the key and reason.
    #[error("no valid collateral for {key}: {reason}")]
    Unavailable {
        /// The key.
        key: CollateralKey,
        /// What failed, e.g. the source's error and when the cached copy expired.
        reason: String,
    },
    /// Loading persisted collateral failed at the database level (not a bad record: those are
    /// skipped with a warning).
    #[error("loading cached collateral: {0}")]
    Store(#[from] StoreError),
}

/// Counters and per-key state, for metrics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CacheSnapshot {
    /// Requests answered from memory.
    pub hits: u64,
    /// Requests that found nothing valid in memory.
    pub misses: u64,
    /// Fetches started (requests and refresher).
    pub fetches: u64,
    /// Fetches that failed or delivered unusable collateral.
    pub fetch_errors: u64,
    /// Requests answered with expired collateral under the grace option.
    pub grace_served: u64,
    /// Every key with collateral, sorted by key string.
    pub entries: Vec<EntrySnapshot>,
}

/// The state of one cached key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntrySnapshot {
    /// The key.
    pub key: CollateralKey,
    /// Where the collateral came from.
    pub origin: String,
    /// When it was fetched.
    pub fetched_at: UnixTime,
    /// Its earliest `nextUpdate`.
    pub next_update: UnixTime,
    /// `now - fetched_at` (zero if the clock is behind).
    pub age: Duration,
    /// Seconds until `next_update`; negative once expired.
    pub remaining_secs: i64,
    /// Whether every window contains `now`.
    pub valid: bool,
    /// The last fetch error for this key, if the last fetch failed.
    pub last_error: Option<String>,
}

/// What one pass of the refresher did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RefreshReport {
    /// Entries fetched anew and no longer due.
    pub refreshed: usize,
    /// Entries whose refresh failed (or brought nothing newer); retried with backoff.
    pub failed: usize,
}

/// A cached collateral set.
#[derive(Debug)]
struct Entry {
    collateral: Arc<Collateral>,
    summary: CollateralSummary,
    origin: Arc<str>,
    fetched_at: UnixTime,
}

impl Entry {
    fn fresh(&self, key: CollateralKey, stale_grace: bool) -> Fresh {
        Fresh {
            collateral: Arc::clone(&self.collateral),
            stale_grace,
            key,
            not_before: self.summary.not_before(),
            next_update: self.summary.not_after(),
            fetched_at: self.fetched_at,
            origin: Arc::clone(&self.origin),
        }
    }
}

#[derive(Debug, Default)]
struct Slot {
    entry: Option<Arc<Entry>>,
    /// Bumped after every completed fetch, so waiters can tell a fetch happened meanwhile.
    generation: u64,
    /// `(now, reason)` of the last failed fetch; cleared by a successful one.
    last_error: Option<(u64, String)>,
    /// Single flight: held for the whole of a fetch.
    fetch_lock: Arc<tokio::sync::Mutex<()>>,
    /// Refresher backoff: not before this time (Unix seconds), and the current delay.
    retry_at: u64,
    retry_delay: Duration,
}

#[derive(Debug, Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    fetches: AtomicU64,
    fetch_errors: AtomicU64,
    grace_served: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

struct Shared {
    source: Arc<dyn CollateralSource>,
    store: Option<Store>,
    options: CacheOptions,
    slots: Mutex<HashMap<CollateralKey, Slot>>,
    counters: Counters,
}

/// The collateral cache. Share one per process (`Arc<CollateralCache>`); every method takes
/// `&self` and is safe to call concurrently.
pub struct CollateralCache {
    shared: Arc<Shared>,
}

impl core::fmt::Debug for CollateralCache {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CollateralCache")
            .field("source", &self.shared.source.describe())
            .field("options", &self.shared.options)
            .finish_non_exhaustive()
    }
}

fn secs(t: UnixTime) -> u64 {
    t.as_secs()
}

fn unix(secs: u64) -> UnixTime {
    UnixTime::since_unix_epoch(Duration::from_secs(secs))
}

fn signed_secs(t: UnixTime) -> i64 {
    i64::try_from(t.as_secs()).unwrap_or(i64::MAX)
}

impl CollateralCache {
    /// A cache over `source`, loading what `store` holds (blocking: call it at startup or on a
    /// blocking thread). Unreadable persisted entries are skipped with a warning; they are
    /// replaced by the next fetch.
    ///
    /// # Errors
    /// [`CollateralError::Store`] if the store cannot be read at all.
    pub fn new(
        source: Arc<dyn CollateralSource>,
        store: Option<Store>,
        options: CacheOptions,
    ) -> Result<Self, CollateralError> {
        let mut slots = HashMap::new();
        if let Some(store) = &store {
            for key_text in store.collateral_keys()? {
                if let Some((key, entry)) = load_entry(store, &key_text)? {
                    slots.insert(
                        key,
                        Slot {
                            entry: Some(Arc::new(entry)),
                            ..Slot::default()
                        },
                    );
                }
            }
        }
        Ok(Self {
            shared: Arc::new(Shared {
                source,
                store,
                options,
                slots: Mutex::new(slots),
                counters: Counters::default(),
            }),
        })
    }

    /// The source's description.
    #[must_use]
    pub fn source_description(&self) -> String {
        self.shared.source.describe()
    }

    /// Whether memory already holds collateral for `key` valid at `now` (so `get` will not
    /// fetch). Lets callers do expensive checks only before a fetch.
    #[must_use]
    pub fn has_valid(&self, key: &CollateralKey, now: UnixTime) -> bool {
        let slots = self.shared.lock_slots();
        slots
            .get(key)
            .and_then(|slot| slot.entry.as_ref())
            .is_some_and(|entry| entry.summary.contains(now))
    }

    /// Valid collateral for `key` at `now`: from memory, else fetched (one fetch per key at a
    /// time, shared by every waiting request), else under the grace option expired collateral.
    ///
    /// # Errors
    /// [`CollateralError::Unavailable`] naming the key and what failed.
    pub async fn get(&self, key: &CollateralKey, now: UnixTime) -> Result<Fresh, CollateralError> {
        let shared = &self.shared;
        let (generation, fetch_lock) = {
            let mut slots = shared.lock_slots();
            if let Some(slot) = slots.get(key)
                && let Some(entry) = &slot.entry
                && entry.summary.contains(now)
            {
                bump(&shared.counters.hits);
                return Ok(entry.fresh(*key, false));
            }
            bump(&shared.counters.misses);
            let slot = shared.slot_for(&mut slots, key)?;
            if let Some((at, reason)) = &slot.last_error
                && secs(now).saturating_sub(*at) < shared.options.failure_backoff.as_secs()
            {
                return shared.fallback(slot, key, now, reason);
            }
            (slot.generation, Arc::clone(&slot.fetch_lock))
        };

        let guard = fetch_lock.lock_owned().await;
        {
            let slots = shared.lock_slots();
            if let Some(slot) = slots.get(key)
                && slot.generation != generation
            {
                // A fetch finished while we waited: its outcome is ours.
                drop(guard);
                return shared.outcome(slot, key, now);
            }
        }
        // Spawned, so the fetch completes and fills the cache even if this request is dropped.
        let task = tokio::spawn({
            let shared = Arc::clone(shared);
            let key = *key;
            async move {
                let _guard = guard;
                shared.fetch_and_store(key, now).await;
            }
        });
        if let Err(e) = task.await {
            tracing::error!(%key, error = %e, "collateral fetch task failed");
        }
        let slots = shared.lock_slots();
        match slots.get(key) {
            Some(slot) => shared.outcome(slot, key, now),
            None => Err(CollateralError::Unavailable {
                key: *key,
                reason: "fetch did not complete".to_owned(),
            }),
        }
    }

    /// Refreshes every entry due at `now` (earliest `nextUpdate` within the refresh margin) and
    /// not backing off after a failure. Failures keep the old collateral and back off
    /// exponentially. The background refresher calls this every tick.
    pub async fn refresh_due(&self, now: UnixTime) -> RefreshReport {
        let margin = self.shared.options.refresh_margin.as_secs();
        let due: Vec<(CollateralKey, Arc<tokio::sync::Mutex<()>>)> = {
            let slots = self.shared.lock_slots();
            let mut due: Vec<_> = slots
                .iter()
                .filter(|(_, slot)| slot.retry_at <= secs(now))
                .filter(|(_, slot)| {
                    slot.entry.as_ref().is_some_and(|e| {
                        secs(e.summary.not_after()).saturating_sub(margin) <= secs(now)
                    })
                })
                .map(|(key, slot)| (*key, Arc::clone(&slot.fetch_lock)))
                .collect();
            due.sort_by_key(|(key, _)| key.to_string());
            due
        };
        let mut report = RefreshReport::default();
        for (key, lock) in due {
            let _guard = lock.lock().await;
            let before = self.shared.lock_slots().get(&key).map(|s| s.generation);
            // A request may have fetched it while we waited for the lock.
            let still_due = {
                let slots = self.shared.lock_slots();
                slots.get(&key).is_some_and(|slot| {
                    slot.entry.as_ref().is_some_and(|e| {
                        secs(e.summary.not_after()).saturating_sub(margin) <= secs(now)
                    })
                })
            };
            if !still_due {
                continue;
            }
            self.shared.fetch_and_store(key, now).await;
            let mut slots = self.shared.lock_slots();
            let Some(slot) = slots.get_mut(&key) else {
                continue;
            };
            let ok = slot.last_error.is_none()
                && slot.generation != before.unwrap_or(u64::MAX)
                && slot.entry.as_ref().is_some_and(|e| {
                    secs(e.summary.not_after()).saturating_sub(margin) > secs(now)
                });
            if ok {
                slot.retry_at = 0;
                slot.retry_delay = Duration::ZERO;
                report.refreshed += 1;
            } else {
                let options = &self.shared.options;
                slot.retry_delay = (slot.retry_delay * 2)
                    .max(options.retry_min)
                    .min(options.retry_max);
                slot.retry_at = secs(now).saturating_add(slot.retry_delay.as_secs());
                tracing::warn!(
                    %key,
                    retry_in_secs = slot.retry_delay.as_secs(),
                    error = slot.last_error.as_ref().map_or("nothing newer than the cached collateral", |(_, r)| r.as_str()),
                    "collateral refresh failed; keeping the cached copy"
                );
                report.failed += 1;
            }
        }
        report
    }

    /// Starts the background refresher: every `refresh_tick` it calls
    /// [`CollateralCache::refresh_due`] with `clock()`. It stops once the cache is dropped.
    pub fn spawn_refresher<F>(self: Arc<Self>, clock: F) -> tokio::task::JoinHandle<()>
    where
        F: Fn() -> UnixTime + Send + Sync + 'static,
    {
        // A zero tick would spin; nothing needs refreshing more often than this.
        let tick = self
            .shared
            .options
            .refresh_tick
            .max(Duration::from_millis(10));
        let weak: Weak<Self> = Arc::downgrade(&self);
        drop(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(tick).await;
                let Some(cache) = weak.upgrade() else {
                    break;
                };
                let report = cache.refresh_due(clock()).await;
                if report != RefreshReport::default() {
                    tracing::info!(
                        refreshed = report.refreshed,
                        failed = report.failed,
                        "collateral refresh pass"
                    );
                }
            }
        })
    }

    /// Counters and per-key state at `now`.
    #[must_use]
    pub fn snapshot(&self, now: UnixTime) -> CacheSnapshot {
        let counters = &self.shared.counters;
        let mut entries: Vec<EntrySnapshot> = {
            let slots = self.shared.lock_slots();
            slots
                .iter()
                .filter_map(|(key, slot)| {
                    let entry = slot.entry.as_ref()?;
                    let next_update = entry.summary.not_after();
                    Some(EntrySnapshot {
                        key: *key,
                        origin: entry.origin.to_string(),
                        fetched_at: entry.fetched_at,
                        next_update,
                        age: Duration::from_secs(secs(now).saturating_sub(secs(entry.fetched_at))),
                        remaining_secs: signed_secs(next_update).saturating_sub(signed_secs(now)),
                        valid: entry.summary.contains(now),
                        last_error: slot.last_error.as_ref().map(|(_, r)| r.clone()),
                    })
                })
                .collect()
        };
        entries.sort_by_key(|e| e.key.to_string());
        CacheSnapshot {
            hits: counters.hits.load(Ordering::Relaxed),
            misses: counters.misses.load(Ordering::Relaxed),
            fetches: counters.fetches.load(Ordering::Relaxed),
            fetch_errors: counters.fetch_errors.load(Ordering::Relaxed),
            grace_served: counters.grace_served.load(Ordering::Relaxed),
            entries,
        }
    }
}

/// Loads one persisted entry; `Ok(None)` (with a warning) for a record that cannot be used.
fn load_entry(store: &Store, key_text: &str) -> Result<Option<(CollateralKey, Entry)>, StoreError> {
    let Ok(key) = key_text.parse::<CollateralKey>() else {
        tracing::warn!(
            key = key_text,
            "ignoring cached collateral under an unknown key"
        );
        return Ok(None);
    };
    let stored = match store.collateral(key_text) {
        Ok(Some(stored)) => stored,
        Ok(None) => return Ok(None),
        Err(e @ (StoreError::Corrupt { .. } | StoreError::UnsupportedVersion { .. })) => {
            tracing::warn!(%key, error = %e, "ignoring unreadable cached collateral");
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    let fetched = match Fetched::from_json(&stored.json, stored.source.clone()) {
        Ok(f) if f.key() == key => f,
        Ok(f) => {
            tracing::warn!(%key, found = %f.key(), "ignoring cached collateral filed under the wrong key");
            return Ok(None);
        }
        Err(e) => {
            tracing::warn!(%key, error = %e, "ignoring cached collateral that does not parse");
            return Ok(None);
        }
    };
    let fetched_at = unix(u64::try_from(stored.fetched_at).unwrap_or(0));
    Ok(Some((
        key,
        Entry {
            collateral: Arc::new(fetched.collateral),
            summary: fetched.summary,
            origin: Arc::from(fetched.origin),
            fetched_at,
        },
    )))
}

impl Shared {
    fn lock_slots(&self) -> MutexGuard<'_, HashMap<CollateralKey, Slot>> {
        // The map holds plain data; a panic elsewhere cannot leave it half-updated.
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The slot of `key`, created if there is room.
    fn slot_for<'m>(
        &self,
        slots: &'m mut HashMap<CollateralKey, Slot>,
        key: &CollateralKey,
    ) -> Result<&'m mut Slot, CollateralError> {
        if !slots.contains_key(key) && slots.len() >= self.options.max_keys {
            // Forget keys that never produced collateral and have no fetch running.
            slots.retain(|_, slot| slot.entry.is_some() || slot.fetch_lock.try_lock().is_err());
            if slots.len() >= self.options.max_keys {
                return Err(CollateralError::Unavailable {
                    key: *key,
                    reason: format!(
                        "the cache already tracks {} collateral keys",
                        self.options.max_keys
                    ),
                });
            }
        }
        Ok(slots.entry(*key).or_default())
    }

    /// The answer for a request once a fetch outcome is known.
    fn outcome(
        &self,
        slot: &Slot,
        key: &CollateralKey,
        now: UnixTime,
    ) -> Result<Fresh, CollateralError> {
        if let Some(entry) = &slot.entry
            && entry.summary.contains(now)
        {
            return Ok(entry.fresh(*key, false));
        }
        let reason = slot
            .last_error
            .as_ref()
            .map_or("no collateral", |(_, reason)| reason.as_str());
        self.fallback(slot, key, now, reason)
    }

    /// Grace, or `Unavailable` with the reason and the cached copy's expiry.
    fn fallback(
        &self,
        slot: &Slot,
        key: &CollateralKey,
        now: UnixTime,
        reason: &str,
    ) -> Result<Fresh, CollateralError> {
        if let Some(entry) = &slot.entry {
            let not_after = secs(entry.summary.not_after());
            if let Some(grace) = self.options.grace
                && secs(now) > not_after
                && secs(now) - not_after <= grace.as_secs()
            {
                bump(&self.counters.grace_served);
                tracing::warn!(%key, expired = %format_rfc3339(entry.summary.not_after()),
                    "serving expired collateral under the grace option");
                return Ok(entry.fresh(*key, true));
            }
            let when = if secs(now) > not_after {
                format!(
                    "cached collateral expired at {}",
                    format_rfc3339(entry.summary.not_after())
                )
            } else {
                format!(
                    "cached collateral is not valid before {}",
                    format_rfc3339(entry.summary.not_before())
                )
            };
            return Err(CollateralError::Unavailable {
                key: *key,
                reason: format!("{reason}; {when}"),
            });
        }
        Err(CollateralError::Unavailable {
            key: *key,
            reason: reason.to_owned(),
        })
    }

    /// Fetches `key` and records the outcome in its slot (the caller holds the fetch lock).
    async fn fetch_and_store(&self, key: CollateralKey, now: UnixTime) {
        bump(&self.counters.fetches);
        let result = match self.source.fetch(&key).await {
            Ok(fetched) => self.accept(&key, fetched, now),
            Err(e) => Err(format!("{}: {e}", self.source.describe())),
        };
        let (to_store, error) = match result {
            Ok(accepted) => accepted,
            Err(reason) => (None, Some(reason)),
        };
        if let Some(reason) = &error {
            bump(&self.counters.fetch_errors);
            tracing::warn!(%key, %reason, "collateral fetch failed");
        }
        if let Some((entry, json)) = &to_store {
            self.persist(&key, entry, json).await;
        }
        let mut slots = self.lock_slots();
        let slot = slots.entry(key).or_default();
        slot.generation = slot.generation.wrapping_add(1);
        if let Some((entry, _)) = to_store {
            slot.entry = Some(entry);
        }
        slot.last_error = error.map(|reason| (secs(now), reason));
    }

    /// Decides what a successful fetch changes: the entry to keep and persist (never older than
    /// the cached one) and the error to report when the result is not usable at `now`.
    #[expect(
        clippy::type_complexity,
        reason = "a private two-part outcome, named at its only call site"
    )]
    fn accept(
        &self,
        key: &CollateralKey,
        fetched: Fetched,
        now: UnixTime,
    ) -> Result<(Option<(Arc<Entry>, String)>, Option<String>), String> {
        if &fetched.key() != key {
            return Err(format!(
                "{} returned collateral for {}, not {key}",
                fetched.origin,
                fetched.key()
            ));
        }
        if let Some(anchors) = &self.options.verify_with {
            VerifiedCollateral::new(&fetched.collateral, anchors).map_err(|e| {
                format!(
                    "collateral from {} failed verification: {e}",
                    fetched.origin
                )
            })?;
        }
        let window = (fetched.summary.not_before(), fetched.summary.not_after());
        let usable = fetched.summary.contains(now);
        let cached = self
            .lock_slots()
            .get(key)
            .and_then(|slot| slot.entry.as_ref())
            .map(|entry| (secs(entry.summary.not_after()), entry.summary.contains(now)));
        // Never go back to older collateral, unless only the fetched copy is usable now.
        let replace = match cached {
            None => true,
            Some((cached_not_after, cached_valid)) => {
                secs(window.1) >= cached_not_after || (usable && !cached_valid)
            }
        };
        let entry = replace.then(|| {
            (
                Arc::new(Entry {
                    collateral: Arc::new(fetched.collateral),
                    summary: fetched.summary,
                    origin: Arc::from(fetched.origin.as_str()),
                    fetched_at: now,
                }),
                fetched.json,
            )
        });
        let error = (!usable).then(|| {
            format!(
                "{} served collateral valid {} to {}, not at {}",
                fetched.origin,
                format_rfc3339(window.0),
                format_rfc3339(window.1),
                format_rfc3339(now)
            )
        });
        Ok((entry, error))
    }

    /// Writes an entry to the store on a blocking thread. A failure is logged, not returned: the
    /// in-memory copy still serves, and the next fetch writes again.
    async fn persist(&self, key: &CollateralKey, entry: &Entry, json: &str) {
        let Some(store) = self.store.clone() else {
            return;
        };
        let key_text = key.to_string();
        let record = StoredCollateral {
            json: json.to_owned(),
            fetched_at: signed_secs(entry.fetched_at),
            next_update: signed_secs(entry.summary.not_after()),
            source: entry.origin.to_string(),
        };
        let result =
            tokio::task::spawn_blocking(move || store.put_collateral(&key_text, &record)).await;
        match result {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(%key, error = %e, "could not persist collateral"),
            Err(e) => tracing::warn!(%key, error = %e, "collateral persist task failed"),
        }
    }
}
