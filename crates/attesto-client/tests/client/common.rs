//! Shared helpers.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use attesto_client::evidence::{SimulatedEnclave, SimulatedIdentity};
use attesto_testkit::TestPki;
use rustls_pki_types::UnixTime;

/// The repository's `testdata/maa-sample`.
pub fn maa_sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/maa-sample")
}

/// The eight enclave-info files of the sample.
pub fn sample_files() -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for dir in [
        "sgx.attest.sample.intel.sdk/genquotes/out",
        "sgx.attest.sample.oe.sdk/genquotes/quotes",
    ] {
        for entry in std::fs::read_dir(maa_sample().join(dir)).context(dir)? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "json") {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

pub fn unix(secs: u64) -> UnixTime {
    UnixTime::since_unix_epoch(Duration::from_secs(secs))
}

/// The wall clock, for tests that talk to a server using it.
pub fn now() -> UnixTime {
    UnixTime::now()
}

/// A simulated enclave with `identity` under a fresh test PKI, collateral valid now.
pub fn simulated(identity: SimulatedIdentity) -> Result<SimulatedEnclave> {
    Ok(SimulatedEnclave::new(TestPki::generate()?, identity, now()))
}
