//! Claims from real logs, and MAA's sample TPM policies evaluated against them.

use crate::common::synth::{self, AK_ATTRIBUTES, EcdsaAk, RsaAk};
use crate::common::{
    GCE, WINDOWS, at, gce_quote, gce_time, read, synthetic_verified, windows_pcrs,
};
use attesto_policy::{ClaimSet, ClaimValue, Evaluation, Policy};
use attesto_tpm::claims::BootProperties;
use attesto_tpm::eventlog::EventType;
use attesto_tpm::keys::{AttestedKey, verify_certify};
use attesto_tpm::{
    AikEvidence, EventLog, HashAlg, MeasurementLog, QuoteEvidence, TrustAnchors, VerifiedQuote,
    VerifyOptions, boot_properties, events_json, pcrs_json, tpm_claims, verify_quote,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

fn windows_log() -> Vec<u8> {
    read(&format!("{WINDOWS}/eventlog_sha1_legacy.bin"))
}

fn windows_verified_with(
    log: &[u8],
    options: impl FnOnce(&mut VerifyOptions<'_>),
) -> VerifiedQuote {
    let quote = read(&format!("{WINDOWS}/quote_sha1.tpms_attest"));
    let signature = read(&format!("{WINDOWS}/quote_sha1.tpmt_signature"));
    let pcrs = windows_pcrs();
    let logs = vec![MeasurementLog::Tcg(EventLog::parse(log).expect("log"))];
    let aik = AikEvidence::new()
        .with_tpm_public(&read(&format!("{WINDOWS}/ak.tpmt_public")))
        .expect("AK");
    let anchors = TrustAnchors::empty();
    let mut verify_options = VerifyOptions::new(&[], at(1_600_000_000), &anchors);
    verify_options.require_valid_aik_cert = false;
    options(&mut verify_options);
    verify_quote(
        &QuoteEvidence {
            quote: &quote,
            signature: &signature,
            pcrs: &pcrs,
            logs: &logs,
            aik: &aik,
        },
        &verify_options,
    )
    .expect("verifies")
}

fn windows_verified() -> VerifiedQuote {
    windows_verified_with(&windows_log(), |_| {})
}

fn gce_verified(bank: HashAlg) -> VerifiedQuote {
    let (quote, signature, pcrs) = gce_quote(bank);
    let logs = vec![MeasurementLog::Tcg(
        EventLog::parse(&read(&format!("{GCE}/eventlog.bin"))).expect("log"),
    )];
    let aik = AikEvidence::new()
        .with_certificate(read(&format!("{GCE}/ak_cert.der")))
        .with_intermediates(vec![read(&format!(
            "{GCE}/certs/tpm_ek_intermediate_2.crt"
        ))]);
    let anchors =
        TrustAnchors::from_der([read(&format!("{GCE}/certs/tpm_ek_root_1.cer"))]).expect("root");
    verify_quote(
        &QuoteEvidence {
            quote: &quote,
            signature: &signature,
            pcrs: &pcrs,
            logs: &logs,
            aik: &aik,
        },
        &VerifyOptions::new(&[0x90, 0x09], gce_time(), &anchors),
    )
    .expect("verifies")
}

fn real_log(relative: &str) -> Vec<MeasurementLog> {
    vec![MeasurementLog::Tcg(
        EventLog::parse(&read(relative)).expect("log"),
    )]
}

fn events_of(quote: &VerifiedQuote) -> Vec<Value> {
    events_json(quote)["Events"]
        .as_array()
        .expect("Events")
        .clone()
}

fn evaluate(policy_file: &str, claims: &Map<String, Value>) -> Evaluation {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata/policies")
            .join(policy_file),
    )
    .expect("policy");
    let policy = Policy::parse(&text).unwrap_or_else(|e| panic!("{policy_file}: {e}"));
    let claim_set = ClaimSet::from_json(&Value::Object(claims.clone())).expect("claims");
    policy
        .evaluate(&claim_set)
        .unwrap_or_else(|e| panic!("{policy_file}: {e}"))
}

fn issued(evaluation: &Evaluation) -> Vec<(String, ClaimValue)> {
    evaluation
        .issued_claims
        .iter()
        .map(|c| (c.claim_type.to_string(), c.value.clone()))
        .collect()
}

fn issued_value(evaluation: &Evaluation, name: &str) -> Option<ClaimValue> {
    issued(evaluation)
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
}

// ---- the claims themselves ---------------------------------------------------------------

#[test]
fn windows_shielded_vm_claims_are_what_the_log_says() {
    let verified = windows_verified();
    let claims = tpm_claims(&verified, None, None, &[]);
    assert_eq!(
        boot_properties(&verified),
        BootProperties {
            secure_boot_enabled: true,
            boot_debugging_disabled: true,
            not_safe_mode: true,
            not_win_pe: true,
            vbs_enabled: false,
            iommu_enabled: false,
        }
    );
    assert_eq!(claims["aikValidated"], json!(false));
    assert_eq!(claims["tpmVersion"], json!(2));
    assert_eq!(claims["secureBootEnabled"], json!(true));
    assert_eq!(claims["bootDebuggingDisabled"], json!(true));
    assert_eq!(claims["notSafeMode"], json!(true));
    assert_eq!(claims["notWinPE"], json!(true));
    assert_eq!(claims["vbsEnabled"], json!(false));
    assert_eq!(claims["iommuEnabled"], json!(false));

    // go-attestation's expectations for this log: boot count 4, BitLocker unlocks [0, 0],
    // code integrity and DEP on, the Defender ELAM driver loaded.
    let events = &claims["events"];
    let query = |q: &str| -> Value {
        let expression = jmespath::compile(q).expect("query");
        let variable = jmespath::Variable::try_from(events).expect("variable");
        let result = expression.search(variable).expect("search");
        serde_json::to_value(&*result).expect("json")
    };
    assert_eq!(
        query(
            "Events[?EventTypeString == 'EV_EVENT_TAG'].ProcessedData.EVENT_TRUSTBOUNDARY.EVENT_BOOTCOUNTER.Value"
        ),
        json!([4])
    );
    assert_eq!(
        query(
            "Events[?EventTypeString == 'EV_EVENT_TAG' && PcrIndex == `12`].ProcessedData.EVENT_TRUSTBOUNDARY.EVENT_BITLOCKER_UNLOCK.Value"
        ),
        json!([0, 0])
    );
    assert_eq!(
        query(
            "Events[?EventTypeString == 'EV_EVENT_TAG'].ProcessedData.EVENT_TRUSTBOUNDARY.EVENT_DATAEXECUTIONPREVENTION.Value"
        ),
        json!([1, 1])
    );
    let ci = query(
        "Events[?EventTypeString == 'EV_EVENT_TAG'].ProcessedData.EVENT_TRUSTBOUNDARY.EVENT_CODEINTEGRITY",
    );
    assert!(!ci.as_array().expect("array").is_empty());
    assert!(
        ci.as_array()
            .expect("array")
            .iter()
            .all(|v| *v == json!(true)),
        "{ci}"
    );
    assert_eq!(
        query(
            "Events[].ProcessedData.EVENT_TRUSTBOUNDARY.EVENT_ELAM_AGGREGATION[].EVENT_ELAM_KEYNAME"
        ),
        json!(["Windows Defender"])
    );
    let drivers = query(
        "Events[].ProcessedData.EVENT_TRUSTBOUNDARY.EVENT_LOADEDMODULE_AGGREGATION[].EVENT_FILEPATH",
    );
    assert!(
        drivers
            .as_array()
            .expect("array")
            .contains(&json!("\\Windows\\system32\\drivers\\wd\\WdBoot.sys")),
        "{drivers}"
    );
}

#[test]
fn windows_event_shapes_are_pinned() {
    let events = events_of(&windows_verified());
    // Every measured event is on a quoted, replay-verified PCR.
    assert_eq!(events.len(), 21);
    let secure_boot = &events[1];
    assert_eq!(
        secure_boot,
        &json!({
            "EventSeq": 1,
            "PcrIndex": 7,
            "EventType": 0x8000_0001u32,
            "EventTypeString": "EV_EFI_VARIABLE_DRIVER_CONFIG",
            "Digests": {"SHA1": "d4fdd1f14d4041494deb8fc990c45343d2277d08"},
            "ProcessedData": {
                "VariableGuid": "8BE4DF61-93CA-11D2-AA0D-00E098032B8C",
                "UnicodeName": "SecureBoot",
                "VariableData": "AQ"
            }
        })
    );
    // db lives under EFI_IMAGE_SECURITY_DATABASE.
    assert_eq!(
        events[4]["ProcessedData"]["VariableGuid"],
        json!("D719B2CB-3D3A-4596-A3BC-DAD00E67656F")
    );
    // A boot application's data (a device path) is not bound by its digest: no ProcessedData.
    assert_eq!(
        events[9]["EventTypeString"],
        json!("EV_EFI_BOOT_SERVICES_APPLICATION")
    );
    assert!(events[9].get("ProcessedData").is_none());
    // SIPA: a trust boundary with booleans, {Value} integers, always-array aggregations.
    let boundary = &events[12]["ProcessedData"]["EVENT_TRUSTBOUNDARY"];
    assert_eq!(boundary["EVENT_BOOTDEBUGGING"], json!(false));
    assert_eq!(boundary["EVENT_APPLICATION_SVN"], json!({"Value": 1}));
    assert_eq!(
        boundary["EVENT_LOADEDMODULE_AGGREGATION"][0]["EVENT_FILEPATH"],
        json!("\\Windows\\system32\\winload.efi")
    );
    assert_eq!(
        boundary["EVENT_LOADEDMODULE_AGGREGATION"][0]["EVENT_IMAGEVALIDATED"],
        json!(true)
    );
    // A top-level (uncontained) SIPA entry.
    assert!(events[13]["ProcessedData"]["EVENT_AUTHORITYPUBKEY"].is_array());
    // The WBCL separators.
    assert_eq!(
        events[20]["ProcessedData"],
        json!({"Value": 0x4c43_4257u32})
    );
}

#[test]
fn pcrs_claim_lists_every_quoted_pcr_in_hex() {
    let verified = gce_verified(HashAlg::Sha256);
    let pcrs = pcrs_json(&verified);
    let list = pcrs["PCRs"].as_array().expect("PCRs");
    assert_eq!(list.len(), 24);
    let (_, _, values) = gce_quote(HashAlg::Sha256);
    for (i, entry) in list.iter().enumerate() {
        let i = u32::try_from(i).expect("index");
        assert_eq!(entry["Index"], json!(i));
        assert_eq!(
            entry["Digests"],
            json!({"SHA256": hex::encode(values.get(HashAlg::Sha256, i).expect("value"))})
        );
    }
}

#[test]
fn gce_claims_validate_the_aik_and_report_secure_boot() {
    let verified = gce_verified(HashAlg::Sha384);
    let claims = tpm_claims(&verified, None, None, &[]);
    assert_eq!(claims["aikValidated"], json!(true));
    // aikPubHash = base64(SHA-256(the AIK's SubjectPublicKeyInfo DER)), computed here from
    // the certificate.
    let cert = read(&format!("{GCE}/ak_cert.der"));
    let (_, parsed) = x509_parser::parse_x509_certificate(&cert).expect("cert");
    let expected = STANDARD.encode(HashAlg::Sha256.digest(parsed.public_key().raw));
    assert_eq!(claims["aikPubHash"], json!(expected));
    assert_eq!(claims["secureBootEnabled"], json!(true));
    // No Windows boot configuration in a Linux log: the Windows booleans need evidence.
    for name in [
        "bootDebuggingDisabled",
        "notSafeMode",
        "notWinPE",
        "vbsEnabled",
        "iommuEnabled",
    ] {
        assert_eq!(claims[name], json!(false), "{name}");
    }
    let events = claims["events"]["Events"].as_array().expect("Events");
    assert!(events.iter().all(|e| e["PcrIndex"].as_u64() < Some(10)));
    // EventSeq counts the Spec ID header as 0 and skips EV_NO_ACTION events.
    assert_eq!(events[0]["EventSeq"], json!(1));
    assert!(
        events
            .iter()
            .all(|e| e["EventTypeString"] != json!("EV_NO_ACTION"))
    );
    // Crypto-agile events carry every bank's digest.
    let digests = events[0]["Digests"].as_object().expect("digests");
    assert_eq!(
        digests.keys().cloned().collect::<Vec<_>>(),
        vec!["SHA1".to_owned(), "SHA256".to_owned(), "SHA384".to_owned()]
    );
}

#[test]
fn secure_boot_follows_the_logs() {
    // The SecureBoot variable's data in each log (read with an independent script; upstream
    // names agree: "no-secure-boot", "NoSecureBootLaptop", and the no-dbx log is described as
    // "with Secure Boot disabled"). The Arch log measures the variable with no data at all.
    for (file, on) in [
        ("arch-linux-workstation.bin", false),
        ("confidential-gke-debug-251000_eventlog.bin", true),
        ("cos-101-amd-sev.bin", true),
        ("cos-85-amd-sev.bin", true),
        ("cos-93-amd-sev.bin", true),
        ("debian-10.bin", true),
        ("eventlogwithsp800155.bin", true),
        ("gdc-host.bin", false),
        ("glinux-alex.bin", false),
        ("rhel8-uefi.bin", true),
        ("ubuntu-1804-amd-sev.bin", false),
        ("ubuntu-2104-no-dbx.bin", false),
        ("ubuntu-2104-no-secure-boot.bin", false),
        ("ubuntu-2404-amd-sevsnp.bin", false),
    ] {
        let bank = if file == "debian-10.bin" {
            HashAlg::Sha1
        } else {
            HashAlg::Sha256
        };
        let verified = synthetic_verified(
            real_log(&format!("go-tpm-tools-eventlogs/{file}")),
            bank,
            0x00ff_ffff,
        );
        assert_eq!(boot_properties(&verified).secure_boot_enabled, on, "{file}");
    }
}

#[test]
fn only_events_on_verified_pcrs_become_claims() {
    // A quote over PCR 7 only: every other event is left out.
    let verified = synthetic_verified(
        real_log("go-tpm-tools-eventlogs/rhel8-uefi.bin"),
        HashAlg::Sha256,
        1 << 7,
    );
    let events = events_of(&verified);
    assert!(!events.is_empty());
    assert!(events.iter().all(|e| e["PcrIndex"] == json!(7)));
    assert!(boot_properties(&verified).secure_boot_enabled);
    // Without PCR 7 there is no secure-boot evidence.
    let verified = synthetic_verified(
        real_log("go-tpm-tools-eventlogs/rhel8-uefi.bin"),
        HashAlg::Sha256,
        0x00ff_ff7f,
    );
    assert!(
        events_of(&verified)
            .iter()
            .all(|e| e["PcrIndex"] != json!(7))
    );
    assert!(!boot_properties(&verified).secure_boot_enabled);
}

#[test]
fn altered_event_data_with_original_digests_feeds_no_claim() {
    // Flip the SecureBoot variable's value (01 -> 00) but keep its digest: the replay still
    // matches the quote, so verification succeeds, but the data is no longer bound.
    let mut log = windows_log();
    let parsed = EventLog::parse(&log).expect("log");
    let event = &parsed.events[1];
    assert_eq!(event.event_type, EventType::EV_EFI_VARIABLE_DRIVER_CONFIG);
    let last_data_byte = event.offset + 32 + event.data.len() - 1;
    assert_eq!(log[last_data_byte], 1);
    log[last_data_byte] = 0;
    let verified = windows_verified_with(&log, |_| {});
    assert!(!boot_properties(&verified).secure_boot_enabled);
    let events = events_of(&verified);
    assert!(events[1].get("ProcessedData").is_none(), "{}", events[1]);
    // And the same for a SIPA event: flipping EVENT_BOOTDEBUGGING removes the evidence.
    let mut log = windows_log();
    let event = &parsed.events[11];
    assert_eq!(event.event_type, EventType::EV_EVENT_TAG);
    let data_at = event.offset + 32;
    let needle = [0x01, 0x00, 0x04, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00];
    let position = log[data_at..data_at + event.data.len()]
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("BOOTDEBUGGING entry");
    log[data_at + position + 8] = 1;
    let verified = windows_verified_with(&log, |_| {});
    let properties = boot_properties(&verified);
    assert!(
        properties.boot_debugging_disabled,
        "other boundaries still say false"
    );
    assert!(events_of(&verified)[11].get("ProcessedData").is_none());
}

#[test]
fn boot_events_and_key_claims_are_added_when_given() {
    let current = gce_verified(HashAlg::Sha256);
    let boot = gce_verified(HashAlg::Sha1);
    let key = AttestedKey::quoted(
        json!({"kty": "RSA", "n": "AQAB", "e": "AQAB"}),
        HashAlg::Sha256,
    );
    let other = AttestedKey::quoted(json!({"kty": "EC"}), HashAlg::Sha384);
    let claims = tpm_claims(
        &current,
        Some(&boot),
        Some(&key),
        std::slice::from_ref(&other),
    );
    assert_eq!(claims["bootEvents"], events_json(&boot));
    assert_eq!(
        claims["x-ms-tpm-request-key"],
        json!({"jwk": {"kty": "RSA", "n": "AQAB", "e": "AQAB"}, "info": {"tpm_quote": {"hash_alg": "sha-256"}}})
    );
    assert_eq!(
        claims["x-ms-tpm-other-keys"][0]["info"]["tpm_quote"]["hash_alg"],
        json!("sha-384")
    );
    let plain = tpm_claims(&current, None, None, &[]);
    for absent in ["bootEvents", "x-ms-tpm-request-key", "x-ms-tpm-other-keys"] {
        assert!(!plain.contains_key(absent), "{absent}");
    }
}

// ---- MAA's sample TPM policies against claims from the real logs --------------------------

#[test]
fn v1_0_policies_issue_platform_attested_only_when_every_property_holds() {
    let gce = tpm_claims(&gce_verified(HashAlg::Sha256), None, None, &[]);
    let windows = tpm_claims(&windows_verified(), None, None, &[]);

    let simple = evaluate("tpm-v1.0-simple-secureboot.txt", &gce);
    assert!(simple.permitted);
    assert_eq!(
        issued(&simple),
        vec![("PlatformAttested".to_owned(), ClaimValue::Boolean(true))]
    );
    // Windows: secure boot on, but no AIK certificate.
    assert!(issued(&evaluate("tpm-v1.0-simple-secureboot.txt", &windows)).is_empty());
    // GCE: the AIK is validated but a Linux log has no boot-debugging evidence.
    let platform = evaluate("tpm-v1.0-platformattested.txt", &gce);
    assert!(platform.permitted);
    assert!(issued(&platform).is_empty());
    assert!(issued(&evaluate("tpm-v1.0-sample-vbs-winpe.txt", &windows)).is_empty());
}

#[test]
fn v1_1_configuration_rules_drive_verification_and_issue_platform_attested_false() {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata/policies/tpm-v1.1-configurationrules.txt"),
    )
    .expect("policy");
    let policy = Policy::parse(&text).expect("parses");
    let config = policy.configuration();
    assert!(!config.require_valid_aik_cert);
    assert_eq!(config.required_pcr_mask, 15);
    // The policy's configuration decides how the Windows quote (no AIK certificate) is checked.
    let verified = windows_verified_with(&windows_log(), |options| {
        options.require_valid_aik_cert = config.require_valid_aik_cert;
        options.required_pcr_mask = config.required_pcr_mask;
    });
    let claims = tpm_claims(&verified, None, None, &[]);
    let evaluation = evaluate("tpm-v1.1-configurationrules.txt", &claims);
    assert!(evaluation.permitted);
    assert_eq!(
        issued(&evaluation),
        vec![("PlatformAttested".to_owned(), ClaimValue::Boolean(false))]
    );
}

#[test]
fn secure_boot_policy_reads_the_events_claim() {
    for (claims, on) in [
        (tpm_claims(&windows_verified(), None, None, &[]), true),
        (
            tpm_claims(&gce_verified(HashAlg::Sha1), None, None, &[]),
            true,
        ),
        (
            tpm_claims(
                &synthetic_verified(
                    real_log("go-tpm-tools-eventlogs/ubuntu-2104-no-secure-boot.bin"),
                    HashAlg::Sha256,
                    0x00ff_ffff,
                ),
                None,
                None,
                &[],
            ),
            false,
        ),
    ] {
        let evaluation = evaluate("tpm-v1.2-functions-secureboot-suspect.txt", &claims);
        assert_eq!(
            issued_value(&evaluation, "secureBootEnabled"),
            Some(ClaimValue::Boolean(on))
        );
        assert_eq!(
            claims["secureBootEnabled"],
            json!(on),
            "service claim agrees with the policy"
        );
    }
}

#[test]
fn security_properties_policy_on_the_windows_log() {
    let claims = tpm_claims(&windows_verified(), None, None, &[]);
    let evaluation = evaluate("tpm-v1.2-security-properties.txt", &claims);
    assert!(evaluation.permitted);
    assert_eq!(
        issued(&evaluation),
        vec![
            ("aikValidated".to_owned(), ClaimValue::Boolean(false)),
            ("SecureBootEnabled".to_owned(), ClaimValue::Boolean(true)),
            ("CodeIntegrityEnabled".to_owned(), ClaimValue::Boolean(true)),
            // Every EVENT_BITLOCKER_UNLOCK is 0: no unlock measured.
            ("BitlockerStatus".to_owned(), ClaimValue::Boolean(false)),
            ("ELAMDriverLoaded".to_owned(), ClaimValue::Boolean(true)),
        ]
    );
}

#[test]
fn driver_hvci_and_system_guard_policies_on_the_windows_log() {
    let claims = tpm_claims(&windows_verified(), None, None, &[]);
    let drivers = evaluate("tpm-v1.2-driver-loads.txt", &claims);
    let Some(ClaimValue::String(all)) = issued_value(&drivers, "alldriverloads") else {
        panic!("alldriverloads: {:?}", issued(&drivers));
    };
    let all: Vec<String> = serde_json::from_str(&all).expect("JSON list");
    assert!(
        all.contains(&"\\Windows\\system32\\winload.efi".to_owned()),
        "{all:?}"
    );
    assert!(all.iter().any(|p| p.ends_with("WdBoot.sys")), "{all:?}");
    // The sample's second rule queries `events` (lower case) with a string PcrIndex: no match.
    assert_eq!(
        issued_value(&drivers, "DriverLoadPolicy"),
        Some(ClaimValue::string("null"))
    );

    let hvci = evaluate("tpm-v1.2-hvci-malicious-driver.txt", &claims);
    // This VM measures no HVCI policy.
    assert_eq!(
        issued_value(&hvci, "hvciEnabled"),
        Some(ClaimValue::Boolean(false))
    );

    let guard = evaluate("tpm-v1.2-system-guard.txt", &claims);
    // No DRTM in this boot (and DRTM state signatures are not verified here).
    assert_eq!(
        issued(&guard),
        vec![("drtmMleValid".to_owned(), ClaimValue::Boolean(false))]
    );
}

#[test]
fn issue_all_events_and_pcr_golden_policies() {
    let verified = gce_verified(HashAlg::Sha256);
    let claims = tpm_claims(&verified, Some(&verified), None, &[]);
    let all = evaluate("tpm-v1.2-issue-all-events.txt", &claims);
    assert_eq!(
        issued_value(&all, "outputEvents").map(|v| v.to_json()),
        Some(claims["events"].clone())
    );
    assert_eq!(
        issued_value(&all, "outputBootEvents").map(|v| v.to_json()),
        Some(claims["bootEvents"].clone())
    );
    // The golden values are another machine's PCR 0/1 (PCR 2/3 match every GCE VM): denied.
    let golden = evaluate("tpm-v1.2-pcr-golden-authorization.txt", &claims);
    assert!(!golden.permitted);
    // With this VM's own PCR 0/1 substituted, the same policy permits: the pcrs claim is
    // queried exactly as written.
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata/policies/tpm-v1.2-pcr-golden-authorization.txt"),
    )
    .expect("policy");
    let (_, _, pcrs) = gce_quote(HashAlg::Sha256);
    let own = text
        .replace(
            "4c833b1c361fceffd8dc0f81eec76081b71e1a0eb2193caed0b6e1c7735ec33e",
            &hex::encode(pcrs.get(HashAlg::Sha256, 0).expect("pcr0")),
        )
        .replace(
            "8c25e3be6ad6f5bd33c9ae40d5d5461e88c1a7366df0c9ee5c7e5ff40d3d1d0e",
            &hex::encode(pcrs.get(HashAlg::Sha256, 1).expect("pcr1")),
        );
    let policy = Policy::parse(&own).expect("parses");
    let evaluation = policy
        .evaluate(&ClaimSet::from_json(&Value::Object(claims)).expect("claims"))
        .expect("evaluates");
    assert!(evaluation.permitted);
}

#[test]
fn key_attestation_policy_with_a_certified_request_key() {
    let aik = EcdsaAk::generate();
    let aik_key = attesto_tpm::AikPublicKey::from_public(
        &attesto_tpm::tpm2::Public::parse(&aik.tpmt_public(AK_ATTRIBUTES)).expect("AK"),
    )
    .expect("key");
    let challenge = b"challenge-bytes!";
    let verified = gce_verified(HashAlg::Sha256);
    for (attributes, permitted) in [(50u32, true), (AK_ATTRIBUTES, false)] {
        let request_key = RsaAk::generate();
        let public = request_key.tpmt_public(attributes);
        let name = attesto_tpm::tpm2::Public::parse(&public)
            .expect("public")
            .name()
            .expect("name");
        let certification = synth::certify(challenge, &name);
        let signature = aik.sign(&certification);
        let certified = verify_certify(&public, &certification, &signature, &aik_key, challenge)
            .expect("certify");
        let n = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(request_key.modulus());
        let jwk = json!({"kty": "RSA", "n": n, "e": "AQAB"});
        let key = AttestedKey::certified(jwk, certified).expect("JWK matches");
        let claims = tpm_claims(&verified, None, Some(&key), &[]);
        assert_eq!(
            claims["x-ms-tpm-request-key"]["info"]["tpm_certify"]["obj_attr"],
            json!(attributes)
        );
        let evaluation = evaluate("tpm-v1.2-key-attestation-authz.txt", &claims);
        assert_eq!(evaluation.permitted, permitted, "obj_attr {attributes}");
    }
}
