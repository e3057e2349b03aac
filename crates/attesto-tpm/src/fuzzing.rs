//! Entry points for `cargo fuzz` (not a stable API). Each must never panic; each also checks
//! a round-trip property where one exists.

use std::sync::LazyLock;
use std::time::Duration;

use rustls_pki_types::UnixTime;

use crate::aik::{AikEvidence, AikPublicKey, TrustAnchors};
use crate::eventlog::{EventLog, sipa, uefi};
use crate::ima::ImaLog;
use crate::replay::{MeasurementLog, Replay};
use crate::tpm2::{Attest, Public, Signature};
use crate::verify::{PcrValues, QuoteEvidence, VerifyOptions, verify_quote};

/// Parses `data` as a TCG log and as an IMA list; replays what parses and decodes every
/// event's data (UEFI variables, SIPA, bindings) as the claims would.
pub fn event_log(data: &[u8]) {
    if let Ok(log) = EventLog::parse(data) {
        for event in &log.events {
            let _ = event.data_binding();
            let _ = event.startup_locality();
            let _ = uefi::UefiVariableData::parse(&event.data);
            if let Ok(entries) = sipa::parse(&event.data) {
                let _ = sipa::to_json(&entries);
            }
        }
        let _ = Replay::run(&[MeasurementLog::Tcg(log)]);
    }
    if let Ok(ima) = ImaLog::parse(data) {
        for entry in &ima.entries {
            let _ = entry.file_digest();
            let _ = entry.file_name();
        }
        let _ = Replay::run(&[MeasurementLog::Ima(ima)]);
    }
}

/// A real GCE AK, its quote's signature, PCR values and log, to drive verification with
/// fuzzed quotes and signatures.
struct Fixture {
    aik: AikEvidence,
    quote: Vec<u8>,
    signature: Vec<u8>,
    logs: Vec<MeasurementLog>,
    pcrs: PcrValues,
}

static FIXTURE: LazyLock<Option<Fixture>> = LazyLock::new(|| {
    let ak = include_bytes!("../../../testdata/tpm/go-tpm-tools-gce-cos85/ak.tpmt_public");
    let quote = include_bytes!(
        "../../../testdata/tpm/go-tpm-tools-gce-cos85/quote_sha256_nonce9009.tpms_attest"
    );
    let signature = include_bytes!(
        "../../../testdata/tpm/go-tpm-tools-gce-cos85/quote_sha256_nonce9009.tpmt_signature"
    );
    let log = include_bytes!("../../../testdata/tpm/go-tpm-tools-gce-cos85/eventlog.bin");
    let aik = AikEvidence::new().with_tpm_public(ak).ok()?;
    let logs = vec![MeasurementLog::Tcg(EventLog::parse(log).ok()?)];
    // The PCR values are not needed to exercise parsing and the signature; an empty set makes
    // verification stop at the PCR digest check at the latest.
    Some(Fixture {
        aik,
        quote: quote.to_vec(),
        signature: signature.to_vec(),
        logs,
        pcrs: PcrValues::new(),
    })
});

/// Parses `data` as every TPM structure (TPMS_ATTEST, TPM2B_ATTEST, TPMT_SIGNATURE,
/// TPMT_PUBLIC, TPM2B_PUBLIC, UEFI_VARIABLE_DATA, SIPA) and runs quote verification with
/// `data` as the quote and as the signature. A parsed public key must survive the SPKI round
/// trip.
pub fn tpm_structures(data: &[u8]) {
    let _ = Attest::parse(data);
    let _ = Attest::parse_tpm2b(data);
    let _ = Signature::parse(data);
    let _ = Public::parse_tpm2b(data);
    let _ = uefi::UefiVariableData::parse(data);
    let _ = AikPublicKey::from_spki_der(data);
    if let Ok(entries) = sipa::parse(data) {
        let _ = sipa::to_json(&entries);
    }
    if let Ok(public) = Public::parse(data) {
        let _ = public.name();
        assert_eq!(public.raw(), data, "TPMT_PUBLIC keeps its exact bytes");
        if let Ok(key) = AikPublicKey::from_public(&public) {
            let der = key.to_spki_der();
            match AikPublicKey::from_spki_der(&der) {
                Ok(back) => assert_eq!(back, key, "SPKI round trip changed the key"),
                Err(e) => panic!("own SPKI does not parse: {e}"),
            }
        }
    }
    if let Some(fixture) = FIXTURE.as_ref() {
        let anchors = TrustAnchors::empty();
        let mut options = VerifyOptions::new(
            &[0x90, 0x09],
            UnixTime::since_unix_epoch(Duration::from_secs(1_700_000_000)),
            &anchors,
        );
        options.require_valid_aik_cert = false;
        options.required_pcr_mask = 0;
        for (quote, signature) in [
            (data, fixture.signature.as_slice()),
            (fixture.quote.as_slice(), data),
        ] {
            let evidence = QuoteEvidence {
                quote,
                signature,
                pcrs: &fixture.pcrs,
                logs: &fixture.logs,
                aik: &fixture.aik,
            };
            let _ = verify_quote(&evidence, &options);
        }
    }
}
