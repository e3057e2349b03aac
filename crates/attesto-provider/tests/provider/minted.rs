//! Quotes minted by `attesto-testkit` under a test PKI (trusted explicitly by each verifier
//! here): the bindings, JSON data, debug enclaves, KSS fields, TDX attributes and TCB facts
//! that real vectors cannot cover.

use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use attesto_policy::AttestationType::{self, SgxEnclave, TdxVm};
use attesto_policy::{ClaimValue, Policy, policy_hash};
use attesto_provider::claims::{self, ClaimsError, IncomingClaims};
use attesto_provider::request::{AttestRequest, Data, DataType, RequestError};
use attesto_provider::token::{TokenInputs, attestation_payload};
use attesto_quote::{Collateral, Verifier};
use attesto_testkit::collateral::TcbStatus as MintStatus;
use attesto_testkit::quote::{SGX_ATTRIBUTE_DEBUG, TD_ATTRIBUTE_DEBUG};
use attesto_testkit::time::REFERENCE_TIME;
use attesto_testkit::{CollateralBuilder, MintedQuote, QuoteBuilder, TestPki};
use serde_json::{Map, Value, json};

use crate::support::{b64, body, default_policy_payload, parse, sha256, sha256_hex, str_claim};

/// `report_data` binding `runtime` (first half), with a second half the service ignores.
fn report_data_for(runtime: &[u8]) -> [u8; 64] {
    let mut report_data = [0xEE; 64];
    report_data[..32].copy_from_slice(&sha256(runtime));
    report_data
}

/// Mints collateral for `quote` (optionally changed), verifies with a verifier trusting only
/// the test root, and builds the claims of `body` (which must carry `quote`).
fn attest(
    pki: &TestPki,
    kind: AttestationType,
    quote: &MintedQuote,
    edit: impl FnOnce(CollateralBuilder<'_>) -> CollateralBuilder<'_>,
    body: &[u8],
) -> Result<(AttestRequest, Result<IncomingClaims, ClaimsError>)> {
    let request = parse(kind, body)?;
    ensure!(
        request.evidence == quote.bytes,
        "the body carries the minted quote"
    );
    let minted = edit(CollateralBuilder::for_quote(pki, quote)).build()?;
    let collateral = Collateral::from_json(&minted.to_json()?)?;
    let verifier = Verifier::with_trust_anchor(pki.root_der())?;
    let verified = verifier.verify(&request.evidence, &collateral, REFERENCE_TIME)?;
    let incoming = claims::incoming(kind, &verified, &request);
    Ok((request, incoming))
}

fn unchanged(builder: CollateralBuilder<'_>) -> CollateralBuilder<'_> {
    builder
}

fn sgx_quote(
    pki: &TestPki,
    edit: impl FnOnce(&mut attesto_testkit::quote::SgxReportBody),
) -> Result<MintedQuote> {
    Ok(QuoteBuilder::sgx_v3().edit_sgx_body(edit).build(pki)?)
}

#[test]
fn sgx_runtime_data_bound_into_report_data() -> Result<()> {
    let pki = TestPki::generate()?;
    let runtime = b"-----BEGIN PUBLIC KEY-----\nenclave key\n-----END PUBLIC KEY-----\n\0\0";
    let quote = sgx_quote(&pki, |b| b.report_data = report_data_for(runtime))?;
    let (_, incoming) = attest(
        &pki,
        SgxEnclave,
        &quote,
        unchanged,
        &body("quote", &quote.bytes, Some((runtime, "Binary")), None),
    )?;
    let incoming = incoming?;
    let claims = incoming.service_claims();
    let ehd = b64(runtime);
    for name in ["x-ms-sgx-ehd", "maa-ehd", "aas-ehd"] {
        ensure!(str_claim(claims, name)? == ehd, "{name}");
    }
    for name in ["$maa-ehd", "$aas-ehd"] {
        ensure!(
            incoming.input_aliases().get(name) == Some(&json!(ehd)),
            "{name}"
        );
    }
    ensure!(
        str_claim(claims, "x-ms-sgx-report-data")? == hex::encode(report_data_for(runtime)),
        "report data"
    );
    ensure!(
        !claims.contains_key("x-ms-runtime"),
        "binary data is not x-ms-runtime"
    );

    // The default policy's token: MAA's claim set, no $-names.
    let payload = default_policy_payload(&incoming, REFERENCE_TIME)?;
    let body = quote.body.as_sgx().context("sgx")?;
    ensure!(payload["is-debuggable"] == json!(false), "is-debuggable");
    ensure!(
        payload["sgx-mrenclave"] == json!(hex::encode(body.mrenclave)),
        "mrenclave"
    );
    ensure!(
        payload["sgx-mrsigner"] == json!(hex::encode(body.mrsigner)),
        "mrsigner"
    );
    ensure!(payload["product-id"] == json!(body.isvprodid), "product-id");
    ensure!(payload["svn"] == json!(body.isvsvn), "svn");
    ensure!(payload["tee"] == json!("sgx"), "tee");
    ensure!(payload["x-ms-sgx-ehd"] == json!(ehd), "ehd");
    ensure!(
        payload["maa-ehd"] == json!(ehd) && payload["aas-ehd"] == json!(ehd),
        "copies"
    );
    ensure!(
        payload.keys().all(|k| !k.starts_with('$')),
        "{:?}",
        payload.keys()
    );
    Ok(())
}

#[test]
fn sgx_runtime_data_not_bound_is_rejected_with_both_hashes() -> Result<()> {
    let pki = TestPki::generate()?;
    let bound = b"the key the enclave bound";
    let quote = sgx_quote(&pki, |b| b.report_data = report_data_for(bound))?;
    for sent in [&b"another key"[..], b"", b"the key the enclave bound "] {
        let (_, incoming) = attest(
            &pki,
            SgxEnclave,
            &quote,
            unchanged,
            &body("quote", &quote.bytes, Some((sent, "Binary")), None),
        )?;
        match incoming {
            Err(error @ ClaimsError::RuntimeDataMismatch { .. }) => {
                let ClaimsError::RuntimeDataMismatch { expected, actual } = &error else {
                    bail!("unreachable");
                };
                ensure!(*expected == sha256_hex(sent), "expected {expected}");
                ensure!(*actual == sha256_hex(bound), "actual {actual}");
                let message = error.to_string();
                ensure!(
                    message.contains(expected) && message.contains(actual),
                    "{message}"
                );
            }
            other => bail!("{sent:?}: {other:?}"),
        }
    }
    Ok(())
}

#[test]
fn json_runtime_and_init_time_data_become_objects() -> Result<()> {
    let pki = TestPki::generate()?;
    let runtime = br#"{"keys":[{"kid":"k1","kty":"RSA"}],"user":"u"}"#;
    let init = br#"{"config":{"mode":"strict"}}"#;
    let quote = sgx_quote(&pki, |b| {
        b.report_data = report_data_for(runtime);
        b.configid[..32].copy_from_slice(&sha256(init));
    })?;
    let (_, incoming) = attest(
        &pki,
        SgxEnclave,
        &quote,
        unchanged,
        &body(
            "quote",
            &quote.bytes,
            Some((runtime, "JSON")),
            Some((init, "JSON")),
        ),
    )?;
    let incoming = incoming?;
    let claims = incoming.service_claims();
    let runtime_json: Value = serde_json::from_slice(runtime)?;
    let init_json: Value = serde_json::from_slice(init)?;
    ensure!(
        claims.get("x-ms-runtime") == Some(&runtime_json),
        "x-ms-runtime"
    );
    ensure!(
        claims.get("x-ms-inittime") == Some(&init_json),
        "x-ms-inittime"
    );
    // MAA emits the ehd for JSON data too: the bytes as sent.
    ensure!(str_claim(claims, "x-ms-sgx-ehd")? == b64(runtime), "ehd");

    // Policies see the object as JSON: it can be searched and re-issued unchanged.
    let set = incoming.claim_set(None);
    let runtime_claim = set
        .claims()
        .iter()
        .find(|c| &*c.claim_type == "x-ms-runtime")
        .context("x-ms-runtime in the claim set")?;
    ensure!(
        matches!(&runtime_claim.value, ClaimValue::Json(v) if *v.value() == runtime_json),
        "{runtime_claim}"
    );
    let text = r#"version=1.2; authorizationrules{=> permit();};
        issuancerules{
            c:[type=="x-ms-runtime"] => issue(type="runtime-copy", value=c.value);
            c:[type=="x-ms-runtime"] => issue(type="kid", value=JsonToClaimValue(JmesPath(c.value, "keys[0].kid")));
        };"#;
    let payload = payload_for(&incoming, text)?;
    ensure!(
        payload.get("runtime-copy") == Some(&runtime_json),
        "re-issued object"
    );
    ensure!(
        payload.get("kid") == Some(&json!("k1")),
        "searched value {:?}",
        payload.get("kid")
    );
    ensure!(
        payload.get("x-ms-runtime") == Some(&runtime_json),
        "service claim"
    );
    Ok(())
}

/// Evaluates `text` and builds a payload.
fn payload_for(incoming: &IncomingClaims, text: &str) -> Result<Map<String, Value>> {
    let hash = policy_hash(text);
    let evaluation = Policy::parse(text)?.evaluate(&incoming.claim_set(Some(&hash)))?;
    ensure!(evaluation.permitted, "{}", evaluation.trace);
    Ok(attestation_payload(&TokenInputs {
        incoming,
        issued: &evaluation.issued_claims,
        policy_hash: &hash,
        iss: "https://attest.example",
        now: REFERENCE_TIME,
        lifetime: Duration::from_secs(3600),
        jti: [7; 32],
        nonce: None,
        extra: None,
    })?)
}

#[test]
fn init_time_data_is_bound_to_the_config_id() -> Result<()> {
    let pki = TestPki::generate()?;
    let init = b"init-time configuration";
    let quote = sgx_quote(&pki, |b| {
        b.configid[..32].copy_from_slice(&sha256(init));
        b.configid[32..].fill(0x33);
    })?;
    let (_, incoming) = attest(
        &pki,
        SgxEnclave,
        &quote,
        unchanged,
        &body("quote", &quote.bytes, None, Some((init, "Binary"))),
    )?;
    let incoming = incoming?;
    let body = quote.body.as_sgx().context("sgx")?;
    // A non-zero config ID makes the config claims appear.
    ensure!(
        str_claim(incoming.service_claims(), "x-ms-sgx-config-id")? == hex::encode(body.configid),
        "config id"
    );
    ensure!(
        !incoming.service_claims().contains_key("x-ms-inittime"),
        "binary init data"
    );

    let (_, incoming) = attest(
        &pki,
        SgxEnclave,
        &quote,
        unchanged,
        &body_with_init(&quote, b"other configuration"),
    )?;
    match incoming {
        Err(ClaimsError::InitTimeDataMismatch {
            field,
            expected,
            actual,
        }) => {
            ensure!(field == "config_id", "{field}");
            ensure!(expected == sha256_hex(b"other configuration"), "{expected}");
            ensure!(actual == sha256_hex(init), "{actual}");
        }
        other => bail!("{other:?}"),
    }
    Ok(())
}

fn body_with_init(quote: &MintedQuote, init: &[u8]) -> Vec<u8> {
    body("quote", &quote.bytes, None, Some((init, "Binary")))
}

#[test]
fn debug_enclaves_are_debuggable_in_every_name() -> Result<()> {
    let pki = TestPki::generate()?;
    let quote = sgx_quote(&pki, |b| b.attributes[0] |= SGX_ATTRIBUTE_DEBUG)?;
    let (_, incoming) = attest(
        &pki,
        SgxEnclave,
        &quote,
        unchanged,
        &body("quote", &quote.bytes, None, None),
    )?;
    let incoming = incoming?;
    ensure!(
        incoming.service_claims()["x-ms-sgx-is-debuggable"] == json!(true),
        "service"
    );
    ensure!(
        incoming.input_aliases()["$is-debuggable"] == json!(true),
        "alias"
    );
    let payload = default_policy_payload(&incoming, REFERENCE_TIME)?;
    ensure!(
        payload["is-debuggable"] == json!(true),
        "default policy output"
    );

    // A 2018-style policy on the $-names denies it; the same policy permits a production
    // enclave and issues from the aliases.
    let legacy = r#"version=1.0;authorizationrules{c:[type=="$is-debuggable"] && [value==true] => deny();=> permit();};issuancerules{c:[type=="$sgx-mrsigner"] => issue(type="sgx-mrsigner", value=c.value);};"#;
    let policy = Policy::parse(legacy)?;
    ensure!(
        !policy.evaluate(&incoming.claim_set(None))?.permitted,
        "debug enclave denied"
    );
    let production = sgx_quote(&pki, |_| {})?;
    let (_, incoming) = attest(
        &pki,
        SgxEnclave,
        &production,
        unchanged,
        &body("quote", &production.bytes, None, None),
    )?;
    let payload = payload_for(&incoming?, legacy)?;
    let mrsigner = hex::encode(production.body.as_sgx().context("sgx")?.mrsigner);
    ensure!(
        payload["sgx-mrsigner"] == json!(mrsigner),
        "issued from the alias"
    );
    ensure!(
        !payload.contains_key("$sgx-mrsigner"),
        "aliases are not emitted"
    );
    Ok(())
}

#[test]
fn kss_claims_appear_only_for_kss_enclaves() -> Result<()> {
    let pki = TestPki::generate()?;
    let kss_names = [
        "x-ms-sgx-config-id",
        "x-ms-sgx-config-svn",
        "x-ms-sgx-isv-extended-product-id",
        "x-ms-sgx-isv-family-id",
    ];
    let claims_of = |quote: &MintedQuote| -> Result<Map<String, Value>> {
        let (_, incoming) = attest(
            &pki,
            SgxEnclave,
            quote,
            unchanged,
            &body("quote", &quote.bytes, None, None),
        )?;
        Ok(incoming?.service_claims().clone())
    };

    // No KSS: none of them.
    let claims = claims_of(&sgx_quote(&pki, |_| {})?)?;
    for name in kss_names {
        ensure!(!claims.contains_key(name), "{name} without KSS");
    }

    // KSS attribute with all-zero fields: all four, zero.
    let claims = claims_of(&sgx_quote(&pki, |b| b.attributes[0] |= 0x80)?)?;
    ensure!(
        claims["x-ms-sgx-config-id"] == json!("0".repeat(128)),
        "config id"
    );
    ensure!(claims["x-ms-sgx-config-svn"] == json!(0), "config svn");
    ensure!(
        claims["x-ms-sgx-isv-extended-product-id"] == json!("0".repeat(32)),
        "ext prod id"
    );
    ensure!(
        claims["x-ms-sgx-isv-family-id"] == json!("0".repeat(32)),
        "family id"
    );

    // KSS values: each field in its claim.
    let quote = sgx_quote(&pki, |b| {
        b.attributes[0] |= 0x80;
        b.configsvn = 0x0102;
        b.isvextprodid = [0xA1; 16];
        b.isvfamilyid = [0xB2; 16];
        b.configid = [0xC3; 64];
    })?;
    let claims = claims_of(&quote)?;
    ensure!(
        claims["x-ms-sgx-config-id"] == json!("c3".repeat(64)),
        "config id"
    );
    ensure!(claims["x-ms-sgx-config-svn"] == json!(0x0102), "config svn");
    ensure!(
        claims["x-ms-sgx-isv-extended-product-id"] == json!("a1".repeat(16)),
        "ext prod id"
    );
    ensure!(
        claims["x-ms-sgx-isv-family-id"] == json!("b2".repeat(16)),
        "family id"
    );

    // A non-zero field without the attribute still shows (nothing is hidden).
    let claims = claims_of(&sgx_quote(&pki, |b| b.isvfamilyid = [1; 16])?)?;
    ensure!(
        claims["x-ms-sgx-isv-family-id"] == json!("01".repeat(16)),
        "family id"
    );
    ensure!(claims["x-ms-sgx-config-svn"] == json!(0), "config svn");
    Ok(())
}

#[test]
fn tcb_status_and_advisories_come_from_the_collateral() -> Result<()> {
    let pki = TestPki::generate()?;
    let quote = sgx_quote(&pki, |_| {})?;
    let (_, incoming) = attest(
        &pki,
        SgxEnclave,
        &quote,
        |b| {
            b.platform_status(
                MintStatus::SwHardeningNeeded,
                &["INTEL-SA-00615", "INTEL-SA-00289"],
            )
        },
        &body("quote", &quote.bytes, None, None),
    )?;
    let claims = incoming?.service_claims().clone();
    ensure!(
        claims["x-attesto-tcb-status"] == json!("SWHardeningNeeded"),
        "status"
    );
    ensure!(
        claims["x-attesto-advisory-ids"] == json!(["INTEL-SA-00615", "INTEL-SA-00289"]),
        "{:?}",
        claims["x-attesto-advisory-ids"]
    );
    ensure!(
        claims["x-attesto-fmspc"] == json!(hex::encode(quote.pck_leaf.extension().fmspc)),
        "fmspc"
    );
    ensure!(
        claims["x-attesto-tcb-date"] == json!("2025-11-01T00:00:00Z"),
        "{}",
        claims["x-attesto-tcb-date"]
    );
    ensure!(
        claims["x-attesto-tcb-evaluation-data-number"].is_u64(),
        "eval number"
    );
    let expiry = claims["x-attesto-collateral-expiry"]
        .as_u64()
        .context("expiry")?;
    ensure!(expiry > REFERENCE_TIME.as_secs(), "expiry {expiry}");
    Ok(())
}

#[test]
fn tdx_claims_bindings_and_attribute_bits() -> Result<()> {
    let pki = TestPki::generate()?;
    let runtime = br#"{"nonce":"abc"}"#;
    let init = b"td configuration";
    // DEBUG (0), SEPT_VE_DISABLE (28), KL (31), PERFMON (63); PKS (30) clear.
    let td_attributes = [TD_ATTRIBUTE_DEBUG, 0, 0, 0x90, 0, 0, 0, 0x80];
    let quote = QuoteBuilder::tdx_v4()
        .edit_td_report(|td| {
            td.report_data = report_data_for(runtime);
            td.mrconfigid[..32].copy_from_slice(&sha256(init));
            td.td_attributes = td_attributes;
            td.tee_tcb_svn[0] = 0x0B;
            td.tee_tcb_svn[1] = 0x01;
        })
        .build(&pki)?;
    let (_, incoming) = attest(
        &pki,
        TdxVm,
        &quote,
        unchanged,
        &body(
            "quote",
            &quote.bytes,
            Some((runtime, "JSON")),
            Some((init, "Binary")),
        ),
    )?;
    let incoming = incoming?;
    let claims = incoming.service_claims();
    let td = quote.body.as_td().context("td")?;
    for (name, value) in [
        ("tdx_mrtd", hex::encode(td.mrtd)),
        ("tdx_rtmr0", hex::encode(td.rtmr[0])),
        ("tdx_rtmr3", hex::encode(td.rtmr[3])),
        ("tdx_mrseam", hex::encode(td.mrseam)),
        ("tdx_mrsignerseam", hex::encode(td.mrsignerseam)),
        ("tdx_mrconfigid", hex::encode(td.mrconfigid)),
        ("tdx_mrowner", hex::encode(td.mrowner)),
        ("tdx_mrownerconfig", hex::encode(td.mrownerconfig)),
        ("tdx_report_data", hex::encode(td.report_data)),
        ("tdx_td_attributes", hex::encode(td_attributes)),
        ("tdx_xfam", hex::encode(td.xfam)),
        ("tdx_tee_tcb_svn", hex::encode(td.tee_tcb_svn)),
        ("tdx_seam_attributes", hex::encode(td.seam_attributes)),
        ("dbgstat", "enabled".to_owned()),
        ("intuse", "generic".to_owned()),
        ("x-ms-attestation-type", "tdxvm".to_owned()),
        ("attester_tcb_status", "UpToDate".to_owned()),
        ("x-ms-ver", "1.0".to_owned()),
    ] {
        ensure!(str_claim(claims, name)? == value, "{name}");
    }
    ensure!(
        claims["tdx_seamsvn"] == json!(0x010B),
        "seamsvn {}",
        claims["tdx_seamsvn"]
    );
    for (suffix, set) in [
        ("debug", true),
        ("septve_disable", true),
        ("protection_keys", false),
        ("key_locker", true),
        ("perfmon", true),
    ] {
        ensure!(
            claims[&format!("tdx_td_attributes_{suffix}")] == json!(set),
            "{suffix}"
        );
    }
    ensure!(
        claims["x-ms-runtime"] == json!({"nonce": "abc"}),
        "x-ms-runtime"
    );
    ensure!(!claims.contains_key("x-ms-sgx-ehd"), "no SGX claims");

    // Wrong runtime data, wrong init-time data.
    let (_, incoming) = attest(
        &pki,
        TdxVm,
        &quote,
        unchanged,
        &body("quote", &quote.bytes, Some((b"x", "Binary")), None),
    )?;
    ensure!(
        matches!(incoming, Err(ClaimsError::RuntimeDataMismatch { .. })),
        "{incoming:?}"
    );
    let (_, incoming) = attest(
        &pki,
        TdxVm,
        &quote,
        unchanged,
        &body("quote", &quote.bytes, None, Some((b"x", "Binary"))),
    )?;
    ensure!(
        matches!(
            &incoming,
            Err(ClaimsError::InitTimeDataMismatch {
                field: "mrconfigid",
                ..
            })
        ),
        "{incoming:?}"
    );

    // A production TD.
    let quote = QuoteBuilder::tdx_v5_td15().build(&pki)?;
    let (_, incoming) = attest(
        &pki,
        TdxVm,
        &quote,
        unchanged,
        &body("quote", &quote.bytes, None, None),
    )?;
    let claims = incoming?.service_claims().clone();
    ensure!(claims["dbgstat"] == json!("disabled"), "dbgstat");
    ensure!(claims["tdx_td_attributes_debug"] == json!(false), "debug");
    Ok(())
}

#[test]
fn wrong_tee_and_unsupported_types() -> Result<()> {
    let pki = TestPki::generate()?;
    let sgx = sgx_quote(&pki, |_| {})?;
    let tdx = QuoteBuilder::tdx_v4().build(&pki)?;
    let (_, incoming) = attest(
        &pki,
        TdxVm,
        &sgx,
        unchanged,
        &body("quote", &sgx.bytes, None, None),
    )?;
    ensure!(
        matches!(
            incoming,
            Err(ClaimsError::WrongTee {
                kind: TdxVm,
                found: "SGX",
                ..
            })
        ),
        "{incoming:?}"
    );
    let (request, incoming) = attest(
        &pki,
        SgxEnclave,
        &tdx,
        unchanged,
        &body("quote", &tdx.bytes, None, None),
    )?;
    ensure!(
        matches!(
            incoming,
            Err(ClaimsError::WrongTee {
                kind: SgxEnclave,
                found: "TDX",
                ..
            })
        ),
        "{incoming:?}"
    );
    // A hand-built request for a type without quotes.
    let minted = CollateralBuilder::for_quote(&pki, &tdx).build()?;
    let verified = Verifier::with_trust_anchor(pki.root_der())?.verify(
        &tdx.bytes,
        &Collateral::from_json(&minted.to_json()?)?,
        REFERENCE_TIME,
    )?;
    for kind in [AttestationType::Tpm, AttestationType::SevSnpVm] {
        ensure!(
            claims::incoming(kind, &verified, &request)
                == Err(ClaimsError::UnsupportedAttestationType { kind }),
            "{kind}"
        );
    }
    // Hand-built JSON data that is not an object is caught here too.
    let bad = AttestRequest {
        runtime_data: Some(Data {
            bytes: b"[1]".to_vec(),
            data_type: DataType::Json,
        }),
        ..request
    };
    ensure!(
        claims::incoming(TdxVm, &verified, &bad)
            == Err(ClaimsError::Data(RequestError::JsonDataNotObject {
                field: "runtimeData.data",
                found: "an array"
            })),
        "non-object JSON"
    );
    Ok(())
}
