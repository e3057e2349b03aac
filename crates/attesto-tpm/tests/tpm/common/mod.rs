//! Shared helpers for the integration tests: real test data, PCR values, a fixed time.

pub mod synth;

use std::path::PathBuf;
use std::time::Duration;

use attesto_tpm::{HashAlg, PcrValues};
use rustls_pki_types::UnixTime;
use serde_json::Value;

pub fn testdata(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/tpm")
        .join(relative)
}

pub fn read(relative: &str) -> Vec<u8> {
    let path = testdata(relative);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn read_json(relative: &str) -> Value {
    serde_json::from_slice(&read(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

pub fn at(secs: u64) -> UnixTime {
    UnixTime::since_unix_epoch(Duration::from_secs(secs))
}

/// 2021-12-20: inside the GCE AK certificate's validity.
pub fn gce_time() -> UnixTime {
    at(1_640_000_000)
}

pub const GCE: &str = "go-tpm-tools-gce-cos85";
pub const WINDOWS: &str = "go-attestation-windows-gcp";

/// The GCE quote for a bank: (quote, signature, PCR values from the decoded protobuf).
pub fn gce_quote(bank: HashAlg) -> (Vec<u8>, Vec<u8>, PcrValues) {
    let name = match bank {
        HashAlg::Sha1 => "sha1",
        HashAlg::Sha256 => "sha256",
        HashAlg::Sha384 => "sha384",
        _ => panic!("no GCE quote for {bank}"),
    };
    let quote = read(&format!("{GCE}/quote_{name}_nonce9009.tpms_attest"));
    let signature = read(&format!("{GCE}/quote_{name}_nonce9009.tpmt_signature"));
    let decoded = read_json(&format!("{GCE}/gce-cos-85-nonce9009.decoded.json"));
    let quotes = decoded["quotes"].as_array().expect("quotes");
    let entry = quotes
        .iter()
        .find(|q| q["pcrs"]["hash"].as_u64() == Some(u64::from(bank.tpm_alg_id())))
        .expect("quote for bank");
    assert_eq!(
        entry["quote_tpms_attest_hex"].as_str(),
        Some(hex::encode(&quote).as_str()),
        "the extracted quote file is the decoded JSON's quote"
    );
    let mut pcrs = PcrValues::new();
    for (index, value) in entry["pcrs"]["pcrs"].as_object().expect("pcrs") {
        pcrs.insert(
            bank,
            index.parse().expect("index"),
            hex::decode(value.as_str().expect("hex")).expect("hex"),
        )
        .expect("insert");
    }
    (quote, signature, pcrs)
}

/// The Windows GCP quote's PCR values (SHA-1 bank).
pub fn windows_pcrs() -> PcrValues {
    let json = read_json(&format!("{WINDOWS}/pcrs_sha1.json"));
    let mut pcrs = PcrValues::new();
    for (index, value) in json["pcrs"].as_object().expect("pcrs") {
        pcrs.insert(
            HashAlg::Sha1,
            index.parse().expect("index"),
            hex::decode(value.as_str().expect("hex")).expect("hex"),
        )
        .expect("insert");
    }
    pcrs
}

/// A quote signed by a freshly generated ECDSA AK over `mask` of `bank`, with the PCR values
/// the logs replay to, verified without a certificate: lets claims be computed for any real
/// log.
pub fn synthetic_verified(
    logs: Vec<attesto_tpm::MeasurementLog>,
    bank: HashAlg,
    mask: u32,
) -> attesto_tpm::VerifiedQuote {
    use attesto_tpm::{AikEvidence, QuoteEvidence, Replay, TrustAnchors, VerifyOptions};
    let replay = Replay::run(&logs).expect("replays");
    let mut pcrs = PcrValues::new();
    let mut values = Vec::new();
    for pcr in (0..24).filter(|i| mask & (1 << i) != 0) {
        let value = replay.value(bank, pcr).expect("bank replayed").to_vec();
        values.push(value.clone());
        pcrs.insert(bank, pcr, value).expect("insert");
    }
    let refs: Vec<&[u8]> = values.iter().map(Vec::as_slice).collect();
    let digest = synth::pcr_digest(HashAlg::Sha256, &refs);
    let quote = synth::quote(b"nonce", &[(bank, mask)], &digest);
    let ak = synth::EcdsaAk::generate();
    let signature = ak.sign(&quote);
    let aik = AikEvidence::new()
        .with_tpm_public(&ak.tpmt_public(synth::AK_ATTRIBUTES))
        .expect("AK");
    let anchors = TrustAnchors::empty();
    let mut options = VerifyOptions::new(b"nonce", gce_time(), &anchors);
    options.require_valid_aik_cert = false;
    options.required_pcr_mask = mask;
    attesto_tpm::verify_quote(
        &QuoteEvidence {
            quote: &quote,
            signature: &signature,
            pcrs: &pcrs,
            logs: &logs,
            aik: &aik,
        },
        &options,
    )
    .expect("synthetic quote verifies")
}
