//! Focused tests for API-level decisions (the language decisions are in `tests/cases/`).

use anyhow::{Result, bail};
use attesto_policy::{ClaimSet, ClaimsError, Error, ErrorCode, Policy, limits};

#[test]
fn policy_is_shareable_between_threads() {
    fn assert_shareable<T: Send + Sync + Clone + 'static>() {}
    assert_shareable::<Policy>();
    assert_shareable::<attesto_policy::Evaluation>();
}

#[test]
fn equality_ignores_layout_comments_keyword_case_and_single_equals() -> Result<()> {
    let compact = Policy::parse(r#"version=1.0;authorizationrules{[type=="a"]=>permit();};"#)?;
    let spread = Policy::parse(
        "VERSION = 1.0 ;\n// hello\nAuthorizationRules {\n  [ type = \"a\" ]\n  => Permit ( ) ;\n} ;",
    )?;
    assert_eq!(compact, spread);
    assert_ne!(
        compact,
        Policy::parse(r#"version=1.0;authorizationrules{[type=="b"]=>permit();};"#)?
    );
    Ok(())
}

#[test]
fn error_codes_follow_maa() -> Result<()> {
    let Err(parse) = Policy::parse("version=1.0;") else {
        bail!("parsed")
    };
    assert_eq!(parse.code(), ErrorCode::PolicyParsingError);
    let policy = Policy::parse(
        r#"version=1.2; authorizationrules { => permit(); }; issuancerules { => add(type="x", value=JmesPath("nope", "a")); };"#,
    )?;
    let Err(runtime) = policy.evaluate(&ClaimSet::new()) else {
        bail!("evaluated")
    };
    assert_eq!(runtime.code(), ErrorCode::PolicyEvaluationError);
    assert_eq!(runtime.code().as_str(), "PolicyEvaluationError");
    let claims = ClaimSet::from_json_str("[]").map_err(Error::from);
    assert_eq!(
        claims.err().map(|e| e.code()),
        Some(ErrorCode::InvalidParameter)
    );
    let jws = attesto_policy::policy_text_from_jws("a.b").map_err(Error::from);
    assert_eq!(
        jws.err().map(|e| e.code()),
        Some(ErrorCode::InvalidOperation)
    );
    Ok(())
}

#[test]
fn claims_from_json_reject_what_maa_cannot_type() {
    assert!(matches!(
        ClaimSet::from_json_str(r#"{"a": null}"#),
        Err(ClaimsError::UnsupportedValue { .. })
    ));
    assert!(matches!(
        ClaimSet::from_json_str(r#"{"a": 1.5}"#),
        Err(ClaimsError::UnsupportedValue { .. })
    ));
    assert!(matches!(
        ClaimSet::from_json_str("{"),
        Err(ClaimsError::InvalidJson { .. })
    ));
    assert!(
        ClaimSet::from_json_str(r#"{"a": [1], "b": {"c": 1}, "d": -1}"#)
            .is_ok_and(|set| set.claims().len() == 3)
    );
}

#[test]
fn json_claims_are_issued_as_json() -> Result<()> {
    let policy = Policy::parse(
        r#"version=1.0; authorizationrules { => permit(); }; issuancerules { c:[type=="x-ms-runtime"] => issue(type="runtime", value=c.value); };"#,
    )?;
    let evaluation = policy.evaluate(&ClaimSet::from_json_str(
        r#"{"x-ms-runtime": {"keys": [{"kid": "k"}]}}"#,
    )?)?;
    let [claim] = evaluation.issued_claims.as_slice() else {
        bail!("one claim expected")
    };
    assert_eq!(
        claim.value.to_json(),
        serde_json::json!({"keys": [{"kid": "k"}]})
    );
    assert_eq!(claim.value.type_name(), "Json");
    Ok(())
}

#[test]
fn trace_renders_rule_sources_bindings_and_the_decision() -> Result<()> {
    let text = "version=1.2;\nauthorizationrules {\n  [type==\"debug\", value==true] => deny();\n  c:[type==\"svn\", value>=2] => permit();\n};\nissuancerules {\n  c:[type==\"svn\"] => issue(type=\"svn\", value=c.value);\n};";
    let policy = Policy::parse(text)?;
    let evaluation = policy.evaluate(&ClaimSet::from_json_str(r#"{"debug": false, "svn": 3}"#)?)?;
    let expected = "\
authorizationrules:
  rule 1, line 3: [type==\"debug\", value==true] => deny();
    not fired: condition 1 `[type==\"debug\", value==true]` matched no claim
  rule 2, line 4: c:[type==\"svn\", value>=2] => permit();
    fired once
      c = svn = 3 (AttestationService) (first of its matches)
      => permit()
issuancerules:
  rule 1, line 7: c:[type==\"svn\"] => issue(type=\"svn\", value=c.value);
    fired once
      c = svn = 3 (AttestationService)
      => issue svn = 3 (AttestationPolicy)
decision: permitted";
    assert_eq!(evaluation.trace.to_string(), expected);
    Ok(())
}

#[test]
fn oversized_policies_are_refused() {
    let huge = format!(
        "version=1.0; authorizationrules {{ }}; //{}",
        "x".repeat(limits::MAX_POLICY_BYTES)
    );
    assert!(
        matches!(Policy::parse(&huge), Err(Error::Limit(e)) if e.limit == limits::Limit::PolicyBytes)
    );
    let many = format!(
        "version=1.0; authorizationrules {{ {} }};",
        "=> permit();".repeat(limits::MAX_RULES + 1)
    );
    assert!(
        matches!(Policy::parse(&many), Err(Error::Limit(e)) if e.limit == limits::Limit::Rules)
    );
    let deep_query = format!(
        r#"version=1.2; authorizationrules {{ => add(type="a", value=JmesPath("{{}}", "{}a{}")); }};"#,
        "(".repeat(40),
        ")".repeat(40)
    );
    assert!(
        matches!(Policy::parse(&deep_query), Err(Error::Limit(e)) if e.limit == limits::Limit::JmesPathNesting)
    );
}

#[test]
fn configuration_defaults_apply_without_configuration_rules() -> Result<()> {
    let policy = Policy::parse("version=1.0; authorizationrules { };")?;
    let configuration = policy.configuration();
    assert!(configuration.require_valid_aik_cert);
    assert_eq!(configuration.required_pcr_mask, 0x00FF_FFFF);
    assert_eq!(configuration.sgx_tcb_identifier, None);
    Ok(())
}
