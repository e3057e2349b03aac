//! Cold vs warm attesto verification vs dcap-qvl, on the phala SGX and TDX vectors at
//! 1751328000 (2025-07-01). Run:
//! `cargo bench -p attesto-quote --bench verify -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use attesto_quote::{Collateral, Verifier, verify};
use criterion::{Criterion, criterion_group, criterion_main};
use dcap_qvl::QuoteCollateralV3;
use rustls_pki_types::UnixTime;

const NOW: u64 = 1_751_328_000;

fn testdata(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/dcap/phala-dcap-qvl")
        .join(rel)
}

/// The same collateral JSON file, in dcap-qvl's type (CRLs and signatures decoded from hex).
fn dcap_qvl_collateral(c: &Collateral) -> QuoteCollateralV3 {
    QuoteCollateralV3 {
        pck_crl_issuer_chain: c.pck_crl_issuer_chain.clone(),
        root_ca_crl: c.root_ca_crl.clone(),
        pck_crl: c.pck_crl.clone(),
        tcb_info_issuer_chain: c.tcb_info_issuer_chain.clone(),
        tcb_info: c.tcb_info.clone(),
        tcb_info_signature: c.tcb_info_signature.clone(),
        qe_identity_issuer_chain: c.qe_identity_issuer_chain.clone(),
        qe_identity: c.qe_identity.clone(),
        qe_identity_signature: c.qe_identity_signature.clone(),
        pck_certificate_chain: None,
    }
}

fn bench_set(c: &mut Criterion, name: &str, quote_file: &str, collateral_file: &str) {
    let quote = std::fs::read(testdata(quote_file)).expect("quote file");
    let json = std::fs::read_to_string(testdata(collateral_file)).expect("collateral file");
    let collateral = Collateral::from_json(&json).expect("collateral parses");
    let time = UnixTime::since_unix_epoch(Duration::from_secs(NOW));
    let qvl_collateral = dcap_qvl_collateral(&collateral);

    // Both verifiers must accept the vector before being timed.
    let ours = verify(&quote, &collateral, time).expect("attesto verifies");
    let theirs = dcap_qvl::verify::verify(&quote, &qvl_collateral, NOW).expect("dcap-qvl verifies");
    assert_eq!(theirs.status.to_string(), ours.status.as_str());

    let mut group = c.benchmark_group(name);
    group.bench_function("attesto_cold", |b| {
        b.iter(|| verify(black_box(&quote), black_box(&collateral), time))
    });
    let warm = Verifier::new();
    group.bench_function("attesto_warm", |b| {
        b.iter(|| warm.verify(black_box(&quote), black_box(&collateral), time))
    });
    let prepared = warm.prepare(&collateral).expect("collateral verifies");
    group.bench_function("attesto_warm_prepared", |b| {
        b.iter(|| warm.verify_prepared(black_box(&quote), &prepared, time))
    });
    group.bench_function("dcap_qvl", |b| {
        b.iter(|| dcap_qvl::verify::verify(black_box(&quote), black_box(&qvl_collateral), NOW))
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    bench_set(c, "sgx_quote", "sgx_quote", "sgx_quote_collateral.json");
    bench_set(c, "tdx_quote", "tdx_quote", "tdx_quote_collateral.json");
}

criterion_group!(verify_benches, benches);
criterion_main!(verify_benches);
