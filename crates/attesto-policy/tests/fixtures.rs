//! The real-world policy corpus in `testdata/policies/`: what must parse, what must be rejected
//! (and how), and the upload bodies.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail, ensure};
use attesto_policy::{
    AttestationType, Error, ErrorCode, Policy, Section, Version, default_policy, policy_hash,
    policy_text_from_jws, policy_text_from_upload, policy_token_hash,
};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/policies")
}

fn read(name: &str) -> Result<String> {
    std::fs::read_to_string(corpus().join(name)).with_context(|| format!("reading {name}"))
}

fn files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<Result<_, _>>()?;
    files.retain(|path| path.extension().is_some_and(|ext| ext == "txt"));
    files.sort();
    Ok(files)
}

#[test]
fn every_valid_fixture_parses() -> Result<()> {
    let files = files(&corpus())?;
    ensure!(
        files.len() >= 25,
        "corpus looks incomplete: {} files",
        files.len()
    );
    for path in files {
        let text = std::fs::read_to_string(&path)?;
        let policy =
            Policy::parse(&text).map_err(|error| anyhow::anyhow!("{}: {error}", path.display()))?;
        // The canonical print of every fixture parses back to the same policy.
        let printed = policy.to_string();
        let reparsed = Policy::parse(&printed)
            .map_err(|error| anyhow::anyhow!("{}: reprint: {error}\n{printed}", path.display()))?;
        ensure!(
            reparsed == policy,
            "{}: print/parse round trip differs",
            path.display()
        );
    }
    Ok(())
}

#[test]
fn fixture_versions_and_sections() -> Result<()> {
    let policy = Policy::parse(&read("tpm-v1.2-driver-loads.txt")?)?;
    assert_eq!(policy.version(), Version::V1_2);
    assert!(policy.has_section(Section::Configuration));
    assert_eq!(policy.rules(Section::Issuance).len(), 2);
    let policy = Policy::parse(&read("sgx-mrsigner-key-rotation.txt")?)?;
    assert_eq!(policy.version(), Version::V1_0);
    assert!(!policy.has_section(Section::Issuance));
    assert_eq!(policy.rules(Section::Authorization).len(), 2);
    Ok(())
}

/// The lenient `=` (see the crate's decisions) is accepted with a warning that points at it.
#[test]
fn single_equals_fixture_parses_with_a_warning() -> Result<()> {
    let policy = Policy::parse(&read("tpm-v1.2-functions-secureboot-suspect.txt")?)?;
    let [warning] = policy.warnings() else {
        bail!("expected one warning, got {:?}", policy.warnings())
    };
    assert_eq!((warning.span.line, warning.span.column), (13, 38));
    assert!(warning.message.contains("'=='"));
    Ok(())
}

fn syntax_error(name: &str) -> Result<attesto_policy::SyntaxError> {
    match Policy::parse(&read(name)?) {
        Ok(_) => bail!("{name} parsed"),
        Err(Error::Syntax(error)) => Ok(error),
        Err(other) => bail!("{name}: expected a syntax error, got {other}"),
    }
}

#[test]
fn missing_semicolon_is_reported_where_the_rule_ends() -> Result<()> {
    let error = syntax_error("invalid/author-sign-missing-semicolons.txt")?;
    assert_eq!((error.line(), error.column()), (5, 1));
    assert_eq!(error.offending, "}");
    assert_eq!(error.message, "mismatched input '}' expecting ';'");
    let text = Error::Syntax(error.clone()).to_string();
    assert!(
        text.contains(
            "Policy Parser Exception Thrown: Offending symbol: '}' Line: '5', Column: '0'"
        ),
        "{text}"
    );
    assert!(
        text.contains("Failure message: 'mismatched input '}' expecting ';''"),
        "{text}"
    );
    assert!(
        text.contains("every rule and every section ends with ';'"),
        "{text}"
    );
    assert_eq!(Error::Syntax(error).code(), ErrorCode::PolicyParsingError);
    Ok(())
}

#[test]
fn typographic_closing_quote_is_reported_where_the_string_starts() -> Result<()> {
    let error = syntax_error("invalid/custom-tcb-smartquote.txt")?;
    assert_eq!((error.line(), error.column()), (5, 42));
    assert_eq!(error.offending, "\"11\u{201d}");
    assert!(
        error.message.starts_with("unterminated string literal"),
        "{}",
        error.message
    );
    assert!(error.to_string().contains("U+0022"));
    Ok(())
}

#[test]
fn typographic_quotes_are_unrecognised_tokens() -> Result<()> {
    let error = syntax_error("invalid/doc-smartquotes-sgx-default.txt")?;
    // `Version=` is accepted (keywords ignore case); the first smart quote is on line 4, after a tab.
    assert_eq!((error.line(), error.column()), (4, 11));
    assert_eq!(error.offending, "\u{201d}");
    assert_eq!(error.message, "token recognition error at: '\u{201d}'");
    assert!(error.maa_message().contains("Line: '4', Column: '10'"));
    Ok(())
}

#[test]
fn upload_bodies_decode_to_policies_that_parse() -> Result<()> {
    for name in [
        "set-policy-unsigned-request-body.txt",
        "signed_jwt_sgx_policy_2.txt",
        "unsigned_jwt_sgx_policy.txt",
    ] {
        let body = read(&format!("jws/{name}"))?;
        let text = policy_text_from_jws(&body).with_context(|| name.to_owned())?;
        Policy::parse(&text).with_context(|| format!("{name}: {text}"))?;
        assert_eq!(policy_text_from_upload(&body)?, text);
    }
    let text = policy_text_from_jws(&read("jws/set-policy-unsigned-request-body.txt")?)?;
    assert_eq!(
        text,
        "version=1.0; authorizationrules{=> permit();}; issuancerules{};"
    );
    // The signed body carries the deny-then-permit policy of the signed fixture.
    let signed = policy_text_from_jws(&read("jws/signed_jwt_sgx_policy_2.txt")?)?;
    assert_eq!(
        Policy::parse(&signed)?,
        Policy::parse(&read("sgx-signed-deny-then-permit.txt")?)?
    );
    // Raw text passes through the upload helper unchanged.
    let raw = read("minimal-permit-compact.txt")?;
    assert_eq!(policy_text_from_upload(&raw)?, raw);
    Ok(())
}

#[test]
fn raw_text_in_attestation_policy_is_accepted() -> Result<()> {
    use base64::Engine as _;
    let encode = |json: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json);
    let payload =
        serde_json::json!({"AttestationPolicy": "version=1.0; authorizationrules{=> permit();};"})
            .to_string();
    let body = format!("{}.{}.", encode(r#"{"alg":"none"}"#), encode(&payload));
    assert_eq!(
        policy_text_from_jws(&body)?,
        "version=1.0; authorizationrules{=> permit();};"
    );
    let no_policy = format!("{}.{}.", encode(r#"{"alg":"none"}"#), encode("{}"));
    assert!(matches!(
        policy_text_from_jws(&no_policy),
        Err(attesto_policy::JwsError::MissingPolicy)
    ));
    assert!(matches!(
        policy_text_from_jws("abc.def"),
        Err(attesto_policy::JwsError::Malformed { parts: 2 })
    ));
    let no_alg = format!("{}.{}.", encode("{}"), encode(&payload));
    assert!(matches!(
        policy_text_from_jws(&no_alg),
        Err(attesto_policy::JwsError::MissingAlgorithm)
    ));
    Ok(())
}

/// The expected hashes were computed independently of this crate with Python:
/// `base64.urlsafe_b64encode(hashlib.sha256(base64.urlsafe_b64encode(text).rstrip(b'=')).digest()).rstrip(b'=')`.
/// The first is also the `x-ms-policy-hash` of a real MAA token (maa-api.md §3.1).
#[test]
fn policy_hash_matches_independent_computation() -> Result<()> {
    let cases = [
        (
            "sgx-default-v1.0-xms-service.txt",
            "bROrN897ZfWmWY2V0FLUlu3uwk5xatGnKYHn3zBbSlw",
        ),
        (
            "sgx-default-v1.0-legacy-service.txt",
            "egjnANIzEpS2WgpE4Nk-QEwM69XRCgTs42_G0qLlbnk",
        ),
        (
            "sgx-default-v1.1-docs.txt",
            "_9-4sQbuBdJce7g9FGy44hdOhJyGeif2ZrdhiFLJhqQ",
        ),
        (
            "minimal-permit-sdk-test.txt",
            "z0FRjKS0ssQTNur1V6BV8WIrh9M3fzgTo0EfHRvapWU",
        ),
    ];
    for (name, expected) in cases {
        let text = read(name)?;
        assert_eq!(policy_hash(&text), expected, "{name}");
        assert_eq!(Policy::parse(&text)?.hash(), expected, "{name}");
    }
    Ok(())
}

#[test]
fn policy_token_hash_matches_the_recorded_service_answer() -> Result<()> {
    let body = read("jws/set-policy-unsigned-request-body.txt")?;
    assert_eq!(
        policy_token_hash(&body),
        "pyhI2FKMjRkvpvwS07hLclAyvsi5O4TrnzL5OPsIxzM"
    );
    Ok(())
}

#[test]
fn defaults_parse_and_sgx_is_the_service_text() -> Result<()> {
    for kind in AttestationType::ALL {
        let policy = Policy::parse(default_policy(kind)).with_context(|| kind.to_string())?;
        assert!(!policy.rules(Section::Authorization).is_empty(), "{kind}");
        assert_eq!(
            kind.as_str().to_lowercase().parse::<AttestationType>()?,
            kind
        );
        assert_eq!(kind.as_str().parse::<AttestationType>()?, kind);
    }
    assert_eq!(
        default_policy(AttestationType::SgxEnclave),
        read("sgx-default-v1.0-xms-service.txt")?
    );
    assert_eq!(
        default_policy(AttestationType::OpenEnclave),
        default_policy(AttestationType::SgxEnclave)
    );
    assert_eq!(
        policy_hash(default_policy(AttestationType::SgxEnclave)),
        "bROrN897ZfWmWY2V0FLUlu3uwk5xatGnKYHn3zBbSlw"
    );
    assert!("VbsEnclave".parse::<AttestationType>().is_err());
    assert!("sgx".parse::<AttestationType>().is_err());
    Ok(())
}
