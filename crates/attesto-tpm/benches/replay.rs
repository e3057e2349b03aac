//! Parse + replay + verify on real logs.
//!
//! - `gdc-host`: the largest real log in `testdata/tpm` (50 KB, 159 events, SHA-256 only),
//!   verified against a quote made here with a generated ECDSA P-256 AK over the PCRs the log
//!   replays to (no real quote exists for it);
//! - `gce-cos85`: the complete GCE evidence: crypto-agile log (three banks), real RSA quote,
//!   AK certificate chain to Google's root, then the MAA claim set.
//!
//! Run: `cargo bench -p attesto-tpm -- --quick`.
//!
//! Recorded 2026-11-23, 2-core Intel Xeon VM, `--quick`:
//! gdc-host parse + replay 53.5 µs; gdc-host parse + replay + verify 152 µs;
//! gce-cos85 parse + replay + verify + claims (with the AK chain) 411 µs.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use attesto_tpm::{
    AikEvidence, EventLog, HashAlg, MeasurementLog, PcrValues, QuoteEvidence, Replay, TrustAnchors,
    VerifyOptions, tpm_claims, verify_quote,
};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair};
use criterion::{Criterion, criterion_group, criterion_main};
use rustls_pki_types::UnixTime;

fn read(relative: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/tpm")
        .join(relative);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn tpm2b(bytes: &[u8]) -> Vec<u8> {
    let mut out = u16::try_from(bytes.len())
        .expect("fits")
        .to_be_bytes()
        .to_vec();
    out.extend_from_slice(bytes);
    out
}

/// A quote over SHA-256 PCRs 0-23 with the given values, and its ECDSA TPMT_SIGNATURE and the
/// AK's TPMT_PUBLIC.
fn synthetic_quote(values: &[Vec<u8>], nonce: &[u8]) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let parts: Vec<&[u8]> = values.iter().map(Vec::as_slice).collect();
    let digest = HashAlg::Sha256.digest_parts(&parts);
    let mut quote = 0xff54_4347u32.to_be_bytes().to_vec();
    quote.extend_from_slice(&0x8018u16.to_be_bytes());
    quote.extend_from_slice(&tpm2b(&[0, 0x0b]));
    quote.extend_from_slice(&tpm2b(nonce));
    quote.extend_from_slice(&[0; 17]);
    quote.extend_from_slice(&[0; 8]);
    quote.extend_from_slice(&1u32.to_be_bytes());
    quote.extend_from_slice(&0x000bu16.to_be_bytes());
    quote.extend_from_slice(&[3, 0xff, 0xff, 0xff]);
    quote.extend_from_slice(&tpm2b(&digest));

    let pair = EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING).expect("key");
    let sig = pair.sign(&SystemRandom::new(), &quote).expect("sign");
    let (r, s) = sig.as_ref().split_at(32);
    let mut tpmt_signature = [0x00, 0x18, 0x00, 0x0b].to_vec();
    tpmt_signature.extend_from_slice(&tpm2b(r));
    tpmt_signature.extend_from_slice(&tpm2b(s));

    let point = pair.public_key().as_ref();
    let (x, y) = point[1..].split_at(32);
    let mut public = [0x00, 0x23, 0x00, 0x0b, 0x00, 0x05, 0x00, 0x72, 0x00, 0x00].to_vec();
    public.extend_from_slice(&[0x00, 0x10, 0x00, 0x18, 0x00, 0x0b, 0x00, 0x03, 0x00, 0x10]);
    public.extend_from_slice(&tpm2b(x));
    public.extend_from_slice(&tpm2b(y));
    (quote, tpmt_signature, public)
}

fn bench_gdc_host(c: &mut Criterion) {
    let log_bytes = read("go-tpm-tools-eventlogs/gdc-host.bin");
    let log = EventLog::parse(&log_bytes).expect("log");
    let replay = Replay::run(&[MeasurementLog::Tcg(log)]).expect("replay");
    let values: Vec<Vec<u8>> = (0..24)
        .map(|pcr| replay.value(HashAlg::Sha256, pcr).expect("value").to_vec())
        .collect();
    let mut pcrs = PcrValues::new();
    for (pcr, value) in (0u32..).zip(&values) {
        pcrs.insert(HashAlg::Sha256, pcr, value.clone())
            .expect("insert");
    }
    let (quote, signature, public) = synthetic_quote(&values, b"nonce");
    let aik = AikEvidence::new().with_tpm_public(&public).expect("AK");
    let anchors = TrustAnchors::empty();
    let mut options = VerifyOptions::new(
        b"nonce",
        UnixTime::since_unix_epoch(Duration::from_secs(1_700_000_000)),
        &anchors,
    );
    options.require_valid_aik_cert = false;

    c.bench_function("gdc-host: parse + replay (50 KB, 159 events)", |b| {
        b.iter(|| {
            let log = EventLog::parse(black_box(&log_bytes)).expect("log");
            Replay::run(&[MeasurementLog::Tcg(log)]).expect("replay")
        });
    });
    c.bench_function("gdc-host: parse + replay + verify", |b| {
        b.iter(|| {
            let logs = [MeasurementLog::Tcg(
                EventLog::parse(black_box(&log_bytes)).expect("log"),
            )];
            let evidence = QuoteEvidence {
                quote: &quote,
                signature: &signature,
                pcrs: &pcrs,
                logs: &logs,
                aik: &aik,
            };
            verify_quote(&evidence, &options).expect("verifies")
        });
    });
}

fn bench_gce(c: &mut Criterion) {
    let dir = "go-tpm-tools-gce-cos85";
    let log_bytes = read(&format!("{dir}/eventlog.bin"));
    let quote = read(&format!("{dir}/quote_sha256_nonce9009.tpms_attest"));
    let signature = read(&format!("{dir}/quote_sha256_nonce9009.tpmt_signature"));
    let cert = read(&format!("{dir}/ak_cert.der"));
    let intermediate = read(&format!("{dir}/certs/tpm_ek_intermediate_2.crt"));
    let anchors =
        TrustAnchors::from_der([read(&format!("{dir}/certs/tpm_ek_root_1.cer"))]).expect("root");
    let log = EventLog::parse(&log_bytes).expect("log");
    let replay = Replay::run(&[MeasurementLog::Tcg(log)]).expect("replay");
    let mut pcrs = PcrValues::new();
    for pcr in 0..24 {
        // PCR 10 (IMA) is not in the log: take the quoted value from the decoded evidence.
        let value = if pcr == 10 {
            hex::decode("63b093fd26fd34dc09ec621ff349f1053145d559422f11dbce734b3b00b5d673")
                .expect("hex")
        } else {
            replay.value(HashAlg::Sha256, pcr).expect("value").to_vec()
        };
        pcrs.insert(HashAlg::Sha256, pcr, value).expect("insert");
    }
    let options = VerifyOptions::new(
        &[0x90, 0x09],
        UnixTime::since_unix_epoch(Duration::from_secs(1_640_000_000)),
        &anchors,
    );

    c.bench_function(
        "gce-cos85: parse + replay + verify + claims (AK chain)",
        |b| {
            b.iter(|| {
                let aik = AikEvidence::new()
                    .with_certificate(cert.clone())
                    .with_intermediates(vec![intermediate.clone()]);
                let logs = [MeasurementLog::Tcg(
                    EventLog::parse(black_box(&log_bytes)).expect("log"),
                )];
                let evidence = QuoteEvidence {
                    quote: &quote,
                    signature: &signature,
                    pcrs: &pcrs,
                    logs: &logs,
                    aik: &aik,
                };
                let verified = verify_quote(&evidence, &options).expect("verifies");
                tpm_claims(&verified, None, None, &[])
            });
        },
    );
}

criterion_group!(benches, bench_gdc_host, bench_gce);
criterion_main!(benches);
