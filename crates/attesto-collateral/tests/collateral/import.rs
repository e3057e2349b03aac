//! `import` into the store, and the cache picking imported collateral up.

use std::sync::Arc;

use anyhow::{Result, bail};
use attesto_collateral::{
    CacheOptions, CollateralCache, CollateralKey, ImportError, ImportOutcome, import,
};
use attesto_store::Store;

use crate::common::{ScriptedSource, read_testdata, unix};

#[tokio::test]
async fn imported_bundles_are_served_by_a_new_cache() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path())?;
    let bundle = read_testdata("phala-dcap-qvl/sgx_quote_collateral.json");
    let outcome = import(&store, &bundle, "sgx.json", unix(1_751_000_000))?;
    let key: CollateralKey = "sgx/00a067110000/processor".parse()?;
    // Earliest nextUpdate of the set (expected.json window end).
    let expected_next_update = unix(1_752_919_278);
    assert_eq!(
        outcome,
        ImportOutcome::Stored {
            key,
            next_update: expected_next_update
        }
    );
    let stored = store.collateral(&key.to_string())?;
    assert_eq!(
        stored.as_ref().map(|s| s.source.as_str()),
        Some("import sgx.json")
    );

    let source = Arc::new(ScriptedSource::new(vec![Err("no network".to_owned())]));
    let cache = CollateralCache::new(
        Arc::clone(&source) as Arc<dyn attesto_collateral::CollateralSource>,
        Some(store),
        CacheOptions::default(),
    )?;
    let fresh = cache.get(&key, unix(1_751_328_000)).await?;
    assert_eq!(
        *fresh.collateral,
        attesto_quote::Collateral::from_json(&bundle)?
    );
    assert_eq!(source.calls(), 0);
    Ok(())
}

#[test]
fn an_older_bundle_does_not_replace_a_newer_one() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path())?;
    let older = read_testdata("phala-dcap-qvl/tdx_quote_collateral.json");
    let newer = read_testdata("phala-dcap-qvl/tdx_quote_td15ex_collateral.json");
    assert!(matches!(
        import(&store, &newer, "newer.json", unix(0))?,
        ImportOutcome::Stored { .. }
    ));
    match import(&store, &older, "older.json", unix(0))? {
        ImportOutcome::KeptNewer {
            key,
            existing_next_update,
        } => {
            assert_eq!(key.to_string(), "tdx/b0c06f000000/platform");
            assert!(existing_next_update.as_secs() > 1_790_000_000);
        }
        other => bail!("expected KeptNewer, got {other:?}"),
    }
    let kept = store.collateral("tdx/b0c06f000000/platform")?;
    assert_eq!(kept.map(|s| s.source), Some("import newer.json".to_owned()));
    Ok(())
}

#[test]
fn malformed_bundles_are_refused() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path())?;
    assert!(matches!(
        import(&store, "{\"tcb_info\": 1}", "bad.json", unix(0)),
        Err(ImportError::Malformed(_))
    ));
    assert!(store.collateral_keys()?.is_empty());
    Ok(())
}
