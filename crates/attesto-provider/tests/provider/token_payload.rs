//! Token payloads: registered claims, precedence (what a policy can and cannot set), grouping
//! of repeated claims, `extra`.

use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use attesto_policy::AttestationType::SgxEnclave;
use attesto_policy::{Claim, ClaimValue, Issuer, Policy, policy_hash};
use attesto_provider::IncomingClaims;
use attesto_provider::claims;
use attesto_provider::token::{RESERVED_CLAIMS, TokenError, TokenInputs, attestation_payload};
use attesto_quote::{Collateral, Verifier};
use attesto_testkit::time::REFERENCE_TIME;
use attesto_testkit::{CollateralBuilder, QuoteBuilder, TestPki};
use serde_json::{Map, Value, json};

use crate::support::{at, body, parse, sha256};

/// Incoming claims of one minted SGX quote with runtime data, shared by the tests here.
fn incoming() -> &'static IncomingClaims {
    static INCOMING: OnceLock<IncomingClaims> = OnceLock::new();
    INCOMING.get_or_init(|| build_incoming().expect("minting and verifying a test quote"))
}

fn build_incoming() -> Result<IncomingClaims> {
    let pki = TestPki::generate()?;
    let runtime = b"runtime";
    let quote = QuoteBuilder::sgx_v3()
        .edit_sgx_body(|b| b.report_data[..32].copy_from_slice(&sha256(runtime)))
        .build(&pki)?;
    let collateral = CollateralBuilder::for_quote(&pki, &quote).build()?;
    let request = parse(
        SgxEnclave,
        &body("quote", &quote.bytes, Some((runtime, "Binary")), None),
    )?;
    let verified = Verifier::with_trust_anchor(pki.root_der())?.verify(
        &request.evidence,
        &Collateral::from_json(&collateral.to_json()?)?,
        REFERENCE_TIME,
    )?;
    Ok(claims::incoming(SgxEnclave, &verified, &request)?)
}

fn policy_claim(name: &str, value: impl Into<ClaimValue>) -> Claim {
    Claim {
        claim_type: name.into(),
        value: value.into(),
        issuer: Issuer::AttestationPolicy,
    }
}

fn inputs<'a>(issued: &'a [Claim], extra: Option<&'a Map<String, Value>>) -> TokenInputs<'a> {
    TokenInputs {
        incoming: incoming(),
        issued,
        policy_hash: "bROrN897ZfWmWY2V0FLUlu3uwk5xatGnKYHn3zBbSlw",
        iss: "https://attest.example:8443",
        now: at(1_767_225_600),
        lifetime: Duration::from_secs(28_800),
        jti: [0xAB; 32],
        nonce: Some("client-nonce"),
        extra,
    }
}

#[test]
fn registered_claims_times_and_jti() -> Result<()> {
    let mut jti = [0u8; 32];
    for (i, byte) in jti.iter_mut().enumerate() {
        *byte = u8::try_from(i * 8 + 1)?;
    }
    for (now, lifetime) in [(1_767_225_600, 28_800), (1_620_244_716, 1), (0, 86_400)] {
        let payload = attestation_payload(&TokenInputs {
            now: at(now),
            lifetime: Duration::from_secs(lifetime),
            jti,
            ..inputs(&[], None)
        })?;
        let iat = payload["iat"].as_u64().context("iat")?;
        let exp = payload["exp"].as_u64().context("exp")?;
        ensure!(iat == now && payload["nbf"] == payload["iat"], "iat/nbf");
        ensure!(exp - iat == lifetime, "exp - iat = {}", exp - iat);
        let jti_text = payload["jti"].as_str().context("jti")?;
        ensure!(jti_text.len() == 64, "{jti_text}");
        ensure!(
            jti_text
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
            "{jti_text}"
        );
        ensure!(hex::decode(jti_text)? == jti, "jti round trip");
    }
    let payload = attestation_payload(&inputs(&[], None))?;
    ensure!(
        payload["iss"] == json!("https://attest.example:8443"),
        "iss"
    );
    ensure!(payload["nonce"] == json!("client-nonce"), "nonce");
    ensure!(
        payload["x-ms-policy-hash"] == json!("bROrN897ZfWmWY2V0FLUlu3uwk5xatGnKYHn3zBbSlw"),
        "hash"
    );
    ensure!(payload["x-ms-attestation-type"] == json!("sgx"), "type");
    let without_nonce = attestation_payload(&TokenInputs {
        nonce: None,
        ..inputs(&[], None)
    })?;
    ensure!(
        !without_nonce.contains_key("nonce"),
        "no nonce when none was sent"
    );
    Ok(())
}

#[test]
fn every_service_claim_is_emitted_and_no_alias() -> Result<()> {
    let payload = attestation_payload(&inputs(&[], None))?;
    for (name, value) in incoming().service_claims() {
        ensure!(payload.get(name) == Some(value), "{name}");
    }
    for name in [
        "x-ms-sgx-collateral",
        "maa-attestationcollateral",
        "x-ms-sgx-ehd",
        "maa-ehd",
        "aas-ehd",
        "x-ms-sgx-mrenclave",
        "x-ms-sgx-report-data",
        "x-ms-ver",
        "x-attesto-tcb-status",
    ] {
        ensure!(payload.contains_key(name), "{name} missing");
    }
    ensure!(!incoming().input_aliases().is_empty(), "aliases exist");
    for name in incoming().input_aliases().keys() {
        ensure!(!payload.contains_key(name), "{name} emitted");
    }
    Ok(())
}

#[test]
fn a_policy_cannot_overwrite_reserved_or_service_claims() -> Result<()> {
    let service = incoming().service_claims();
    let mut issued: Vec<Claim> = RESERVED_CLAIMS
        .iter()
        .map(|name| policy_claim(name, "forged"))
        .collect();
    for name in [
        "x-ms-sgx-mrenclave",
        "x-ms-sgx-is-debuggable",
        "maa-ehd",
        "x-ms-ver",
    ] {
        issued.push(policy_claim(name, "forged"));
    }
    // attesto's namespace is the service's, even for names it does not emit.
    issued.push(policy_claim("x-attesto-collateral-grace", true));
    issued.push(policy_claim("custom", 42i64));
    let payload = attestation_payload(&inputs(&issued, None))?;

    ensure!(
        payload["iss"] == json!("https://attest.example:8443"),
        "iss"
    );
    ensure!(payload["iat"] == json!(1_767_225_600u64), "iat");
    ensure!(payload["exp"] == json!(1_767_225_600u64 + 28_800), "exp");
    ensure!(payload["jti"] == json!("ab".repeat(32)), "jti");
    ensure!(payload["nonce"] == json!("client-nonce"), "nonce");
    ensure!(
        payload["x-ms-policy-hash"] == json!("bROrN897ZfWmWY2V0FLUlu3uwk5xatGnKYHn3zBbSlw"),
        "hash"
    );
    for name in [
        "x-ms-attestation-type",
        "x-ms-sgx-mrenclave",
        "x-ms-sgx-is-debuggable",
        "maa-ehd",
        "x-ms-ver",
    ] {
        ensure!(payload.get(name) == service.get(name), "{name} overwritten");
    }
    ensure!(
        !payload.contains_key("x-attesto-collateral-grace"),
        "policy set a service marker"
    );
    ensure!(payload["custom"] == json!(42), "ordinary claims are issued");
    ensure!(
        !payload.values().any(|v| *v == json!("forged")),
        "{payload:?}"
    );
    Ok(())
}

#[test]
fn the_default_policy_adds_its_claims_and_a_policy_can_add_more() -> Result<()> {
    let text = r#"version=1.0; authorizationrules{=> permit();};
        issuancerules{
            c:[type=="x-ms-sgx-svn"] => issue(type="svn", value=c.value);
            c:[type=="x-ms-sgx-mrsigner"] => issue(type="signers", value=c.value);
            => issue(type="signers", value="0000");
            => issue(type="signers", value="0000");
            => issue(type="tee", value="sgx");
            => issue(type="x-ms-policy-hash", value="forged");
        };"#;
    let evaluation =
        Policy::parse(text)?.evaluate(&incoming().claim_set(Some(&policy_hash(text))))?;
    let payload = attestation_payload(&inputs(&evaluation.issued_claims, None))?;
    let service = incoming().service_claims();
    ensure!(payload.get("svn") == service.get("x-ms-sgx-svn"), "svn");
    // Repeated types become an array of the distinct values, in issue order.
    let mrsigner = service
        .get("x-ms-sgx-mrsigner")
        .context("mrsigner")?
        .clone();
    ensure!(
        payload["signers"] == json!([mrsigner, "0000"]),
        "{}",
        payload["signers"]
    );
    ensure!(payload["tee"] == json!("sgx"), "tee");
    ensure!(
        payload["x-ms-policy-hash"] == json!("bROrN897ZfWmWY2V0FLUlu3uwk5xatGnKYHn3zBbSlw"),
        "hash"
    );
    Ok(())
}

#[test]
fn a_single_array_valued_claim_stays_as_issued() -> Result<()> {
    let collateral = incoming().service_claims()["x-ms-sgx-collateral"].clone();
    let issued = [Claim {
        claim_type: "list".into(),
        value: ClaimValue::Json(attesto_policy::JsonValue::new(json!([1, 2]))),
        issuer: Issuer::AttestationPolicy,
    }];
    let payload = attestation_payload(&inputs(&issued, None))?;
    ensure!(payload["list"] == json!([1, 2]), "{}", payload["list"]);
    ensure!(
        payload["x-ms-sgx-collateral"] == collateral,
        "collateral object"
    );
    Ok(())
}

#[test]
fn extra_markers_are_added_but_cannot_replace_service_claims() -> Result<()> {
    let mut extra = Map::new();
    extra.insert("x-attesto-collateral-grace".to_owned(), json!(true));
    let issued = [
        policy_claim("x-attesto-collateral-grace", false),
        policy_claim("other", "x"),
    ];
    let payload = attestation_payload(&inputs(&issued, Some(&extra)))?;
    ensure!(
        payload["x-attesto-collateral-grace"] == json!(true),
        "marker"
    );
    ensure!(payload["other"] == json!("x"), "other");

    for name in ["exp", "x-ms-sgx-mrenclave", "x-ms-policy-hash", "nonce"] {
        let mut extra = Map::new();
        extra.insert(name.to_owned(), json!(1));
        ensure!(
            attestation_payload(&inputs(&[], Some(&extra)))
                == Err(TokenError::ExtraConflict {
                    name: name.to_owned()
                }),
            "{name}"
        );
    }
    Ok(())
}

#[test]
fn lifetimes_that_cannot_be_issued() {
    assert_eq!(
        attestation_payload(&TokenInputs {
            lifetime: Duration::ZERO,
            ..inputs(&[], None)
        }),
        Err(TokenError::ZeroLifetime)
    );
    assert!(matches!(
        attestation_payload(&TokenInputs {
            lifetime: Duration::from_secs(u64::MAX),
            ..inputs(&[], None)
        }),
        Err(TokenError::TimeOverflow { .. })
    ));
    assert!(matches!(
        attestation_payload(&TokenInputs {
            lifetime: Duration::from_secs(1 << 53),
            ..inputs(&[], None)
        }),
        Err(TokenError::TimeOverflow { .. })
    ));
}
