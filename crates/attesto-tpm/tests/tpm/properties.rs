//! Arbitrary and mutated bytes never make a parser (or verification) panic.

use attesto_tpm::fuzzing;
use proptest::prelude::*;

fn real_inputs() -> Vec<Vec<u8>> {
    [
        "go-tpm-tools-gce-cos85/eventlog.bin",
        "go-attestation-windows-gcp/eventlog_sha1_legacy.bin",
        "go-tpm-tools-gce-cos85/quote_sha256_nonce9009.tpms_attest",
        "go-tpm-tools-gce-cos85/quote_sha256_nonce9009.tpmt_signature",
        "go-tpm-tools-gce-cos85/ak.tpmt_public",
        "go-attestation-windows-gcp/ak.tpmt_public",
    ]
    .iter()
    .map(|path| crate::common::read(path))
    .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..1024)) {
        fuzzing::event_log(&data);
        fuzzing::tpm_structures(&data);
    }

    #[test]
    fn mutated_real_inputs_never_panic(
        which in 0usize..6,
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let mut data = real_inputs().swap_remove(which);
        for (at, value) in flips {
            let i = at.index(data.len());
            data[i] ^= value;
        }
        if truncate {
            data.truncate(cut.index(data.len() + 1));
        }
        fuzzing::event_log(&data);
        fuzzing::tpm_structures(&data);
    }

    #[test]
    fn tpm_structures_with_a_valid_prefix_never_panic(
        tail in proptest::collection::vec(any::<u8>(), 0..256),
    ) {
        // A TPM-generated magic and quote tag let the fuzz reach the deeper fields.
        let mut data = vec![0xff, 0x54, 0x43, 0x47, 0x80, 0x18];
        data.extend_from_slice(&tail);
        fuzzing::tpm_structures(&data);
        // A crypto-agile header lets it reach TCG_PCR_EVENT2 parsing.
        let real = crate::common::read("go-tpm-tools-gce-cos85/eventlog.bin");
        let header_len = attesto_tpm::EventLog::parse(&real).expect("log").events[1].offset;
        let mut log = real[..header_len].to_vec();
        log.extend_from_slice(&tail);
        fuzzing::event_log(&log);
    }
}
