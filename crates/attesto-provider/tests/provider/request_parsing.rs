//! The request parser, case by case: every accepted spelling and every rejection with its
//! specific error; plus "never panics" properties.

use anyhow::Result;
use attesto_jose::Base64Problem;
use attesto_policy::AttestationType::{self, OpenEnclave, SevSnpVm, SgxEnclave, TdxVm, Tpm};
use attesto_provider::request::{
    ApiVersion, AttestRequest, Data, DataType, MAX_BODY_LEN, MAX_DATA_LEN, MAX_EVIDENCE_LEN,
    MAX_NONCE_LEN, RequestError, parse,
};
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::support::b64;

const MODERN: ApiVersion = ApiVersion::V2022_08_01;
const LEGACY: ApiVersion = ApiVersion::V2018_09_01_Preview;

/// Bytes that look like the start of a quote (v3, key type 2) and contain 0xfb 0xff so that
/// the standard and URL-safe alphabets differ.
fn quote() -> Vec<u8> {
    vec![3, 0, 2, 0, 0xfb, 0xff, 0xfe, 9, 8, 7]
}

/// An Open Enclave report wrapping `quote`.
fn oe_report(quote: &[u8], report_type: u32, declared: u64) -> Vec<u8> {
    let mut report = Vec::new();
    report.extend_from_slice(&1u32.to_le_bytes());
    report.extend_from_slice(&report_type.to_le_bytes());
    report.extend_from_slice(&declared.to_le_bytes());
    report.extend_from_slice(quote);
    report
}

fn ok(kind: AttestationType, version: ApiVersion, body: &Value) -> AttestRequest {
    match parse(kind, version, body.to_string().as_bytes()) {
        Ok(request) => request,
        Err(error) => panic!("{body} should parse: {error}"),
    }
}

fn err(kind: AttestationType, version: ApiVersion, body: &Value) -> RequestError {
    err_bytes(kind, version, body.to_string().as_bytes())
}

fn err_bytes(kind: AttestationType, version: ApiVersion, body: &[u8]) -> RequestError {
    match parse(kind, version, body) {
        Ok(request) => panic!(
            "{} should be rejected, parsed as {request:?}",
            String::from_utf8_lossy(body)
        ),
        Err(error) => error,
    }
}

fn binary(bytes: &[u8]) -> Option<Data> {
    Some(Data {
        bytes: bytes.to_vec(),
        data_type: DataType::Binary,
    })
}

#[test]
fn api_versions_parse_and_reject_with_the_supported_list() {
    for version in ApiVersion::ALL {
        assert_eq!(version.as_str().parse::<ApiVersion>(), Ok(version));
        assert_eq!(version.to_string(), version.as_str());
    }
    assert_eq!(
        "2018-09-01-PREVIEW".parse::<ApiVersion>(),
        Ok(ApiVersion::V2018_09_01_Preview)
    );
    assert!(ApiVersion::V2018_09_01_Preview.is_legacy());
    assert!(!ApiVersion::V2025_06_01.is_legacy());
    for bad in ["", "2021-01-01", "2022-08-01 ", "latest"] {
        let error = bad.parse::<ApiVersion>().expect_err(bad);
        let message = error.to_string();
        assert!(message.contains(&format!("'{bad}'")), "{message}");
        for version in ApiVersion::ALL {
            assert!(message.contains(version.as_str()), "{message}");
        }
    }
}

#[test]
fn sdk_body_with_binary_runtime_data() {
    let body = json!({"quote": b64(&quote()), "runtimeData": {"data": b64(b"hello"), "dataType": "Binary"}});
    let request = ok(SgxEnclave, MODERN, &body);
    assert_eq!(request.evidence, quote());
    assert_eq!(request.runtime_data, binary(b"hello"));
    assert_eq!(request.init_time_data, None);
    assert_eq!(request.draft_policy, None);
    assert_eq!(request.nonce, None);
    assert!(!request.legacy);
}

#[test]
fn member_names_and_data_type_values_ignore_case() {
    let json_data = br#"{"kid":"k1"}"#;
    for (quote_key, runtime_key, data_key, type_key, type_value) in [
        ("quote", "runtimeData", "data", "dataType", "JSON"),
        ("Quote", "RuntimeData", "Data", "DataType", "json"),
        ("QUOTE", "RUNTIMEDATA", "DATA", "DATATYPE", "Json"),
    ] {
        let body = json!({
            quote_key: b64(&quote()),
            runtime_key: {data_key: b64(json_data), type_key: type_value},
            "InitTimeData": {"DATA": b64(b"init"), "datatype": "BINARY"},
            "DRAFTPOLICYFORATTESTATION": "version=1.0; authorizationrules{=> permit();};",
            "Nonce": "n-1",
        });
        let request = ok(SgxEnclave, MODERN, &body);
        assert_eq!(request.evidence, quote());
        assert_eq!(
            request.runtime_data,
            Some(Data {
                bytes: json_data.to_vec(),
                data_type: DataType::Json
            })
        );
        assert_eq!(request.init_time_data, binary(b"init"));
        assert_eq!(
            request.draft_policy.as_deref(),
            Some("version=1.0; authorizationrules{=> permit();};")
        );
        assert_eq!(request.nonce.as_deref(), Some("n-1"));
    }
}

#[test]
fn nulls_are_absent_and_unknown_members_are_ignored() {
    // The pre-SDK .NET sample's exact shape: PascalCase, nulls.
    let body = json!({
        "Quote": b64(&quote()),
        "RuntimeData": null,
        "InittimeData": null,
        "DraftPolicyForAttestation": null,
        "nonce": null,
        "somethingElse": {"a": [1, 2]},
    });
    let request = ok(SgxEnclave, MODERN, &body);
    assert_eq!(request.evidence, quote());
    assert_eq!(
        (
            request.runtime_data,
            request.init_time_data,
            request.draft_policy,
            request.nonce
        ),
        (None, None, None, None)
    );
    // A data object without data (Python SDK 1.0.0's init-time JSON bug) is absent too.
    for data in [
        json!({"data": null, "dataType": "JSON"}),
        json!({"dataType": "Binary"}),
    ] {
        let body =
            json!({"quote": b64(&quote()), "runtimeData": data.clone(), "initTimeData": data});
        let request = ok(SgxEnclave, MODERN, &body);
        assert_eq!((request.runtime_data, request.init_time_data), (None, None));
    }
    // Missing or null dataType means Binary.
    for data in [
        json!({"data": b64(b"x")}),
        json!({"data": b64(b"x"), "dataType": null}),
    ] {
        let body = json!({"quote": b64(&quote()), "runtimeData": data});
        assert_eq!(ok(SgxEnclave, MODERN, &body).runtime_data, binary(b"x"));
    }
}

#[test]
fn base64_padding_and_both_alphabets_are_accepted() {
    let bytes = quote();
    let url_no_pad = b64(&bytes);
    let std_pad = attesto_jose::base64url::encode_std(&bytes);
    assert!(std_pad.contains('+') || std_pad.contains('/'), "{std_pad}");
    assert!(std_pad.ends_with('='), "{std_pad}");
    let url_pad = format!("{url_no_pad}{}", "=".repeat((4 - url_no_pad.len() % 4) % 4));
    let std_no_pad = std_pad.trim_end_matches('=').to_owned();
    for text in [&url_no_pad, &url_pad, &std_pad, &std_no_pad] {
        let body = json!({"quote": text, "runtimeData": {"data": text}});
        let request = ok(SgxEnclave, MODERN, &body);
        assert_eq!(request.evidence, bytes, "{text}");
        assert_eq!(request.runtime_data, binary(&bytes), "{text}");
    }
}

#[test]
fn legacy_shape() {
    let body = json!({
        "Quote": b64(&quote()),
        "EnclaveHeldData": b64(b"ehd"),
        "DraftPolicyForAttestation": "version=1.0; authorizationrules{=> permit();};",
    });
    for kind in [SgxEnclave, OpenEnclave, TdxVm] {
        let request = ok(kind, LEGACY, &body);
        assert!(request.legacy);
        assert_eq!(request.evidence, quote());
        assert_eq!(request.runtime_data, binary(b"ehd"));
        assert!(request.draft_policy.is_some());
    }
    // Lower case works too; EnclaveHeldData is optional.
    let request = ok(SgxEnclave, LEGACY, &json!({"quote": b64(&quote())}));
    assert_eq!(request.runtime_data, None);
}

#[test]
fn members_of_the_other_shape_are_rejected() {
    let legacy_with_runtime = json!({"Quote": b64(&quote()), "runtimeData": {"data": b64(b"x")}});
    assert!(matches!(
        err(SgxEnclave, LEGACY, &legacy_with_runtime),
        RequestError::FieldNotInVersion {
            field: "runtimeData",
            api_version: ApiVersion::V2018_09_01_Preview,
            ..
        }
    ));
    let legacy_with_init = json!({"Quote": b64(&quote()), "initTimeData": {"data": b64(b"x")}});
    assert!(matches!(
        err(SgxEnclave, LEGACY, &legacy_with_init),
        RequestError::FieldNotInVersion {
            field: "initTimeData",
            ..
        }
    ));
    let modern_with_ehd = json!({"quote": b64(&quote()), "EnclaveHeldData": b64(b"x")});
    let error = err(SgxEnclave, ApiVersion::V2020_10_01, &modern_with_ehd);
    assert!(
        matches!(
            error,
            RequestError::FieldNotInVersion {
                field: "EnclaveHeldData",
                api_version: ApiVersion::V2020_10_01,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("runtimeData"), "{error}");
    // A null member of the other shape is simply absent.
    let request = ok(
        SgxEnclave,
        MODERN,
        &json!({"quote": b64(&quote()), "EnclaveHeldData": null}),
    );
    assert_eq!(request.runtime_data, None);
}

#[test]
fn open_enclave_reports_are_unwrapped_and_checked() {
    let q = quote();
    let declared = u64::try_from(q.len()).unwrap_or(u64::MAX);
    let report = oe_report(&q, 2, declared);
    // OE endpoint, modern and legacy: header stripped.
    assert_eq!(
        ok(OpenEnclave, MODERN, &json!({"report": b64(&report)})).evidence,
        q
    );
    assert_eq!(
        ok(OpenEnclave, LEGACY, &json!({"Quote": b64(&report)})).evidence,
        q
    );
    // A bare quote is accepted on the OE endpoint.
    assert_eq!(
        ok(OpenEnclave, MODERN, &json!({"report": b64(&q)})).evidence,
        q
    );
    // Wrong report type, declared size beyond the data, short header.
    for (bad, reason) in [
        (oe_report(&q, 3, declared), "report type"),
        (oe_report(&q, 2, declared + 1), "declared size"),
        (vec![1, 0, 0, 0, 2, 0], "shorter"),
    ] {
        let error = err(OpenEnclave, MODERN, &json!({"report": b64(&bad)}));
        match &error {
            RequestError::OpenEnclaveReport {
                field: "report",
                reason: r,
            } => {
                assert!(r.contains(reason), "{r}");
            }
            other => panic!("{other:?}"),
        }
        assert!(error.to_string().contains("'report'"), "{error}");
    }
    // A header declaring zero bytes wraps nothing.
    assert_eq!(
        err(
            OpenEnclave,
            MODERN,
            &json!({"report": b64(&oe_report(&[], 2, 0))})
        ),
        RequestError::Empty { field: "report" }
    );
    // An OE report on the SGX and TDX endpoints is named as such.
    for kind in [SgxEnclave, TdxVm] {
        let error = err(kind, MODERN, &json!({"quote": b64(&report)}));
        assert_eq!(
            error,
            RequestError::OpenEnclaveReportNotExpected {
                field: "quote",
                kind
            }
        );
        assert!(error.to_string().contains("/attest/OpenEnclave"), "{error}");
    }
}

#[test]
fn evidence_member_is_required_and_named_per_type() {
    for (kind, field) in [
        (SgxEnclave, "quote"),
        (TdxVm, "quote"),
        (OpenEnclave, "report"),
    ] {
        let error = err(kind, MODERN, &json!({"runtimeData": {"data": b64(b"x")}}));
        assert_eq!(error, RequestError::MissingEvidence { field, kind });
        assert!(error.to_string().contains(&format!("'{field}'")), "{error}");
        // null evidence is missing evidence.
        assert_eq!(
            err(kind, MODERN, &json!({field: null})),
            RequestError::MissingEvidence { field, kind }
        );
    }
    assert_eq!(
        err(SgxEnclave, LEGACY, &json!({"EnclaveHeldData": b64(b"x")})),
        RequestError::MissingEvidence {
            field: "Quote",
            kind: SgxEnclave
        }
    );
    assert_eq!(
        err(OpenEnclave, MODERN, &json!({"quote": b64(&quote())})),
        RequestError::EvidenceInWrongField {
            kind: OpenEnclave,
            expected: "report",
            found: "quote"
        }
    );
    assert_eq!(
        err(SgxEnclave, MODERN, &json!({"report": b64(&quote())})),
        RequestError::EvidenceInWrongField {
            kind: SgxEnclave,
            expected: "quote",
            found: "report"
        }
    );
    assert_eq!(
        err(SgxEnclave, MODERN, &json!({"quote": ""})),
        RequestError::Empty { field: "quote" }
    );
}

#[test]
fn unsupported_attestation_types() {
    for kind in [Tpm, SevSnpVm] {
        for version in ApiVersion::ALL {
            let error = err(kind, version, &json!({"quote": b64(&quote())}));
            assert_eq!(error, RequestError::UnsupportedAttestationType { kind });
        }
    }
}

#[test]
fn sizes_are_bounded() {
    // Evidence: exactly the limit passes, one more byte fails.
    let mut evidence = vec![0x03; MAX_EVIDENCE_LEN];
    assert_eq!(
        ok(SgxEnclave, MODERN, &json!({"quote": b64(&evidence)}))
            .evidence
            .len(),
        MAX_EVIDENCE_LEN
    );
    evidence.push(0);
    assert!(matches!(
        err(SgxEnclave, MODERN, &json!({"quote": b64(&evidence)})),
        RequestError::TooLarge {
            field: "quote",
            limit: MAX_EVIDENCE_LEN,
            ..
        }
    ));
    // Runtime and init-time data, legacy EHD.
    let data = vec![0xAB; MAX_DATA_LEN + 1];
    for (version, body, field) in [
        (
            MODERN,
            json!({"quote": b64(&quote()), "runtimeData": {"data": b64(&data)}}),
            "runtimeData.data",
        ),
        (
            MODERN,
            json!({"quote": b64(&quote()), "initTimeData": {"data": b64(&data)}}),
            "initTimeData.data",
        ),
        (
            LEGACY,
            json!({"Quote": b64(&quote()), "EnclaveHeldData": b64(&data)}),
            "EnclaveHeldData",
        ),
    ] {
        let error = err(SgxEnclave, version, &body);
        assert!(
            matches!(error, RequestError::TooLarge { field: f, limit: MAX_DATA_LEN, .. } if f == field),
            "{error:?}"
        );
    }
    // Nonce.
    let nonce = "n".repeat(MAX_NONCE_LEN + 1);
    assert!(matches!(
        err(
            SgxEnclave,
            MODERN,
            &json!({"quote": b64(&quote()), "nonce": nonce})
        ),
        RequestError::TooLarge { field: "nonce", .. }
    ));
    // The body itself, before any JSON parsing.
    let huge = vec![b' '; MAX_BODY_LEN + 1];
    assert_eq!(
        err_bytes(SgxEnclave, MODERN, &huge),
        RequestError::BodyTooLarge {
            len: MAX_BODY_LEN + 1,
            limit: MAX_BODY_LEN
        }
    );
}

#[test]
fn bad_base64_names_the_member_and_offset() {
    for (body, field, offset) in [
        (json!({"quote": "AAAA AAA"}), "quote", 4),
        (
            json!({"quote": b64(&quote()), "runtimeData": {"data": "ab*d"}}),
            "runtimeData.data",
            2,
        ),
        (
            json!({"quote": b64(&quote()), "initTimeData": {"data": "a\nbc"}}),
            "initTimeData.data",
            1,
        ),
    ] {
        match err(SgxEnclave, MODERN, &body) {
            RequestError::Base64 {
                field: f,
                problem: Base64Problem::InvalidByte { offset: o, .. },
            } => {
                assert_eq!((f, o), (field, offset), "{body}");
            }
            other => panic!("{body}: {other:?}"),
        }
    }
    // A dangling symbol.
    assert!(matches!(
        err(SgxEnclave, MODERN, &json!({"quote": "AAAAA"})),
        RequestError::Base64 {
            field: "quote",
            problem: Base64Problem::InvalidLength { .. }
        }
    ));
    assert!(matches!(
        err(
            SgxEnclave,
            LEGACY,
            &json!({"Quote": b64(&quote()), "EnclaveHeldData": "%%"})
        ),
        RequestError::Base64 {
            field: "EnclaveHeldData",
            ..
        }
    ));
}

#[test]
fn bad_json_and_wrong_types() {
    for body in [
        &b""[..],
        b"{",
        b"{\"quote\": }",
        b"\xff\xfe",
        b"{\"quote\":\"AAAA\"} trailing",
    ] {
        assert!(
            matches!(
                err_bytes(SgxEnclave, MODERN, body),
                RequestError::NotJson { .. }
            ),
            "{body:?}"
        );
    }
    for (body, found) in [
        ("[]", "an array"),
        ("\"quote\"", "a string"),
        ("null", "null"),
        ("7", "a number"),
    ] {
        assert_eq!(
            err_bytes(SgxEnclave, MODERN, body.as_bytes()),
            RequestError::NotAnObject { found },
            "{body}"
        );
    }
    for (body, field, expected, found) in [
        (json!({"quote": 5}), "quote", "a string", "a number"),
        (json!({"quote": ["AAAA"]}), "quote", "a string", "an array"),
        (
            json!({"quote": b64(&quote()), "runtimeData": "AAAA"}),
            "runtimeData",
            "an object",
            "a string",
        ),
        (
            json!({"quote": b64(&quote()), "initTimeData": [1]}),
            "initTimeData",
            "an object",
            "an array",
        ),
        (
            json!({"quote": b64(&quote()), "runtimeData": {"data": 1}}),
            "runtimeData.data",
            "a string",
            "a number",
        ),
        (
            json!({"quote": b64(&quote()), "runtimeData": {"data": "AA", "dataType": 1}}),
            "runtimeData.dataType",
            "a string",
            "a number",
        ),
        (
            json!({"quote": b64(&quote()), "nonce": 12}),
            "nonce",
            "a string",
            "a number",
        ),
        (
            json!({"quote": b64(&quote()), "draftPolicyForAttestation": {}}),
            "draftPolicyForAttestation",
            "a string",
            "an object",
        ),
    ] {
        let error = err(SgxEnclave, MODERN, &body);
        assert_eq!(
            error,
            RequestError::WrongType {
                field: field.to_owned(),
                expected,
                found
            },
            "{body}"
        );
        assert!(error.to_string().contains(&format!("'{field}'")), "{error}");
    }
    let legacy = json!({"Quote": b64(&quote()), "EnclaveHeldData": {"data": "AA"}});
    assert!(matches!(
        err(SgxEnclave, LEGACY, &legacy),
        RequestError::WrongType { field, expected: "a string", found: "an object" } if field == "EnclaveHeldData"
    ));
}

#[test]
fn data_types_and_json_data() {
    let unknown =
        json!({"quote": b64(&quote()), "runtimeData": {"data": "AA", "dataType": "Text"}});
    assert_eq!(
        err(SgxEnclave, MODERN, &unknown),
        RequestError::UnknownDataType {
            field: "runtimeData.dataType",
            value: "Text".to_owned()
        }
    );
    let not_json = json!({"quote": b64(&quote()), "runtimeData": {"data": b64(b"{not json"), "dataType": "JSON"}});
    assert!(matches!(
        err(SgxEnclave, MODERN, &not_json),
        RequestError::InvalidJsonData {
            field: "runtimeData.data",
            ..
        }
    ));
    for (data, found) in [
        (&b"[1,2]"[..], "an array"),
        (b"\"text\"", "a string"),
        (b"null", "null"),
        (b"12", "a number"),
    ] {
        let body = json!({"quote": b64(&quote()), "initTimeData": {"data": b64(data), "dataType": "JSON"}});
        assert_eq!(
            err(SgxEnclave, MODERN, &body),
            RequestError::JsonDataNotObject {
                field: "initTimeData.data",
                found
            },
            "{data:?}"
        );
    }
    // The same bytes as Binary are fine.
    let body = json!({"quote": b64(&quote()), "runtimeData": {"data": b64(b"{not json"), "dataType": "Binary"}});
    assert_eq!(
        ok(SgxEnclave, MODERN, &body).runtime_data,
        binary(b"{not json")
    );
}

#[test]
fn duplicate_members_are_rejected() {
    let q = b64(&quote());
    for (body, field) in [
        (format!(r#"{{"quote":"{q}","Quote":"{q}"}}"#), "quote"),
        (format!(r#"{{"quote":"{q}","quote":"AAAA"}}"#), "quote"),
        (
            format!(r#"{{"quote":"{q}","runtimeData":{{"data":"AA","Data":"AA"}}}}"#),
            "runtimeData.data",
        ),
        (
            format!(r#"{{"quote":"{q}","nonce":"a","NONCE":"b"}}"#),
            "nonce",
        ),
    ] {
        match err_bytes(SgxEnclave, MODERN, body.as_bytes()) {
            RequestError::DuplicateField { field: f, .. } => assert_eq!(f, field, "{body}"),
            other => panic!("{body}: {other:?}"),
        }
    }
    // Duplicates of members the parser does not read are ignored like the members themselves.
    let body = format!(r#"{{"quote":"{q}","x":1,"X":2}}"#);
    assert!(parse(SgxEnclave, MODERN, body.as_bytes()).is_ok());
}

#[test]
fn error_messages_say_which_member_and_why() -> Result<()> {
    let error = err(
        SgxEnclave,
        MODERN,
        &json!({"quote": b64(&quote()), "runtimeData": {"data": "ab*d"}}),
    );
    let message = error.to_string();
    assert!(
        message.contains("'runtimeData.data'") && message.contains("offset 2"),
        "{message}"
    );
    let error = err(SgxEnclave, MODERN, &json!({"quote": 5}));
    assert_eq!(
        error.to_string(),
        "member 'quote' must be a string, found a number"
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Arbitrary bytes never panic, for every type and version.
    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        attesto_provider::fuzzing::parse_request(&body);
    }

    /// Arbitrary JSON objects built from the members the parser reads never panic, and a
    /// successful parse keeps its promises (limits, non-empty evidence, no OE header left on
    /// the SGX/TDX endpoints).
    #[test]
    fn structured_bodies_never_panic(body in request_body()) {
        let text = body.to_string();
        for kind in AttestationType::ALL {
            for version in ApiVersion::ALL {
                if let Ok(request) = parse(kind, version, text.as_bytes()) {
                    prop_assert!(!request.evidence.is_empty());
                    prop_assert!(request.evidence.len() <= MAX_EVIDENCE_LEN);
                    prop_assert_eq!(request.legacy, version.is_legacy());
                    for data in [&request.runtime_data, &request.init_time_data].into_iter().flatten() {
                        prop_assert!(data.bytes.len() <= MAX_DATA_LEN);
                    }
                }
            }
        }
    }
}

/// JSON values of the kinds a client could send for any member.
fn member_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        proptest::collection::vec(any::<u8>(), 0..64).prop_map(|b| Value::from(b64(&b))),
        proptest::collection::vec(any::<u8>(), 0..64)
            .prop_map(|b| Value::from(attesto_jose::base64url::encode_std(&b))),
        Just(Value::from(b64(&oe_report(&[3, 0, 2, 0], 2, 4)))),
        Just(Value::from(b64(br#"{"a":1}"#))),
        ".{0,12}".prop_map(Value::from),
        prop_oneof![Just("Binary"), Just("JSON"), Just("json"), Just("x")].prop_map(Value::from),
    ];
    leaf.prop_recursive(2, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            proptest::collection::vec((member_name(), inner), 0..4)
                .prop_map(|members| Value::Object(members.into_iter().collect())),
        ]
    })
}

fn member_name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("quote"),
        Just("Quote"),
        Just("report"),
        Just("runtimeData"),
        Just("initTimeData"),
        Just("data"),
        Just("dataType"),
        Just("DataType"),
        Just("nonce"),
        Just("EnclaveHeldData"),
        Just("draftPolicyForAttestation"),
        Just("other"),
    ]
    .prop_map(str::to_owned)
}

fn request_body() -> impl Strategy<Value = Value> {
    proptest::collection::vec((member_name(), member_value()), 0..6)
        .prop_map(|members| Value::Object(members.into_iter().collect()))
}
