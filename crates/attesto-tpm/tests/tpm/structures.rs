//! TPM structure, event-log edge, SIPA, IMA and key-binding parsing.

use crate::common::synth::{self, AK_ATTRIBUTES, EcdsaAk, RsaAk};
use crate::common::{GCE, WINDOWS, read, read_json, synthetic_verified};
use attesto_tpm::eventlog::sipa::{self, SipaValue};
use attesto_tpm::eventlog::uefi::{Guid, UefiVariableData};
use attesto_tpm::eventlog::{DataBinding, EventType, LogFormat};
use attesto_tpm::ima::ImaLog;
use attesto_tpm::keys::{
    AttestedKey, hash_from_name, key_from_jwk, quote_key_binding, verify_certify,
};
use attesto_tpm::tpm2::{
    Attest, Attested, EccCurve, ObjectType, Public, PublicDetail, Signature, tpma,
};
use attesto_tpm::{AikPublicKey, Error, EventLog, HashAlg, MeasurementLog, Replay, events_json};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::json;

#[test]
fn gce_quote_fields() {
    let quote =
        Attest::parse(&read(&format!("{GCE}/quote_sha256_nonce9009.tpms_attest"))).expect("quote");
    assert_eq!(quote.attest_type, 0x8018);
    assert_eq!(quote.extra_data, [0x90, 0x09]);
    assert_eq!(quote.qualified_signer.len(), 34);
    assert_eq!(quote.qualified_signer[..2], [0x00, 0x0b]);
    assert!(quote.clock_info.safe);
    let info = quote.quote().expect("a quote");
    assert_eq!(info.pcr_select.len(), 1);
    assert_eq!(info.pcr_select[0].hash, HashAlg::Sha256);
    assert_eq!(info.pcr_select[0].pcrs, 0x00ff_ffff);
    assert_eq!(info.pcr_select[0].indexes().count(), 24);
    assert_eq!(
        hex::encode(&info.pcr_digest),
        "048937cbaaf28af85a5b0c0997e725097a0d94e05fcda104a82ee3fb6b2e1808"
    );
    // TPM2B_ATTEST is the same with a size prefix.
    let raw = quote.raw().to_vec();
    let mut tpm2b = u16::try_from(raw.len())
        .expect("fits")
        .to_be_bytes()
        .to_vec();
    tpm2b.extend_from_slice(&raw);
    assert_eq!(Attest::parse_tpm2b(&tpm2b).expect("tpm2b"), quote);
}

#[test]
fn tpm_structures_reject_trailing_bytes_and_every_truncation() {
    let quote = read(&format!("{GCE}/quote_sha1_nonce9009.tpms_attest"));
    let signature = read(&format!("{GCE}/quote_sha1_nonce9009.tpmt_signature"));
    let public = read(&format!("{WINDOWS}/ak.tpmt_public"));
    for (bytes, parse) in [
        (
            &quote,
            (|b: &[u8]| Attest::parse(b).map(drop)) as fn(&[u8]) -> Result<(), Error>,
        ),
        (&signature, |b: &[u8]| Signature::parse(b).map(drop)),
        (&public, |b: &[u8]| Public::parse(b).map(drop)),
    ] {
        assert!(parse(bytes).is_ok());
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(matches!(
            parse(&longer),
            Err(Error::TrailingBytes { count: 1, .. })
        ));
        for len in 0..bytes.len() {
            assert!(
                matches!(
                    parse(&bytes[..len]),
                    Err(Error::Truncated { .. } | Error::NotTpmGenerated { .. })
                ),
                "prefix {len}"
            );
        }
    }
}

#[test]
fn ak_public_areas() {
    let gce = Public::parse(&read(&format!("{GCE}/ak.tpmt_public"))).expect("GCE AK");
    assert_eq!(gce.object_type, ObjectType::Rsa);
    assert_eq!(gce.name_alg, 0x000b);
    assert_eq!(gce.attributes, 0x0005_0072);
    assert!(gce.auth_policy.is_empty());
    let PublicDetail::Rsa {
        scheme,
        scheme_hash,
        key_bits,
        exponent,
        modulus,
        ..
    } = &gce.detail
    else {
        panic!("RSA expected")
    };
    assert_eq!((*scheme, *scheme_hash), (0x0014, Some(0x000b)));
    assert_eq!((*key_bits, *exponent, modulus.len()), (2048, 65537, 256));

    let windows = Public::parse(&read(&format!("{WINDOWS}/ak.tpmt_public"))).expect("Windows AK");
    assert_eq!(windows.attributes, 0x0005_0472);
    assert_eq!(windows.attributes & tpma::NO_DA, tpma::NO_DA);
    assert_eq!(windows.auth_policy.len(), 32);
    assert!(matches!(
        windows.detail,
        PublicDetail::Rsa {
            scheme: 0x0014,
            scheme_hash: Some(0x0004),
            ..
        }
    ));
}

#[test]
fn the_ak_creation_attestation_names_the_ak() {
    // go-attestation's Windows data includes TPM2_CertifyCreation output for the AK: its
    // objectName must be nameAlg || SHA-256(TPMT_PUBLIC), and it is signed by the AK itself.
    let json = read_json(&format!("{WINDOWS}/windows_gcp_shielded_vm.json"));
    let decode = |v: &serde_json::Value| STANDARD.decode(v.as_str().expect("b64")).expect("b64");
    let public_bytes = decode(&json["AK"]["Public"]);
    assert_eq!(public_bytes, read(&format!("{WINDOWS}/ak.tpmt_public")));
    let public = Public::parse(&public_bytes).expect("public");
    let creation = Attest::parse(&decode(&json["AK"]["CreateAttestation"])).expect("creation");
    let Attested::Creation(info) = &creation.attested else {
        panic!("creation expected: {creation:?}")
    };
    let name = public.name().expect("name");
    assert_eq!(info.object_name, name);
    assert_eq!(name[..2], [0x00, 0x0b]);
    assert_eq!(name[2..], HashAlg::Sha256.digest(&public_bytes)[..]);
    let signature = Signature::parse(&decode(&json["AK"]["CreateSignature"])).expect("signature");
    assert_eq!(signature.hash(), HashAlg::Sha1);
    let key = AikPublicKey::from_public(&public).expect("key");
    key.verify(&signature, creation.raw(), "creation")
        .expect("self-signed creation");
}

#[test]
fn signatures_of_both_real_quotes() {
    let gce = Signature::parse(&read(&format!(
        "{GCE}/quote_sha384_nonce9009.tpmt_signature"
    )))
    .expect("GCE");
    assert!(
        matches!(&gce, Signature::RsaSsa { hash: HashAlg::Sha256, signature } if signature.len() == 256)
    );
    let windows =
        Signature::parse(&read(&format!("{WINDOWS}/quote_sha1.tpmt_signature"))).expect("Windows");
    assert_eq!(windows.hash(), HashAlg::Sha1);
    assert_eq!(windows.scheme_name(), "RSASSA");
    // HMAC (0x0005) is a valid TPMT_SIGNATURE but not one an AIK makes.
    assert!(matches!(
        Signature::parse(&[0x00, 0x05, 0x00, 0x0b]),
        Err(Error::UnsupportedAlgorithm { alg: 0x0005, .. })
    ));
}

#[test]
fn ecc_public_area_and_spki_round_trip() {
    let ak = EcdsaAk::generate();
    let public = Public::parse(&ak.tpmt_public(AK_ATTRIBUTES)).expect("ECC");
    let PublicDetail::Ecc { curve_id, x, y, .. } = &public.detail else {
        panic!("ECC expected")
    };
    assert_eq!(EccCurve::from_tpm_id(*curve_id), Some(EccCurve::P256));
    assert_eq!((x.len(), y.len()), (32, 32));
    let key = AikPublicKey::from_public(&public).expect("key");
    let spki = key.to_spki_der();
    assert_eq!(AikPublicKey::from_spki_der(&spki).expect("spki"), key);
    // aikPubHash is base64 of SHA-256 over that SPKI.
    assert_eq!(
        key.pub_hash(),
        STANDARD.encode(HashAlg::Sha256.digest(&spki))
    );
    let rsa = RsaAk::generate();
    let key =
        AikPublicKey::from_public(&Public::parse(&rsa.tpmt_public(AK_ATTRIBUTES)).expect("RSA"))
            .expect("key");
    assert_eq!(
        AikPublicKey::from_spki_der(&key.to_spki_der()).expect("spki"),
        key
    );
    // The RSA SPKI is the one X.509 uses (aws-lc-rs's own encoding of the same key).
    assert_eq!(key.describe(), "RSA-2048");
}

// ---- event log edge cases ------------------------------------------------------------------

fn legacy_event(pcr: u32, event_type: u32, digest: [u8; 20], data: &[u8]) -> Vec<u8> {
    let mut out = pcr.to_le_bytes().to_vec();
    out.extend_from_slice(&event_type.to_le_bytes());
    out.extend_from_slice(&digest);
    out.extend_from_slice(&u32::try_from(data.len()).expect("fits").to_le_bytes());
    out.extend_from_slice(data);
    out
}

fn spec_id_header(algorithms: &[(u16, u16)]) -> Vec<u8> {
    let mut data = b"Spec ID Event03\0".to_vec();
    data.extend_from_slice(&0u32.to_le_bytes());
    data.extend_from_slice(&[0, 2, 0, 2]);
    data.extend_from_slice(&u32::try_from(algorithms.len()).expect("fits").to_le_bytes());
    for (alg, size) in algorithms {
        data.extend_from_slice(&alg.to_le_bytes());
        data.extend_from_slice(&size.to_le_bytes());
    }
    data.push(0);
    legacy_event(0, 3, [0; 20], &data)
}

fn agile_event(pcr: u32, event_type: u32, digests: &[(u16, Vec<u8>)], data: &[u8]) -> Vec<u8> {
    let mut out = pcr.to_le_bytes().to_vec();
    out.extend_from_slice(&event_type.to_le_bytes());
    out.extend_from_slice(&u32::try_from(digests.len()).expect("fits").to_le_bytes());
    for (alg, digest) in digests {
        out.extend_from_slice(&alg.to_le_bytes());
        out.extend_from_slice(digest);
    }
    out.extend_from_slice(&u32::try_from(data.len()).expect("fits").to_le_bytes());
    out.extend_from_slice(data);
    out
}

#[test]
fn crypto_agile_events_must_carry_every_declared_bank() {
    let mut log = spec_id_header(&[(0x0004, 20), (0x000b, 32)]);
    let data = b"event";
    log.extend(agile_event(
        4,
        5,
        &[
            (0x0004, HashAlg::Sha1.digest(data)),
            (0x000b, HashAlg::Sha256.digest(data)),
        ],
        data,
    ));
    let parsed = EventLog::parse(&log).expect("parses");
    assert_eq!(parsed.format, LogFormat::CryptoAgile);
    assert_eq!(parsed.banks(), vec![HashAlg::Sha1, HashAlg::Sha256]);
    assert_eq!(parsed.events[1].data_binding(), DataBinding::Full);
    let replay = Replay::run(&[MeasurementLog::Tcg(parsed)]).expect("replays");
    let expected = HashAlg::Sha256.digest_parts(&[&[0u8; 32], &HashAlg::Sha256.digest(data)]);
    assert_eq!(replay.value(HashAlg::Sha256, 4), Some(expected.as_slice()));

    let mut missing = spec_id_header(&[(0x0004, 20), (0x000b, 32)]);
    missing.extend(agile_event(4, 5, &[(0x0004, vec![0; 20])], data));
    assert!(matches!(
        EventLog::parse(&missing),
        Err(Error::Malformed {
            field: "digests.count",
            ..
        })
    ));

    let mut undeclared = spec_id_header(&[(0x0004, 20)]);
    undeclared.extend(agile_event(4, 5, &[(0x000b, vec![0; 32])], data));
    assert!(matches!(
        EventLog::parse(&undeclared),
        Err(Error::Malformed {
            field: "digests.hashAlg",
            ..
        })
    ));

    // A Spec ID event that declares SHA-256 with 20 bytes.
    assert!(matches!(
        EventLog::parse(&spec_id_header(&[(0x000b, 20)])),
        Err(Error::Malformed {
            field: "digestSizes.digestSize",
            ..
        })
    ));
}

#[test]
fn startup_locality_sets_pcr0_only_before_pcr0_is_extended() {
    let mut locality = b"StartupLocality\0".to_vec();
    locality.push(3);
    let mut log = spec_id_header(&[(0x000b, 32)]);
    log.extend(agile_event(0, 3, &[(0x000b, vec![0; 32])], &locality));
    log.extend(agile_event(0, 8, &[(0x000b, vec![7; 32])], b"v"));
    let replay =
        Replay::run(&[MeasurementLog::Tcg(EventLog::parse(&log).expect("log"))]).expect("replays");
    let mut start = vec![0u8; 32];
    start[31] = 3;
    let expected = HashAlg::Sha256.digest_parts(&[&start, &[7; 32]]);
    assert_eq!(replay.value(HashAlg::Sha256, 0), Some(expected.as_slice()));
    assert_eq!(replay.startup_locality(), Some(3));

    let mut late = spec_id_header(&[(0x000b, 32)]);
    late.extend(agile_event(0, 8, &[(0x000b, vec![7; 32])], b"v"));
    late.extend(agile_event(0, 3, &[(0x000b, vec![0; 32])], &locality));
    assert!(matches!(
        Replay::run(&[MeasurementLog::Tcg(EventLog::parse(&late).expect("log"))]),
        Err(Error::Malformed {
            field: "StartupLocality",
            ..
        })
    ));
}

#[test]
fn events_beyond_pcr_23_do_not_replay() {
    let mut log = spec_id_header(&[(0x0004, 20)]);
    log.extend(agile_event(24, 5, &[(0x0004, vec![0; 20])], b""));
    assert_eq!(
        Replay::run(&[MeasurementLog::Tcg(EventLog::parse(&log).expect("log"))]),
        Err(Error::PcrIndexOutOfRange { pcr: 24, max: 23 })
    );
}

#[test]
fn uefi_variables_and_guids() {
    let log = EventLog::parse(&read(&format!("{WINDOWS}/eventlog_sha1_legacy.bin"))).expect("log");
    let secure_boot = UefiVariableData::parse(&log.events[1].data).expect("variable");
    assert_eq!(secure_boot.guid, Guid::EFI_GLOBAL_VARIABLE);
    assert_eq!(
        secure_boot.guid.to_string(),
        "8BE4DF61-93CA-11D2-AA0D-00E098032B8C"
    );
    assert_eq!(secure_boot.name, "SecureBoot");
    assert_eq!(secure_boot.data, [1]);
    let db = UefiVariableData::parse(&log.events[4].data).expect("db");
    assert_eq!(db.guid, Guid::EFI_IMAGE_SECURITY_DATABASE);
    assert_eq!(db.guid.to_string(), "D719B2CB-3D3A-4596-A3BC-DAD00E67656F");
    // Lengths that lie.
    let mut lying = log.events[1].data.clone();
    lying[16] = 0xff;
    assert!(matches!(
        UefiVariableData::parse(&lying),
        Err(Error::Truncated { .. })
    ));
}

#[test]
fn boot_variables_hashed_without_their_header_bind_only_the_data() {
    // OVMF measures Boot#### as H(VariableData) (go-tpm-tools' GCE logs).
    let log = EventLog::parse(&read(&format!("{GCE}/eventlog.bin"))).expect("log");
    let boot = log
        .events
        .iter()
        .find(|e| e.event_type == EventType::EV_EFI_VARIABLE_BOOT)
        .expect("a boot variable");
    assert_eq!(boot.data_binding(), DataBinding::VariableDataOnly);
    let config = log
        .events
        .iter()
        .find(|e| e.event_type == EventType::EV_EFI_VARIABLE_DRIVER_CONFIG)
        .expect("a config variable");
    assert_eq!(config.data_binding(), DataBinding::Full);
    let application = log
        .events
        .iter()
        .find(|e| e.event_type == EventType::EV_EFI_BOOT_SERVICES_APPLICATION)
        .expect("an application");
    assert_eq!(application.data_binding(), DataBinding::None);
}

#[test]
fn sipa_nesting_and_repeats() {
    fn entry(id: u32, data: &[u8]) -> Vec<u8> {
        let mut out = id.to_le_bytes().to_vec();
        out.extend_from_slice(&u32::try_from(data.len()).expect("fits").to_le_bytes());
        out.extend_from_slice(data);
        out
    }
    let inner = [
        entry(0x0005_0002, &[1]),
        entry(0x0002_0005, &4u32.to_le_bytes()),
        entry(0x0002_0005, &0u32.to_le_bytes()),
        entry(
            0x0007_0001,
            &"a\0"
                .encode_utf16()
                .flat_map(u16::to_le_bytes)
                .collect::<Vec<_>>(),
        ),
        entry(0x000a_0007, &3u64.to_le_bytes()),
        entry(0x0123_4567, &[9, 9]),
    ]
    .concat();
    let data = entry(0x4001_0001, &inner);
    let parsed = sipa::parse(&data).expect("parses");
    assert!(matches!(&parsed[0].value, SipaValue::Container(children) if children.len() == 6));
    assert_eq!(
        serde_json::Value::Object(sipa::to_json(&parsed)),
        json!({"EVENT_TRUSTBOUNDARY": {
            "EVENT_CODEINTEGRITY": true,
            "EVENT_BITLOCKER_UNLOCK": [{"Value": 4}, {"Value": 0}],
            "EVENT_FILEPATH": "a",
            "EVENT_VBS_HVCI_POLICY": {"String": "HypervisorEnforcedCodeIntegrityEnable", "Value": 3},
            "EVENT_UNKNOWN_0x01234567": {"RawData": "CQk"}
        }})
    );
    // Nine nested containers are too deep; a container whose size lies is truncated.
    let mut deep = entry(0x0005_0002, &[0]);
    for _ in 0..9 {
        deep = entry(0x4001_0001, &deep);
    }
    assert!(matches!(sipa::parse(&deep), Err(Error::Malformed { .. })));
    let mut lying = data.clone();
    lying[4] = 0xff;
    assert!(matches!(sipa::parse(&lying), Err(Error::Truncated { .. })));
}

// ---- IMA -------------------------------------------------------------------------------

fn field(bytes: &[u8]) -> Vec<u8> {
    let mut out = u32::try_from(bytes.len())
        .expect("fits")
        .to_le_bytes()
        .to_vec();
    out.extend_from_slice(bytes);
    out
}

fn d_ng(algorithm: &str, digest: &[u8]) -> Vec<u8> {
    [algorithm.as_bytes(), b":\0", digest].concat()
}

fn n_ng(name: &str) -> Vec<u8> {
    [name.as_bytes(), b"\0"].concat()
}

/// One binary entry and its ascii line.
fn ima_entry(template: &str, fields: &[Vec<u8>], violation: bool) -> (Vec<u8>, String) {
    let data: Vec<u8> = fields.iter().flat_map(|f| field(f)).collect();
    let hash: [u8; 20] = if violation {
        [0; 20]
    } else {
        HashAlg::Sha1.digest(&data).try_into().expect("20 bytes")
    };
    let mut binary = 10u32.to_le_bytes().to_vec();
    binary.extend_from_slice(&hash);
    binary.extend(field(template.as_bytes()));
    binary.extend(field(&data));
    let digest = &fields[0];
    let colon = digest.iter().position(|b| *b == b':').expect("colon");
    let mut line = format!(
        "10 {} {template} {}:{} {}",
        hex::encode(hash),
        std::str::from_utf8(&digest[..colon]).expect("utf8"),
        hex::encode(&digest[colon + 2..]),
        std::str::from_utf8(&fields[1][..fields[1].len() - 1]).expect("utf8"),
    );
    if let Some(third) = fields.get(2) {
        line.push(' ');
        line.push_str(&hex::encode(third));
    }
    (binary, line)
}

fn ima_fixture() -> (Vec<u8>, String) {
    let cert = read(&format!("{GCE}/ak_cert.der"));
    let entries = [
        ima_entry(
            "ima-ng",
            &[d_ng("sha256", &[0xab; 32]), n_ng("boot_aggregate")],
            false,
        ),
        ima_entry(
            "ima-ng",
            &[d_ng("sha256", &[0x11; 32]), n_ng("/usr/bin/with space")],
            false,
        ),
        ima_entry(
            "ima-ng",
            &[d_ng("sha256", &[0; 32]), n_ng("/var/log/open-for-write")],
            true,
        ),
        ima_entry(
            "ima-buf",
            &[
                d_ng("sha256", &HashAlg::Sha256.digest(b"6.1.0-test")),
                n_ng("kernel_version"),
                b"6.1.0-test".to_vec(),
            ],
            false,
        ),
        ima_entry(
            "ima-buf",
            &[
                d_ng("sha256", &HashAlg::Sha256.digest(&cert)),
                n_ng(".builtin_trusted_keys"),
                cert,
            ],
            false,
        ),
        ima_entry(
            "ima-sig",
            &[
                d_ng("sha256", &[0x22; 32]),
                n_ng("/usr/bin/signed"),
                vec![3, 2, 1],
            ],
            false,
        ),
    ];
    let binary = entries.iter().flat_map(|(b, _)| b.clone()).collect();
    let ascii = entries.iter().map(|(_, l)| format!("{l}\n")).collect();
    (binary, ascii)
}

#[test]
fn ima_binary_and_ascii_lists_agree_and_replay_pcr_10() {
    let (binary, ascii) = ima_fixture();
    let from_binary = ImaLog::parse(&binary).expect("binary");
    let from_ascii = ImaLog::parse(ascii.as_bytes()).expect("ascii");
    assert_eq!(from_binary, from_ascii);
    assert_eq!(from_binary.entries.len(), 6);
    assert_eq!(
        from_binary.entries[1].file_name().as_deref(),
        Some("/usr/bin/with space")
    );
    assert_eq!(
        from_binary.entries[1].file_digest(),
        Some(("sha256".to_owned(), vec![0x11; 32]))
    );
    assert!(from_binary.entries[2].is_violation());

    // SHA-1: extend with each template hash, all ones for the violation.
    let mut sha1 = vec![0u8; 20];
    for entry in &from_binary.entries {
        let digest = if entry.is_violation() {
            vec![0xff; 20]
        } else {
            HashAlg::Sha1.digest(entry.template_data())
        };
        sha1 = HashAlg::Sha1.digest_parts(&[&sha1, &digest]);
    }
    let replay = Replay::run(&[MeasurementLog::Ima(from_binary)]).expect("replays");
    assert_eq!(replay.value(HashAlg::Sha1, 10), Some(sha1.as_slice()));
    assert_eq!(replay.extended_mask(HashAlg::Sha256), 1 << 10);
}

#[test]
fn ima_tampering_is_detected() {
    let (mut binary, ascii) = ima_fixture();
    // The first entry's file digest (after pcr, hash, name, data length, d-ng length, "sha256:\0").
    let at = 4 + 20 + 4 + 6 + 4 + 4 + 8;
    binary[at] ^= 1;
    assert_eq!(
        ImaLog::parse(&binary),
        Err(Error::ImaTemplateHash { entry: 0 })
    );
    let tampered = ascii.replacen("boot_aggregate", "boot_aggregatf", 1);
    assert_eq!(
        ImaLog::parse(tampered.as_bytes()),
        Err(Error::ImaTemplateHash { entry: 0 })
    );
    assert!(matches!(
        ImaLog::parse(b"10 0000 ima sha1:00 /x\n"),
        Err(Error::Malformed { .. } | Error::Unsupported { .. })
    ));
    assert!(matches!(ImaLog::parse(&[]), Err(Error::Malformed { .. })));
}

#[test]
fn ima_events_follow_the_tcg_log_in_the_claims() {
    let (binary, _) = ima_fixture();
    let logs = vec![
        MeasurementLog::Tcg(
            EventLog::parse(&read("go-tpm-tools-eventlogs/rhel8-uefi.bin")).expect("log"),
        ),
        MeasurementLog::Ima(ImaLog::parse(&binary).expect("ima")),
    ];
    let tcg_len = match &logs[0] {
        MeasurementLog::Tcg(log) => log.events.len(),
        MeasurementLog::Ima(_) => unreachable!(),
        _ => unreachable!(),
    };
    let verified = synthetic_verified(logs, HashAlg::Sha256, 0x00ff_ffff);
    assert_eq!(
        verified.verified_pcrs & (1 << 10),
        1 << 10,
        "PCR 10 replayed"
    );
    let events = events_json(&verified);
    let ima: Vec<_> = events["Events"]
        .as_array()
        .expect("Events")
        .iter()
        .filter(|e| e["EventTypeString"] == json!("IMA_MEASUREMENT_EVENT"))
        .cloned()
        .collect();
    assert_eq!(ima.len(), 6);
    assert_eq!(ima[0]["EventSeq"], json!(tcg_len));
    assert_eq!(ima[0]["PcrIndex"], json!(10));
    assert_eq!(
        ima[0]["ProcessedData"],
        json!({
            "TemplateName": "ima-ng",
            "FileName": "boot_aggregate",
            "FileDigestAlgorithm": "sha256",
            "FileDigest": hex::encode([0xab; 32])
        })
    );
    assert_eq!(ima[2]["ProcessedData"]["Violation"], json!(true));
    assert_eq!(
        ima[3]["ProcessedData"]["KernelVersion"],
        json!("6.1.0-test")
    );
    assert_eq!(
        ima[4]["ProcessedData"]["Keyring"],
        json!(".builtin_trusted_keys")
    );
    let subject = ima[4]["ProcessedData"]["CertificateSubject"]
        .as_str()
        .expect("subject");
    // The GCE AK certificate has an empty subject.
    assert_eq!(subject, "");
    assert_eq!(ima[5]["ProcessedData"]["Signature"], json!("AwIB"));
}

// ---- key binding -------------------------------------------------------------------------

#[test]
fn quote_key_binding_hashes_the_jwk_text_as_sent() {
    let jwk = r#"{"kty":"RSA", "n":"AQAB","e":"AQAB"}"#;
    let challenge = [7u8; 16];
    let mut concatenated = jwk.as_bytes().to_vec();
    concatenated.push(0);
    concatenated.extend_from_slice(&challenge);
    let expected = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &concatenated);
    assert_eq!(
        quote_key_binding(jwk, &challenge, HashAlg::Sha256),
        expected.as_ref()
    );
    // Re-serialising the JWK would change the binding.
    assert_ne!(
        quote_key_binding(
            r#"{"kty":"RSA","n":"AQAB","e":"AQAB"}"#,
            &challenge,
            HashAlg::Sha256
        ),
        expected.as_ref()
    );
    assert_eq!(hash_from_name("sha-256"), Some(HashAlg::Sha256));
    assert_eq!(hash_from_name("SHA384"), Some(HashAlg::Sha384));
    assert_eq!(hash_from_name("md5"), None);
}

#[test]
fn certify_binds_exactly_the_named_key_to_the_challenge() {
    let aik = EcdsaAk::generate();
    let aik_key =
        AikPublicKey::from_public(&Public::parse(&aik.tpmt_public(AK_ATTRIBUTES)).expect("AK"))
            .expect("key");
    let key = EcdsaAk::generate();
    let public = key.tpmt_public(0x0006_0072);
    let name = Public::parse(&public)
        .expect("public")
        .name()
        .expect("name");
    let certification = synth::certify(b"challenge", &name);
    let signature = aik.sign(&certification);
    let certified = verify_certify(&public, &certification, &signature, &aik_key, b"challenge")
        .expect("verifies");

    let point = key.pair.public_key_bytes();
    let jwk = json!({
        "kty": "EC", "crv": "P-256",
        "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
        "y": URL_SAFE_NO_PAD.encode(&point[33..]),
    });
    assert_eq!(key_from_jwk(&jwk).expect("jwk"), certified.key);
    let attested = AttestedKey::certified(jwk.clone(), certified.clone()).expect("matches");
    assert_eq!(
        attested.to_claim()["info"]["tpm_certify"],
        json!({"name_alg": 11, "obj_attr": 0x0006_0072, "auth_policy": ""})
    );
    // Another key's JWK.
    let other = EcdsaAk::generate().pair.public_key_bytes();
    let wrong = json!({
        "kty": "EC", "crv": "P-256",
        "x": URL_SAFE_NO_PAD.encode(&other[1..33]),
        "y": URL_SAFE_NO_PAD.encode(&other[33..]),
    });
    assert!(matches!(
        AttestedKey::certified(wrong, certified),
        Err(Error::JwkMismatch { .. })
    ));

    // Wrong challenge, another object's public area, a quote instead of a certification,
    // another signer.
    assert!(matches!(
        verify_certify(&public, &certification, &signature, &aik_key, b"other"),
        Err(Error::QualifyingDataMismatch { .. })
    ));
    let other_public = EcdsaAk::generate().tpmt_public(0x0006_0072);
    assert_eq!(
        verify_certify(
            &other_public,
            &certification,
            &signature,
            &aik_key,
            b"challenge"
        ),
        Err(Error::CertifiedNameMismatch)
    );
    let quote = synth::quote(b"challenge", &[(HashAlg::Sha256, 1)], &[0; 32]);
    assert!(matches!(
        verify_certify(&public, &quote, &aik.sign(&quote), &aik_key, b"challenge"),
        Err(Error::WrongAttestationType {
            expected: 0x8017,
            found: 0x8018
        })
    ));
    let impostor = EcdsaAk::generate();
    assert_eq!(
        verify_certify(
            &public,
            &certification,
            &impostor.sign(&certification),
            &aik_key,
            b"challenge"
        ),
        Err(Error::BadSignature {
            what: "certification"
        })
    );
}

trait PublicKeyBytes {
    fn public_key_bytes(&self) -> Vec<u8>;
}

impl PublicKeyBytes for aws_lc_rs::signature::EcdsaKeyPair {
    fn public_key_bytes(&self) -> Vec<u8> {
        use aws_lc_rs::signature::KeyPair as _;
        self.public_key().as_ref().to_vec()
    }
}
