//! The cache: single flight, hits, expiry, failures, grace, backoff, refresher, persistence.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use attesto_collateral::{
    CacheOptions, CollateralCache, CollateralError, CollateralKey, RefreshReport,
};
use attesto_quote::TrustAnchors;
use attesto_store::Store;

use crate::common::{FMSPC, Mint, ScriptedSource, day, unix};

fn options() -> CacheOptions {
    CacheOptions {
        failure_backoff: Duration::ZERO,
        ..CacheOptions::default()
    }
}

fn cache(source: &Arc<ScriptedSource>, options: CacheOptions) -> Result<CollateralCache> {
    Ok(CollateralCache::new(
        Arc::clone(source) as Arc<dyn attesto_collateral::CollateralSource>,
        None,
        options,
    )?)
}

fn unavailable_reason(
    result: Result<attesto_collateral::Fresh, CollateralError>,
) -> Result<String> {
    match result {
        Err(CollateralError::Unavailable { reason, .. }) => Ok(reason),
        Err(other) => bail!("expected Unavailable, got {other}"),
        Ok(fresh) => bail!("expected Unavailable, got collateral from {}", fresh.origin),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_misses_make_one_fetch() -> Result<()> {
    let mint = Mint::new();
    let key = mint.key(FMSPC);
    let source = Arc::new(
        ScriptedSource::new(vec![Ok(mint.collateral(FMSPC, day(0)))])
            .slow(Duration::from_millis(200)),
    );
    let cache = Arc::new(cache(&source, options())?);
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let cache = Arc::clone(&cache);
            tokio::spawn(async move { cache.get(&key, day(1)).await })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await??);
    }
    assert_eq!(source.calls(), 1, "one fetch for fifty concurrent misses");
    let first = results.first().context("results")?;
    assert!(
        results
            .iter()
            .all(|r| Arc::ptr_eq(&r.collateral, &first.collateral))
    );
    assert!(results.iter().all(|r| !r.stale_grace));
    let snapshot = cache.snapshot(day(1));
    assert_eq!(snapshot.fetches, 1);
    assert_eq!(snapshot.hits + snapshot.misses, 50);
    Ok(())
}

#[tokio::test]
async fn a_hit_does_not_fetch_and_snapshot_reports_the_entry() -> Result<()> {
    let mint = Mint::new();
    let key = mint.key(FMSPC);
    let source = Arc::new(ScriptedSource::new(vec![
        Ok(mint.collateral(FMSPC, day(0))),
    ]));
    let cache = cache(&source, options())?;
    let first = cache.get(&key, day(1)).await?;
    let second = cache.get(&key, day(2)).await?;
    assert_eq!(source.calls(), 1);
    assert!(Arc::ptr_eq(&first.collateral, &second.collateral));
    assert_eq!(first.next_update, day(29));
    assert_eq!(first.not_before.as_secs(), day(0).as_secs() - 86_400);
    assert_eq!(first.fetched_at, day(1));
    assert_eq!(first.verification_time(day(2)), day(2));
    let snapshot = cache.snapshot(day(3));
    assert_eq!(
        (snapshot.hits, snapshot.misses, snapshot.fetches),
        (1, 1, 1)
    );
    let [entry] = snapshot.entries.as_slice() else {
        bail!("one entry expected: {:?}", snapshot.entries);
    };
    assert_eq!(entry.key, key);
    assert_eq!(entry.age, Duration::from_secs(2 * 86_400));
    assert_eq!(entry.remaining_secs, 26 * 86_400);
    assert!(entry.valid);
    Ok(())
}

#[tokio::test]
async fn expired_collateral_is_fetched_again() -> Result<()> {
    let mint = Mint::new();
    let key = mint.key(FMSPC);
    let source = Arc::new(ScriptedSource::new(vec![
        Ok(mint.collateral(FMSPC, day(0))),
        Ok(mint.collateral(FMSPC, day(40))),
    ]));
    let cache = cache(&source, options())?;
    let old = cache.get(&key, day(1)).await?;
    // Inclusive bound: still valid at its nextUpdate.
    cache.get(&key, day(29)).await?;
    assert_eq!(source.calls(), 1);
    let new = cache.get(&key, day(41)).await?;
    assert_eq!(source.calls(), 2);
    assert!(!Arc::ptr_eq(&old.collateral, &new.collateral));
    assert_eq!(new.next_update, day(69));
    Ok(())
}

#[tokio::test]
async fn failure_with_expired_data_is_unavailable_and_names_both_causes() -> Result<()> {
    let mint = Mint::new();
    let key = mint.key(FMSPC);
    let source = Arc::new(ScriptedSource::new(vec![
        Ok(mint.collateral(FMSPC, day(0))),
        Err("PCS is down".to_owned()),
    ]));
    let cache = cache(&source, options())?;
    cache.get(&key, day(1)).await?;
    let reason = unavailable_reason(cache.get(&key, day(31)).await)?;
    assert!(reason.contains("PCS is down"), "{reason}");
    assert!(reason.contains("expired at"), "{reason}");
    let error = cache.get(&key, day(31)).await.err().context("error")?;
    assert!(error.to_string().contains(&key.to_string()), "{error}");
    assert_eq!(cache.snapshot(day(31)).fetch_errors, 2);
    Ok(())
}

#[tokio::test]
async fn failure_with_nothing_cached_is_unavailable() -> Result<()> {
    let source = Arc::new(ScriptedSource::new(vec![Err(
        "connection refused".to_owned()
    )]));
    let cache = cache(&source, options())?;
    let key: CollateralKey = "tdx/b0c06f000000/platform".parse()?;
    let reason = unavailable_reason(cache.get(&key, day(0)).await)?;
    assert!(reason.contains("connection refused"), "{reason}");
    assert!(reason.contains("scripted source"), "{reason}");
    Ok(())
}

#[tokio::test]
async fn grace_serves_expired_collateral_only_when_enabled_and_within_the_period() -> Result<()> {
    let mint = Mint::new();
    let key = mint.key(FMSPC);
    let answers = || {
        vec![
            Ok(mint.collateral(FMSPC, day(0))),
            Err("PCS is down".to_owned()),
        ]
    };

    // Off by default.
    let source = Arc::new(ScriptedSource::new(answers()));
    let strict = cache(&source, options())?;
    strict.get(&key, day(1)).await?;
    unavailable_reason(strict.get(&key, day(30)).await)?;

    let source = Arc::new(ScriptedSource::new(answers()));
    let lenient = cache(
        &source,
        CacheOptions {
            grace: Some(Duration::from_secs(2 * 86_400)),
            ..options()
        },
    )?;
    lenient.get(&key, day(1)).await?;
    let fresh = lenient.get(&key, day(30)).await?;
    assert!(fresh.stale_grace);
    assert_eq!(fresh.next_update, day(29));
    assert_eq!(fresh.verification_time(day(30)), day(29));
    assert_eq!(lenient.snapshot(day(30)).grace_served, 1);
    // Three days past nextUpdate: beyond the grace period.
    unavailable_reason(lenient.get(&key, day(32)).await)?;
    Ok(())
}

#[tokio::test]
async fn a_recent_failure_is_not_retried_on_every_request() -> Result<()> {
    let source = Arc::new(ScriptedSource::new(vec![Err("404".to_owned())]));
    let cache = cache(
        &source,
        CacheOptions {
            failure_backoff: Duration::from_secs(10),
            ..CacheOptions::default()
        },
    )?;
    let key: CollateralKey = "sgx/00a067110000/processor".parse()?;
    let t = day(0).as_secs();
    unavailable_reason(cache.get(&key, unix(t)).await)?;
    unavailable_reason(cache.get(&key, unix(t + 5)).await)?;
    assert_eq!(source.calls(), 1);
    unavailable_reason(cache.get(&key, unix(t + 11)).await)?;
    assert_eq!(source.calls(), 2);
    Ok(())
}

#[tokio::test]
async fn collateral_for_another_key_is_refused() -> Result<()> {
    let mint = Mint::new();
    let other = [0x11; 6];
    let source = Arc::new(ScriptedSource::new(vec![
        Ok(mint.collateral(other, day(0))),
    ]));
    let cache = cache(&source, options())?;
    let key = mint.key(FMSPC);
    let reason = unavailable_reason(cache.get(&key, day(1)).await)?;
    assert!(reason.contains("returned collateral for"), "{reason}");
    assert!(cache.snapshot(day(1)).entries.is_empty());
    Ok(())
}

#[tokio::test]
async fn verify_with_rejects_collateral_that_does_not_chain_to_the_anchors() -> Result<()> {
    let mint = Mint::new();
    let key = mint.key(FMSPC);
    let source = Arc::new(ScriptedSource::new(vec![
        Ok(mint.collateral(FMSPC, day(0))),
    ]));
    let intel_only = cache(
        &source,
        CacheOptions {
            verify_with: Some(TrustAnchors::intel()),
            ..options()
        },
    )?;
    let reason = unavailable_reason(intel_only.get(&key, day(1)).await)?;
    assert!(reason.contains("failed verification"), "{reason}");

    let test_root = cache(
        &source,
        CacheOptions {
            verify_with: Some(TrustAnchors::from_der(mint.pki.root_der())?),
            ..options()
        },
    )?;
    assert!(!test_root.get(&key, day(1)).await?.stale_grace);
    Ok(())
}

#[tokio::test]
async fn key_count_is_bounded() -> Result<()> {
    let mint = Mint::new();
    let (a, b, c) = ([1; 6], [2; 6], [3; 6]);
    let source = Arc::new(ScriptedSource::new(vec![
        Ok(mint.collateral(a, day(0))),
        Ok(mint.collateral(b, day(0))),
    ]));
    let cache = cache(
        &source,
        CacheOptions {
            max_keys: 2,
            ..options()
        },
    )?;
    cache.get(&mint.key(a), day(1)).await?;
    cache.get(&mint.key(b), day(1)).await?;
    let calls = source.calls();
    let reason = unavailable_reason(cache.get(&mint.key(c), day(1)).await)?;
    assert!(reason.contains("tracks 2"), "{reason}");
    assert_eq!(source.calls(), calls, "a refused key is not fetched");
    Ok(())
}

#[tokio::test]
async fn refresh_replaces_due_entries_and_keeps_them_on_failure() -> Result<()> {
    let mint = Mint::new();
    let key = mint.key(FMSPC);
    let source = Arc::new(ScriptedSource::new(vec![
        Ok(mint.collateral(FMSPC, day(0))),
    ]));
    let cache = cache(&source, options())?;
    cache.get(&key, day(1)).await?;

    // Not due yet: more than the margin (1 h) before nextUpdate (day 29).
    assert_eq!(cache.refresh_due(day(28)).await, RefreshReport::default());
    assert_eq!(source.calls(), 1);

    let due = unix(day(29).as_secs() - 1800);
    source.push(Ok(mint.collateral(FMSPC, day(28))));
    assert_eq!(
        cache.refresh_due(due).await,
        RefreshReport {
            refreshed: 1,
            failed: 0
        }
    );
    assert_eq!(cache.get(&key, due).await?.next_update, day(57));

    // A failing refresh keeps the valid copy and backs off.
    let due = unix(day(57).as_secs() - 1800);
    source.push(Err("PCS is down".to_owned()));
    assert_eq!(
        cache.refresh_due(due).await,
        RefreshReport {
            refreshed: 0,
            failed: 1
        }
    );
    let calls = source.calls();
    let kept = cache.get(&key, due).await?;
    assert_eq!(kept.next_update, day(57));
    assert!(!kept.stale_grace);
    assert_eq!(
        cache.refresh_due(due).await,
        RefreshReport::default(),
        "backing off"
    );
    assert_eq!(source.calls(), calls);
    // After the first retry delay (30 s) it tries again.
    cache.refresh_due(unix(due.as_secs() + 31)).await;
    assert_eq!(source.calls(), calls + 1);
    Ok(())
}

#[tokio::test]
async fn the_background_refresher_runs_and_stops_with_the_cache() -> Result<()> {
    let mint = Mint::new();
    let key = mint.key(FMSPC);
    let source = Arc::new(ScriptedSource::new(vec![
        Ok(mint.collateral(FMSPC, day(0))),
        Ok(mint.collateral(FMSPC, day(28))),
    ]));
    let cache = Arc::new(cache(
        &source,
        CacheOptions {
            refresh_tick: Duration::from_millis(10),
            ..options()
        },
    )?);
    cache.get(&key, day(1)).await?;
    let clock = Arc::new(AtomicU64::new(day(1).as_secs()));
    let handle = Arc::clone(&cache).spawn_refresher({
        let clock = Arc::clone(&clock);
        move || unix(clock.load(Ordering::SeqCst))
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(source.calls(), 1, "nothing due yet");
    clock.store(day(29).as_secs() - 60, Ordering::SeqCst);
    let mut waited = 0;
    while source.calls() < 2 {
        tokio::time::sleep(Duration::from_millis(10)).await;
        waited += 1;
        if waited > 500 {
            bail!("the refresher never fetched");
        }
    }
    drop(cache);
    tokio::time::timeout(Duration::from_secs(5), handle).await??;
    Ok(())
}

#[tokio::test]
async fn fetched_collateral_persists_across_cache_instances() -> Result<()> {
    let mint = Mint::new();
    let key = mint.key(FMSPC);
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path())?;
    let fetched = mint.collateral(FMSPC, day(0));
    {
        let source = Arc::new(ScriptedSource::new(vec![Ok(fetched.clone())]));
        let cache = CollateralCache::new(source, Some(store.clone()), options())?;
        cache.get(&key, day(1)).await?;
    }
    let stored = store
        .collateral(&key.to_string())?
        .context("persisted under the key's string form")?;
    assert_eq!(stored.json, fetched.json);
    assert_eq!(stored.next_update, i64::try_from(day(29).as_secs())?);
    assert_eq!(stored.fetched_at, i64::try_from(day(1).as_secs())?);

    // A new cache over the same store serves it without a working source.
    let failing = Arc::new(ScriptedSource::new(vec![Err("offline".to_owned())]));
    let cache = CollateralCache::new(
        Arc::clone(&failing) as Arc<dyn attesto_collateral::CollateralSource>,
        Some(store.clone()),
        options(),
    )?;
    let fresh = cache.get(&key, day(2)).await?;
    assert_eq!(*fresh.collateral, fetched.collateral);
    assert_eq!(fresh.fetched_at, day(1));
    assert_eq!(failing.calls(), 0);

    // A garbage record is skipped, not fatal.
    store.put_collateral(
        "sgx/111111111111/processor",
        &attesto_store::StoredCollateral {
            json: "{}".to_owned(),
            fetched_at: 0,
            next_update: 0,
            source: "junk".to_owned(),
        },
    )?;
    let cache = CollateralCache::new(failing, Some(store), options())?;
    assert_eq!(cache.snapshot(day(2)).entries.len(), 1);
    Ok(())
}
