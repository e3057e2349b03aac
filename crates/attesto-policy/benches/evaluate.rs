//! Evaluation speed: the SGX default policy and a generated 50-rule policy, each parsed once and
//! evaluated repeatedly against a realistic SGX claim set.
//!
//! `cargo bench -p attesto-policy -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use attesto_policy::{AttestationType, ClaimSet, Policy, default_policy};
use criterion::{Criterion, criterion_group, criterion_main};

/// The claims the service hands an SGX policy (values from a real MAA token).
const SGX_CLAIMS: &str = r#"{
    "x-ms-sgx-is-debuggable": false,
    "x-ms-sgx-product-id": 1,
    "x-ms-sgx-mrsigner": "2c1a44952ae8207135c6c29b75b8c029372ee94b677e15c20bd42340f10d41aa",
    "x-ms-sgx-mrenclave": "b779202618becb636768e5d902f28d524222735fafb539ea9ba07c3fc171a1c2",
    "x-ms-sgx-svn": 1,
    "x-ms-sgx-ehd": "CiAgICAgICAgewogICAgICAgICAgICAia3R5IjoiRUMiLAogICAgICAgICAgICAidXNlIjoic2lnIiwKICAgICAgICAgICAgImNydiI6IlAtMjU2Ig",
    "x-ms-attestation-type": "sgx",
    "x-ms-ver": "1.0",
    "x-ms-policy-hash": "bROrN897ZfWmWY2V0FLUlu3uwk5xatGnKYHn3zBbSlw",
    "x-ms-sgx-config-id": "00000000000000000000000000000000",
    "x-ms-sgx-config-svn": 0,
    "x-ms-sgx-isv-family-id": "00000000000000000000000000000000",
    "x-ms-sgx-collateral": {"qeidcertshash": "1b2a7c", "qeidcrlhash": "5b9929", "qeidhash": "5d1b11", "quotehash": "af0e05", "tcbinfocertshash": "1b2a7c", "tcbinfocrlhash": "5b9929", "tcbinfohash": "776e6c"}
}"#;

/// 20 authorization rules (allow-listed signers, one matching) and 30 issuance rules.
fn fifty_rules() -> String {
    let mut text = String::from("version=1.2;\nauthorizationrules {\n");
    for index in 0..19 {
        text.push_str(&format!(
            "  [type==\"x-ms-sgx-is-debuggable\", value==false] && [type==\"x-ms-sgx-mrsigner\", value==\"{index:064x}\"] && [type==\"x-ms-sgx-svn\", value>=1] => permit();\n"
        ));
    }
    text.push_str(
        "  [type==\"x-ms-sgx-is-debuggable\", value==true] => deny();\n};\nissuancerules {\n",
    );
    for index in 0..30 {
        match index % 3 {
            0 => text.push_str(&format!("  c:[type==\"x-ms-sgx-mrsigner\"] => issue(type=\"signer-{index}\", value=c.value);\n")),
            1 => text.push_str(&format!("  c:[type==\"x-ms-sgx-svn\", value>={index}] => issue(type=\"svn-{index}\", value=c.value);\n")),
            _ => text.push_str(&format!("  ![type==\"missing-{index}\"] => add(type=\"added-{index}\", value=true);\n")),
        }
    }
    text.push_str("};\n");
    text
}

fn bench(c: &mut Criterion) {
    let claims = match ClaimSet::from_json_str(SGX_CLAIMS) {
        Ok(claims) => claims,
        Err(error) => panic!("bench claims: {error}"),
    };
    let sgx = match Policy::parse(default_policy(AttestationType::SgxEnclave)) {
        Ok(policy) => policy,
        Err(error) => panic!("default policy: {error}"),
    };
    let generated_text = fifty_rules();
    let generated = match Policy::parse(&generated_text) {
        Ok(policy) => policy,
        Err(error) => panic!("generated policy: {error}"),
    };
    c.bench_function("evaluate/sgx-default", |b| {
        b.iter(|| black_box(&sgx).evaluate(black_box(&claims)))
    });
    c.bench_function("evaluate/generated-50-rules", |b| {
        b.iter(|| black_box(&generated).evaluate(black_box(&claims)))
    });
    c.bench_function("parse/sgx-default", |b| {
        b.iter(|| Policy::parse(black_box(default_policy(AttestationType::SgxEnclave))))
    });
    c.bench_function("parse/generated-50-rules", |b| {
        b.iter(|| Policy::parse(black_box(&generated_text)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
