//! Entry points for `cargo fuzz` (not a stable API).

use std::sync::LazyLock;
use std::time::Duration;

use rustls_pki_types::UnixTime;

use crate::{Collateral, Quote, Verifier};

/// Real collateral sets and a time inside their windows.
struct Fixture {
    verifier: Verifier,
    sets: Vec<(Collateral, UnixTime)>,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let sources = [
        (
            include_str!("../../../testdata/dcap/phala-dcap-qvl/sgx_quote_collateral.json"),
            1_751_328_000,
        ),
        (
            include_str!("../../../testdata/dcap/phala-dcap-qvl/tdx_quote_collateral.json"),
            1_751_328_000,
        ),
    ];
    let sets = sources
        .into_iter()
        .filter_map(|(json, secs)| {
            Collateral::from_json(json)
                .ok()
                .map(|c| (c, UnixTime::since_unix_epoch(Duration::from_secs(secs))))
        })
        .collect();
    Fixture {
        verifier: Verifier::new(),
        sets,
    }
});

/// Parses `data` as a quote and verifies it against each fixed collateral set at its fixed
/// time. Must never panic; allocation is bounded by the input size.
pub fn parse_and_verify(data: &[u8]) {
    let parsed = Quote::parse(data);
    for (collateral, time) in &FIXTURE.sets {
        let result = FIXTURE.verifier.verify(data, collateral, *time);
        // Verification can only succeed for bytes that parse.
        assert!(result.is_err() || parsed.is_ok());
    }
}
