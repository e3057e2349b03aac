//! A directory of collateral bundles (dcap-qvl JSON), for air-gapped deployments and tests.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::{BoxFuture, CollateralSource, FetchError, SourceError};
use crate::bundle::Fetched;
use crate::key::CollateralKey;

/// Largest bundle file read; real bundles are 15-25 KiB.
const MAX_BUNDLE_BYTES: u64 = 4 * 1024 * 1024;

/// Bundles indexed once, at [`OfflineSource::open`], by the key their TCB info and PCK CRL
/// issuer name. When two bundles serve one key, the one whose TCB info was issued last wins.
/// Files that are not readable bundles are skipped with a warning and listed in
/// [`OfflineSource::skipped`].
#[derive(Debug)]
pub struct OfflineSource {
    dir: PathBuf,
    bundles: HashMap<CollateralKey, (PathBuf, Fetched)>,
    skipped: Vec<(PathBuf, String)>,
}

impl OfflineSource {
    /// Reads and indexes every `*.json` file directly in `dir` (not recursive).
    ///
    /// # Errors
    /// [`SourceError::OfflineDir`] if the directory cannot be listed. Unusable files are skipped,
    /// not errors: one bad file must not hide the good ones.
    pub fn open(dir: &Path) -> Result<Self, SourceError> {
        let dir_err = |source| SourceError::OfflineDir {
            path: dir.to_owned(),
            source,
        };
        let mut paths = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(dir_err)? {
            let path = entry.map_err(dir_err)?.path();
            if path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("json"))
                && path.is_file()
            {
                paths.push(path);
            }
        }
        // Sorted so ties in issue date resolve the same way on every start.
        paths.sort();
        let mut source = Self {
            dir: dir.to_owned(),
            bundles: HashMap::new(),
            skipped: Vec::new(),
        };
        for path in paths {
            match read_bundle(&path) {
                Ok(fetched) => source.add(path, fetched),
                Err(reason) => {
                    tracing::warn!(path = %path.display(), %reason, "skipping offline collateral file");
                    source.skipped.push((path, reason));
                }
            }
        }
        Ok(source)
    }

    fn add(&mut self, path: PathBuf, fetched: Fetched) {
        let key = fetched.key();
        let issued = fetched.summary.tcb_info.not_before.as_secs();
        match self.bundles.get(&key) {
            Some((kept, existing)) if existing.summary.tcb_info.not_before.as_secs() >= issued => {
                tracing::info!(%key, kept = %kept.display(), ignored = %path.display(),
                    "two offline bundles for one key; keeping the later TCB info");
            }
            _ => {
                self.bundles.insert(key, (path, fetched));
            }
        }
    }

    /// The indexed keys with the file serving each, sorted by file.
    #[must_use]
    pub fn entries(&self) -> Vec<(CollateralKey, PathBuf)> {
        let mut out: Vec<_> = self
            .bundles
            .iter()
            .map(|(key, (path, _))| (*key, path.clone()))
            .collect();
        out.sort_by(|a, b| a.1.cmp(&b.1));
        out
    }

    /// Files that were not usable bundles, with the reason.
    #[must_use]
    pub fn skipped(&self) -> &[(PathBuf, String)] {
        &self.skipped
    }
}

fn read_bundle(path: &Path) -> Result<Fetched, String> {
    let len = std::fs::metadata(path).map_err(|e| e.to_string())?.len();
    if len > MAX_BUNDLE_BYTES {
        return Err(format!("larger than {MAX_BUNDLE_BYTES} bytes"));
    }
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    Fetched::from_json(&text, path.display().to_string()).map_err(|e| e.to_string())
}

impl CollateralSource for OfflineSource {
    fn fetch<'a>(&'a self, key: &'a CollateralKey) -> BoxFuture<'a, Result<Fetched, FetchError>> {
        let result = self
            .bundles
            .get(key)
            .map(|(_, fetched)| fetched.clone())
            .ok_or_else(|| FetchError::NotFound {
                key: *key,
                fmspc: key.fmspc_hex(),
                location: self.dir.display().to_string(),
            });
        Box::pin(core::future::ready(result))
    }

    fn describe(&self) -> String {
        format!("offline bundles in {}", self.dir.display())
    }
}
