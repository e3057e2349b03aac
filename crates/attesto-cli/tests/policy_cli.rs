//! `attesto policy ...` end to end, through the real binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::{Result, ensure};

fn attesto(args: &[&str]) -> Result<Output> {
    Ok(Command::new(env!("CARGO_BIN_EXE_attesto"))
        .args(args)
        .output()?)
}

fn policy(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/policies")
        .join(name)
        .display()
        .to_string()
}

fn scratch(name: &str, contents: &str) -> Result<String> {
    let path: PathBuf = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("policy-cli-{}-{name}", std::process::id()));
    std::fs::write(&path, contents)?;
    Ok(path.display().to_string())
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn check_accepts_a_valid_policy_with_a_summary() -> Result<()> {
    let output = attesto(&[
        "policy",
        "check",
        &policy("tpm-v1.1-configurationrules.txt"),
    ])?;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let out = stdout(&output);
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(
        out.contains(
            "valid policy, version 1.1: 2 configuration, 1 authorization, 2 issuance rule(s)"
        ),
        "{out}"
    );
    Ok(())
}

#[test]
fn check_accepts_a_jws_upload_body() -> Result<()> {
    let output = attesto(&[
        "policy",
        "check",
        &policy("jws/signed_jwt_sgx_policy_2.txt"),
    ])?;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stdout(&output).contains("version 1.0: 0 configuration, 2 authorization, 7 issuance"));
    Ok(())
}

#[test]
fn check_reports_errors_with_line_and_column_and_exits_2() -> Result<()> {
    let file = policy("invalid/author-sign-missing-semicolons.txt");
    let output = attesto(&["policy", "check", &file])?;
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    ensure!(err.contains(&format!("{file}:5:1: policy syntax error at line 5, column 1: mismatched input '}}' expecting ';'")), "{err}");
    ensure!(
        err.contains("Offending symbol: '}' Line: '5', Column: '0'"),
        "{err}"
    );
    Ok(())
}

#[test]
fn check_prints_warnings_for_lenient_syntax() -> Result<()> {
    let output = attesto(&[
        "policy",
        "check",
        &policy("tpm-v1.2-functions-secureboot-suspect.txt"),
    ])?;
    assert_eq!(output.status.code(), Some(0));
    assert!(
        stderr(&output).contains(":13:38: warning"),
        "{}",
        stderr(&output)
    );
    Ok(())
}

#[test]
fn eval_permits_with_issued_claims_and_trace() -> Result<()> {
    let claims = scratch(
        "permit.json",
        r#"{"x-ms-sgx-is-debuggable": false, "x-ms-sgx-mrsigner": "aa", "x-ms-sgx-mrenclave": "bb",
            "x-ms-sgx-product-id": 1, "x-ms-sgx-svn": 2, "x-ms-attestation-type": "sgx"}"#,
    )?;
    let output = attesto(&[
        "policy",
        "eval",
        &policy("sgx-default-v1.0-xms-service.txt"),
        "--claims",
        &claims,
    ])?;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let out = stdout(&output);
    assert!(out.starts_with("permitted\n"), "{out}");
    assert!(out.contains("  svn = 2\n"), "{out}");
    assert!(out.contains("  tee = \"sgx\"\n"), "{out}");
    assert!(out.contains("trace:"), "{out}");
    assert!(out.contains("decision: permitted"), "{out}");
    Ok(())
}

#[test]
fn eval_denies_with_exit_1_and_explains_why() -> Result<()> {
    let claims = scratch(
        "deny.json",
        r#"{"x-ms-sgx-is-debuggable": false, "x-ms-sgx-mrsigner": "mrsigner3"}"#,
    )?;
    let output = attesto(&[
        "policy",
        "eval",
        &policy("sgx-mrsigner-key-rotation.txt"),
        "--claims",
        &claims,
    ])?;
    assert_eq!(output.status.code(), Some(1));
    let out = stdout(&output);
    assert!(out.starts_with("denied: no permit() rule fired"), "{out}");
    assert!(out.contains("not fired: condition 2 `[ type==\"x-ms-sgx-mrsigner\", value==\"mrsigner1\"]` matched no claim"), "{out}");
    Ok(())
}

#[test]
fn eval_json_output() -> Result<()> {
    let claims = scratch("json.json", r#"{"secureBootEnabled": true}"#)?;
    let output = attesto(&[
        "policy",
        "eval",
        &policy("draft-securebootenabled-issue-int.txt"),
        "--claims",
        &claims,
        "--json",
    ])?;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    assert_eq!(json["permitted"], true);
    assert_eq!(
        json["issued_claims"],
        serde_json::json!([{"type": "SecurityLevelValue", "value": 100}])
    );
    assert_eq!(json["properties"]["report_validity_in_minutes"], 1440);
    assert!(
        json["trace"]
            .as_str()
            .is_some_and(|trace| trace.contains("decision: permitted"))
    );
    Ok(())
}

#[test]
fn eval_with_invalid_inputs_exits_2() -> Result<()> {
    let bad_claims = scratch("bad.json", "[1, 2]")?;
    let output = attesto(&[
        "policy",
        "eval",
        &policy("draft-deny-all.txt"),
        "--claims",
        &bad_claims,
    ])?;
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("claims must be a JSON object"),
        "{}",
        stderr(&output)
    );

    let claims = scratch("ok.json", "{}")?;
    let output = attesto(&[
        "policy",
        "eval",
        &policy("invalid/doc-smartquotes-sgx-default.txt"),
        "--claims",
        &claims,
    ])?;
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains(":4:11: "), "{}", stderr(&output));

    let runtime = scratch(
        "runtime.txt",
        "version=1.2; authorizationrules { => permit(); }; issuancerules { => issue(type=\"x\", value=JsonToClaimValue(\"{}\")); };",
    )?;
    let output = attesto(&["policy", "eval", &runtime, "--claims", &claims])?;
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("policy evaluation error at line 1"),
        "{}",
        stderr(&output)
    );
    Ok(())
}

#[test]
fn hash_prints_the_policy_hash_of_text_and_jws() -> Result<()> {
    let output = attesto(&[
        "policy",
        "hash",
        &policy("sgx-default-v1.0-xms-service.txt"),
    ])?;
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        stdout(&output).trim(),
        "bROrN897ZfWmWY2V0FLUlu3uwk5xatGnKYHn3zBbSlw"
    );
    // The JWS body hashes like the text it carries.
    let output = attesto(&[
        "policy",
        "hash",
        &policy("jws/set-policy-unsigned-request-body.txt"),
    ])?;
    assert_eq!(output.status.code(), Some(0));
    let text = scratch(
        "sdk.txt",
        "version=1.0; authorizationrules{=> permit();}; issuancerules{};",
    )?;
    let direct = attesto(&["policy", "hash", &text])?;
    assert_eq!(stdout(&output), stdout(&direct));
    Ok(())
}

#[test]
fn default_prints_a_parseable_policy_and_rejects_unknown_types() -> Result<()> {
    let output = attesto(&["policy", "default", "sgxenclave"])?;
    assert_eq!(output.status.code(), Some(0));
    assert!(stdout(&output).starts_with("version= 1.0;authorizationrules{=> permit();}"));
    let file = scratch("default.txt", stdout(&output).trim_end())?;
    assert_eq!(attesto(&["policy", "check", &file])?.status.code(), Some(0));
    let output = attesto(&["policy", "default", "nope"])?;
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("unknown attestation type 'nope'"));
    Ok(())
}
