//! The offline source: indexing a directory of bundles, lookups, ambiguity, junk files.

use std::path::Path;

use anyhow::{Context, Result};
use attesto_collateral::{CollateralKey, CollateralSource, FetchError, OfflineSource};
use attesto_quote::Collateral;

use crate::common::{TESTDATA, read_testdata};

fn copy(name: &str, dir: &Path, as_name: &str) -> Result<()> {
    std::fs::copy(format!("{TESTDATA}/{name}"), dir.join(as_name))?;
    Ok(())
}

#[tokio::test]
async fn indexes_bundles_by_key_and_serves_them() -> Result<()> {
    let dir = tempfile::tempdir()?;
    copy(
        "phala-dcap-qvl/sgx_quote_collateral.json",
        dir.path(),
        "sgx.json",
    )?;
    copy(
        "automata-dcap-rs/derived_tdx_v4_collateral.json",
        dir.path(),
        "automata-tdx.json",
    )?;
    copy(
        "automata-dcap-rs/derived_sgx_v3_collateral.json",
        dir.path(),
        "automata-sgx.JSON",
    )?;
    std::fs::write(dir.path().join("junk.json"), "{\"not\": \"collateral\"}")?;
    std::fs::write(dir.path().join("notes.txt"), "ignored")?;
    std::fs::create_dir(dir.path().join("nested.json"))?;

    let source = OfflineSource::open(dir.path())?;
    let keys: Vec<String> = source
        .entries()
        .iter()
        .map(|(k, _)| k.to_string())
        .collect();
    assert_eq!(
        keys,
        [
            "sgx/00606a000000/platform",
            "tdx/00806f050000/platform",
            "sgx/00a067110000/processor"
        ]
    );
    let [(skipped, _)] = source.skipped() else {
        anyhow::bail!("one skipped file expected: {:?}", source.skipped());
    };
    assert!(skipped.ends_with("junk.json"));

    let key: CollateralKey = "sgx/00a067110000/processor".parse()?;
    let fetched = source.fetch(&key).await?;
    assert_eq!(
        fetched.collateral,
        Collateral::from_json(&read_testdata("phala-dcap-qvl/sgx_quote_collateral.json"))?
    );
    assert!(fetched.origin.ends_with("sgx.json"), "{}", fetched.origin);

    let unknown: CollateralKey = "sgx/00a067110000/platform".parse()?;
    match source.fetch(&unknown).await {
        Err(FetchError::NotFound { fmspc, .. }) => assert_eq!(fmspc, "00A067110000"),
        other => anyhow::bail!("expected NotFound, got {other:?}"),
    }
    assert!(source.describe().contains("offline"));
    Ok(())
}

#[tokio::test]
async fn two_bundles_for_one_key_keep_the_later_tcb_info_whatever_the_file_order() -> Result<()> {
    let key: CollateralKey = "tdx/b0c06f000000/platform".parse()?;
    let later = Collateral::from_json(&read_testdata(
        "phala-dcap-qvl/tdx_quote_td15ex_collateral.json",
    ))?;
    for (older_name, later_name) in [("a.json", "b.json"), ("b.json", "a.json")] {
        let dir = tempfile::tempdir()?;
        copy(
            "phala-dcap-qvl/tdx_quote_collateral.json",
            dir.path(),
            older_name,
        )?;
        copy(
            "phala-dcap-qvl/tdx_quote_td15ex_collateral.json",
            dir.path(),
            later_name,
        )?;
        let source = OfflineSource::open(dir.path())?;
        let (_, path) = source
            .entries()
            .into_iter()
            .find(|(k, _)| k == &key)
            .context("indexed")?;
        assert!(path.ends_with(later_name));
        assert_eq!(source.fetch(&key).await?.collateral, later);
    }
    Ok(())
}

#[test]
fn a_missing_directory_is_an_error() {
    assert!(OfflineSource::open(Path::new("/nonexistent/attesto/offline")).is_err());
}
