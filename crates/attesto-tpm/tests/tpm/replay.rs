//! Real logs replay to the PCR values their sources state.

use crate::common::{read, read_json};
use attesto_tpm::eventlog::LogFormat;
use attesto_tpm::{Error, EventLog, HashAlg, MeasurementLog, Replay};

fn bank_named(name: &str) -> HashAlg {
    match name {
        "SHA1" => HashAlg::Sha1,
        "SHA256" => HashAlg::Sha256,
        "SHA384" => HashAlg::Sha384,
        other => panic!("unknown bank {other}"),
    }
}

fn replay_file(relative: &str) -> (EventLog, Replay) {
    let log = EventLog::parse(&read(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"));
    let replay = Replay::run(&[MeasurementLog::Tcg(log.clone())])
        .unwrap_or_else(|e| panic!("{relative}: {e}"));
    (log, replay)
}

#[test]
fn every_go_tpm_tools_log_replays_to_its_expected_pcrs() {
    let expected = read_json("go-tpm-tools-eventlogs/expected_pcrs.json");
    let cases = expected.as_object().expect("object");
    assert_eq!(cases.len(), 14, "all 14 logs are covered");
    let mut compared = 0;
    for (name, case) in cases {
        let file = case["file"].as_str().expect("file");
        let (_, replay) = replay_file(&format!("go-tpm-tools-eventlogs/{file}"));
        for (bank_name, values) in case["pcrs"].as_object().expect("pcrs") {
            let bank = bank_named(bank_name);
            assert!(replay.has_bank(bank), "{name}: bank {bank} replayed");
            for (index, value) in values.as_object().expect("values") {
                let pcr: u32 = index.parse().expect("index");
                let got = hex::encode(replay.value(bank, pcr).expect("value"));
                assert_eq!(got, value.as_str().expect("hex"), "{name} {bank} PCR {pcr}");
                compared += 1;
            }
        }
    }
    assert!(compared > 200, "compared {compared} PCR values");
}

#[test]
fn debian_10_is_a_legacy_sha1_log_and_agile_logs_carry_three_banks() {
    let (debian, replay) = replay_file("go-tpm-tools-eventlogs/debian-10.bin");
    assert_eq!(debian.format, LogFormat::Sha1Legacy);
    assert_eq!(replay.banks().collect::<Vec<_>>(), vec![HashAlg::Sha1]);
    let (cos, replay) = replay_file("go-tpm-tools-gce-cos85/eventlog.bin");
    assert_eq!(cos.format, LogFormat::CryptoAgile);
    assert_eq!(
        replay.banks().collect::<Vec<_>>(),
        vec![HashAlg::Sha1, HashAlg::Sha256, HashAlg::Sha384]
    );
}

#[test]
fn gce_cos85_log_replays_to_the_quoted_pcrs_in_all_three_banks() {
    let (_, replay) = replay_file("go-tpm-tools-gce-cos85/eventlog.bin");
    for bank in [HashAlg::Sha1, HashAlg::Sha256, HashAlg::Sha384] {
        let (_, _, pcrs) = crate::common::gce_quote(bank);
        for pcr in 0..10 {
            assert_eq!(
                replay.value(bank, pcr),
                pcrs.get(bank, pcr),
                "{bank} PCR {pcr}"
            );
        }
        assert_eq!(replay.extended_mask(bank), 0x3ff, "PCRs 0-9 are logged");
    }
}

#[test]
fn windows_legacy_log_replays_to_pcrs_0_4_5_7_and_11_to_14() {
    let (log, replay) = replay_file("go-attestation-windows-gcp/eventlog_sha1_legacy.bin");
    assert_eq!(log.format, LogFormat::Sha1Legacy);
    assert_eq!(
        log.events.first().map(|e| e.event_type.name()),
        Some(Some("EV_S_CRTM_VERSION"))
    );
    let pcrs = crate::common::windows_pcrs();
    for pcr in 0..24 {
        assert_eq!(
            replay.value(HashAlg::Sha1, pcr),
            pcrs.get(HashAlg::Sha1, pcr),
            "PCR {pcr}"
        );
    }
    let expected_mask = (1 << 0) | (1 << 4) | (1 << 5) | (1 << 7) | (0b1111 << 11);
    assert_eq!(replay.extended_mask(HashAlg::Sha1), expected_mask);
}

#[test]
fn go_attestation_edge_cases_parse_or_fail_cleanly() {
    for name in [
        "coreos_36_shielded_vm_no_secure_boot_eventlog",
        "crypto_agile_eventlog",
        "ebs_event_missing_eventlog",
        "option_rom_eventlog",
        "sb_cert_eventlog",
    ] {
        let (log, replay) = replay_file(&format!("go-attestation-eventlogs/{name}"));
        assert!(log.events.len() > 10, "{name}: {} events", log.events.len());
        assert!(replay.banks().count() >= 1, "{name}");
    }
    // The testdata README calls this 49-byte file truncated, but it is one complete legacy
    // event: an EV_NO_ACTION StartupLocality (locality 3) shorter than a Spec ID event.
    // go-attestation's TestParseShortNoAction requires it to parse, and so does this crate.
    let short = read("go-attestation-eventlogs/short_no_action_eventlog");
    assert_eq!(short.len(), 49);
    let (log, replay) = replay_file("go-attestation-eventlogs/short_no_action_eventlog");
    assert_eq!(log.events.len(), 1);
    assert_eq!(log.events[0].startup_locality(), Some(3));
    assert_eq!(replay.startup_locality(), Some(3));
    let mut pcr0 = vec![0u8; 20];
    pcr0[19] = 3;
    assert_eq!(replay.value(HashAlg::Sha1, 0), Some(pcr0.as_slice()));
    // Every shorter prefix fails cleanly.
    for len in 1..short.len() {
        let error = EventLog::parse(&short[..len]).expect_err("a cut event must not parse");
        assert!(matches!(error, Error::Truncated { .. }), "{len}: {error:?}");
    }
    assert!(matches!(EventLog::parse(&[]), Err(Error::Malformed { .. })));
}

#[test]
fn a_truncated_log_fails_with_the_offset_of_the_cut() {
    let bytes = read("go-tpm-tools-eventlogs/arch-linux-workstation.bin");
    let cut = bytes.len() - 7;
    match EventLog::parse(&bytes[..cut]) {
        Err(Error::Truncated { offset, .. }) => assert!(offset <= cut),
        other => panic!("{other:?}"),
    }
}

#[test]
fn one_flipped_digest_byte_changes_exactly_that_pcr() {
    let mut bytes = read("go-tpm-tools-gce-cos85/eventlog.bin");
    let log = EventLog::parse(&bytes).expect("parse");
    let (_, clean) = replay_file("go-tpm-tools-gce-cos85/eventlog.bin");
    // The first measured event's first digest byte: offset + pcr(4) + type(4) + count(4) +
    // alg(2).
    let event = log.measured_events().next().expect("an event");
    let at = event.offset + 14;
    bytes[at] ^= 0x01;
    let flipped = EventLog::parse(&bytes).expect("still parses");
    let replay = Replay::run(&[MeasurementLog::Tcg(flipped)]).expect("replays");
    for pcr in 0..24 {
        let same = replay.value(HashAlg::Sha1, pcr) == clean.value(HashAlg::Sha1, pcr);
        assert_eq!(same, pcr != event.pcr, "PCR {pcr}");
    }
}
