//! `attesto collateral import`: put a bundle into the store, where the cache finds it at startup.

use attesto_store::{Store, StoreError, StoredCollateral};
use rustls_pki_types::UnixTime;

use crate::bundle::Fetched;
use crate::key::CollateralKey;

/// What [`import`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImportOutcome {
    /// The bundle is now the stored collateral for `key`.
    Stored {
        /// The key it serves.
        key: CollateralKey,
        /// Its earliest `nextUpdate`.
        next_update: UnixTime,
    },
    /// The store already holds collateral for `key` that stays valid longer; it was kept.
    KeptNewer {
        /// The key.
        key: CollateralKey,
        /// The stored collateral's earliest `nextUpdate`.
        existing_next_update: UnixTime,
    },
}

/// Why a bundle could not be imported.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// The bundle is not dcap-qvl JSON collateral, or a document in it does not parse.
    #[error("not a collateral bundle: {0}")]
    Malformed(#[from] attesto_quote::Error),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Stores a bundle (dcap-qvl JSON) under the key its TCB info and PCK CRL name, unless the
/// store holds collateral for that key that stays valid longer. `now` is recorded as the fetch
/// time; `origin` (e.g. the file name) is kept for operators.
///
/// Only parsing is checked here; callers that want signatures and chains checked run
/// `attesto_quote::Verifier::prepare` first (the CLI does). Blocking.
///
/// # Errors
/// [`ImportError::Malformed`], [`ImportError::Store`].
pub fn import(
    store: &Store,
    bundle_json: &str,
    origin: &str,
    now: UnixTime,
) -> Result<ImportOutcome, ImportError> {
    let fetched = Fetched::from_json(bundle_json, origin)?;
    let key = fetched.key();
    let key_text = key.to_string();
    let next_update = fetched.summary.not_after();
    let next_update_secs = i64::try_from(next_update.as_secs()).unwrap_or(i64::MAX);
    if let Ok(Some(existing)) = store.collateral(&key_text)
        && existing.next_update > next_update_secs
    {
        return Ok(ImportOutcome::KeptNewer {
            key,
            existing_next_update: UnixTime::since_unix_epoch(std::time::Duration::from_secs(
                u64::try_from(existing.next_update).unwrap_or(0),
            )),
        });
    }
    store.put_collateral(
        &key_text,
        &StoredCollateral {
            json: fetched.json,
            fetched_at: i64::try_from(now.as_secs()).unwrap_or(i64::MAX),
            next_update: next_update_secs,
            source: format!("import {origin}"),
        },
    )?;
    Ok(ImportOutcome::Stored { key, next_update })
}
