//! Table-driven cases: every JSON file under `tests/cases/{parser,eval}/` holds an array of cases,
//! each with a `note`, a policy (inline text, an array of lines, or a fixture file), optional
//! claims, and the expected outcome (decision, issued claims, created claims, properties,
//! configuration, trace snippets) or the expected error (code, line, column, message snippet).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail, ensure};
use attesto_policy::{Claim, ClaimSet, ClaimValue, Decision, Error, Issuer, JsonValue, Policy};
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
#[serde(untagged)]
enum Text {
    One(String),
    Lines(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectedError {
    code: String,
    #[serde(default)]
    line: Option<u32>,
    #[serde(default)]
    column: Option<u32>,
    #[serde(default)]
    contains: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    note: String,
    #[serde(default)]
    policy: Option<Text>,
    #[serde(default)]
    policy_file: Option<String>,
    #[serde(default)]
    claims: Option<Value>,
    #[serde(default)]
    decision: Option<String>,
    #[serde(default)]
    issued: Option<Vec<(String, Value)>>,
    #[serde(default)]
    created: Option<Vec<(String, Value)>>,
    #[serde(default)]
    properties: Option<Value>,
    #[serde(default)]
    configuration: Option<Value>,
    #[serde(default)]
    warnings: Option<usize>,
    #[serde(default)]
    trace_contains: Option<Vec<String>>,
    #[serde(default)]
    error: Option<ExpectedError>,
}

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases")
}

fn policy_text(case: &Case) -> Result<String> {
    match (&case.policy, &case.policy_file) {
        (Some(Text::One(text)), None) => Ok(text.clone()),
        (Some(Text::Lines(lines)), None) => Ok(lines.join("\n")),
        (None, Some(file)) => {
            let path = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../testdata/policies")
                .join(file);
            std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))
        }
        _ => bail!("give exactly one of policy and policy_file"),
    }
}

/// Claims as an object (evidence claims) or an array of `{type, value, issuer?}`; in the array
/// form a value `{"json": ...}` is a JSON claim.
fn claims(value: Option<&Value>) -> Result<ClaimSet> {
    match value {
        None => Ok(ClaimSet::new()),
        Some(object @ Value::Object(_)) => Ok(ClaimSet::from_json(object)?),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                let claim_type = item["type"]
                    .as_str()
                    .ok_or_else(|| anyhow!("claim without type: {item}"))?;
                let value = match &item["value"] {
                    Value::String(text) => ClaimValue::from(text.as_str()),
                    Value::Bool(flag) => ClaimValue::Boolean(*flag),
                    Value::Number(number) => {
                        ClaimValue::Integer(number.as_i64().ok_or_else(|| anyhow!("bad integer"))?)
                    }
                    Value::Object(map) if map.contains_key("json") => {
                        ClaimValue::Json(JsonValue::new(map["json"].clone()))
                    }
                    other => bail!("unsupported claim value {other}"),
                };
                let issuer = match item.get("issuer").and_then(Value::as_str) {
                    None | Some("AttestationService") => Issuer::AttestationService,
                    Some("CustomClaim") => Issuer::CustomClaim,
                    Some("AttestationPolicy") => Issuer::AttestationPolicy,
                    Some(other) => bail!("unknown issuer {other}"),
                };
                Ok(Claim {
                    claim_type: claim_type.into(),
                    value,
                    issuer,
                })
            })
            .collect(),
        Some(other) => bail!("claims must be an object or an array, found {other}"),
    }
}

fn pairs(claims: &[Claim]) -> Vec<(String, Value)> {
    claims
        .iter()
        .map(|claim| (claim.claim_type.to_string(), claim.value.to_json()))
        .collect()
}

fn check_error(expected: &ExpectedError, error: &Error) -> Result<()> {
    ensure!(
        error.code().as_str() == expected.code,
        "code {} != {}: {error}",
        error.code(),
        expected.code
    );
    if let Some(line) = expected.line {
        let span = error
            .span()
            .ok_or_else(|| anyhow!("error has no span: {error}"))?;
        ensure!(span.line == line, "line {} != {line}: {error}", span.line);
    }
    if let Some(column) = expected.column {
        let span = error
            .span()
            .ok_or_else(|| anyhow!("error has no span: {error}"))?;
        ensure!(
            span.column == column,
            "column {} != {column}: {error}",
            span.column
        );
    }
    if let Some(snippet) = &expected.contains {
        ensure!(
            error.to_string().contains(snippet.as_str()),
            "message lacks {snippet:?}: {error}"
        );
    }
    Ok(())
}

fn run(case: &Case) -> Result<()> {
    let text = policy_text(case)?;
    let parsed = Policy::parse(&text);
    let policy = match (parsed, &case.error) {
        (Err(error), Some(expected)) => return check_error(expected, &error),
        (Err(error), None) => bail!("parse failed: {error}"),
        (Ok(policy), _) => policy,
    };
    ensure!(
        policy.warnings().len() == case.warnings.unwrap_or(0),
        "warnings: {:?}",
        policy.warnings()
    );
    if let Some(configuration) = &case.configuration {
        let actual = policy.configuration();
        let actual = serde_json::json!({
            "require_valid_aik_cert": actual.require_valid_aik_cert,
            "required_pcr_mask": actual.required_pcr_mask,
            "sgx_tcb_identifier": format!("{:?}", actual.sgx_tcb_identifier),
        });
        for (key, value) in configuration
            .as_object()
            .ok_or_else(|| anyhow!("configuration must be an object"))?
        {
            ensure!(
                actual.get(key) == Some(value),
                "configuration {key}: {:?} != {value}",
                actual.get(key)
            );
        }
    }
    let incoming = claims(case.claims.as_ref())?;
    let evaluation = match (policy.evaluate(&incoming), &case.error) {
        (Err(error), Some(expected)) => return check_error(expected, &error),
        (Err(error), None) => bail!("evaluation failed: {error}"),
        (Ok(_), Some(_)) => bail!("expected an error, but the policy parsed and evaluated"),
        (Ok(evaluation), None) => evaluation,
    };
    // Determinism: a second run gives the same result.
    let again = policy.evaluate(&incoming)?;
    ensure!(
        again.decision == evaluation.decision && again.issued_claims == evaluation.issued_claims,
        "not deterministic"
    );
    let trace = evaluation.trace.to_string();
    if let Some(decision) = &case.decision {
        let actual = match evaluation.decision {
            Decision::Permitted => "Permitted",
            Decision::Denied { .. } => "Denied",
            Decision::NoPermit => "NoPermit",
        };
        ensure!(
            actual == decision,
            "decision {actual} != {decision}\n{trace}"
        );
        ensure!(
            evaluation.permitted == (actual == "Permitted"),
            "permitted flag disagrees"
        );
    }
    if let Some(issued) = &case.issued {
        ensure!(
            &pairs(&evaluation.issued_claims) == issued,
            "issued {:?} != {issued:?}\n{trace}",
            pairs(&evaluation.issued_claims)
        );
        ensure!(
            evaluation
                .issued_claims
                .iter()
                .all(|claim| claim.issuer == Issuer::AttestationPolicy),
            "issuer"
        );
    }
    if let Some(created) = &case.created {
        let actual = pairs(
            evaluation
                .trace
                .claims
                .get(evaluation.trace.incoming..)
                .unwrap_or_default(),
        );
        ensure!(
            &actual == created,
            "created {actual:?} != {created:?}\n{trace}"
        );
    }
    if let Some(properties) = &case.properties {
        let actual = serde_json::json!({
            "report_validity_in_minutes": evaluation.properties.report_validity_in_minutes,
            "omit_x5c": evaluation.properties.omit_x5c,
            "count": evaluation.properties.all.len(),
        });
        for (key, value) in properties
            .as_object()
            .ok_or_else(|| anyhow!("properties must be an object"))?
        {
            ensure!(
                actual.get(key) == Some(value),
                "property {key}: {:?} != {value}",
                actual.get(key)
            );
        }
    }
    for snippet in case.trace_contains.iter().flatten() {
        ensure!(
            trace.contains(snippet.as_str()),
            "trace lacks {snippet:?}:\n{trace}"
        );
    }
    Ok(())
}

fn run_dir(stage: &str) -> Result<()> {
    let dir = cases_dir().join(stage);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)?
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<Result<_, _>>()?;
    files.sort();
    let mut failures = Vec::new();
    let mut count = 0usize;
    for file in files {
        let text = std::fs::read_to_string(&file)?;
        let cases: Vec<Case> =
            serde_json::from_str(&text).with_context(|| format!("{}", file.display()))?;
        for case in &cases {
            count = count.saturating_add(1);
            if let Err(error) = run(case) {
                failures.push(format!(
                    "{} / {}: {error:#}",
                    file.file_name().unwrap_or_default().to_string_lossy(),
                    case.note
                ));
            }
        }
    }
    ensure!(count > 0, "no cases in {}", dir.display());
    ensure!(
        failures.is_empty(),
        "{} of {count} cases failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    Ok(())
}

#[test]
fn parser_cases() -> Result<()> {
    run_dir("parser")
}

#[test]
fn eval_cases() -> Result<()> {
    run_dir("eval")
}
