//! `attesto policy ...`: check, evaluate, hash and print MAA attestation policies.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use attesto_policy::{
    AttestationType, ClaimSet, Error, Evaluation, Policy, Section, default_policy, policy_hash,
    policy_text_from_upload,
};
use clap::Subcommand;

/// Exit code for a policy that permits (and for success in general).
const EXIT_PERMITTED: u8 = 0;
/// Exit code for a policy that denies.
const EXIT_DENIED: u8 = 1;
/// Exit code for invalid input (policy, claims, upload body).
const EXIT_INVALID: u8 = 2;

/// `attesto policy` subcommands.
#[derive(Subcommand)]
pub enum PolicyCommand {
    /// Parse and check a policy: policy text or a JWS upload body (signature not checked).
    /// Exit 0 if valid, 2 if not.
    Check {
        /// The policy file.
        file: PathBuf,
    },
    /// Evaluate a policy against claims. Exit 0 if permitted, 1 if denied, 2 if invalid.
    Eval {
        /// The policy file (text or JWS upload body).
        file: PathBuf,
        /// A JSON object of claim type to value, e.g. {"x-ms-sgx-svn": 3}.
        #[arg(long, value_name = "CLAIMS.json")]
        claims: PathBuf,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print the policy's x-ms-policy-hash.
    Hash {
        /// The policy file (text or JWS upload body).
        file: PathBuf,
    },
    /// Print the default policy of an attestation type (SgxEnclave, OpenEnclave, Tpm, SevSnpVm, TdxVm).
    Default {
        /// The attestation type, any case.
        #[arg(value_name = "TYPE")]
        attestation_type: String,
    },
}

/// Runs one `attesto policy` subcommand.
pub fn run(command: PolicyCommand) -> anyhow::Result<ExitCode> {
    match command {
        PolicyCommand::Check { file } => check(&file),
        PolicyCommand::Eval { file, claims, json } => eval(&file, &claims, json),
        PolicyCommand::Hash { file } => {
            let text = read_policy_text(&file)?;
            println!("{}", policy_hash(&text));
            Ok(ExitCode::SUCCESS)
        }
        PolicyCommand::Default { attestation_type } => {
            let kind: AttestationType = attestation_type.parse()?;
            println!("{}", default_policy(kind));
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The policy text of a file holding either the text or a JWS upload body.
fn read_policy_text(file: &Path) -> anyhow::Result<String> {
    let body =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    policy_text_from_upload(&body)
        .with_context(|| format!("{}: not a valid policy upload body", file.display()))
}

/// `file:line:column: message`, the form editors jump to.
fn report(file: &Path, error: &Error) {
    match error.span() {
        Some(span) => eprintln!("{}:{}:{}: {error}", file.display(), span.line, span.column),
        None => eprintln!("{}: {error}", file.display()),
    }
}

fn parse(file: &Path) -> anyhow::Result<Result<Policy, ExitCode>> {
    let text = read_policy_text(file)?;
    match Policy::parse(&text) {
        Ok(policy) => {
            for warning in policy.warnings() {
                eprintln!(
                    "{}:{}:{}: {warning}",
                    file.display(),
                    warning.span.line,
                    warning.span.column
                );
            }
            Ok(Ok(policy))
        }
        Err(error) => {
            report(file, &error);
            Ok(Err(ExitCode::from(EXIT_INVALID)))
        }
    }
}

fn check(file: &Path) -> anyhow::Result<ExitCode> {
    let policy = match parse(file)? {
        Ok(policy) => policy,
        Err(code) => return Ok(code),
    };
    let count = |section| policy.rules(section).len();
    println!(
        "{}: valid policy, version {}: {} configuration, {} authorization, {} issuance rule(s)",
        file.display(),
        policy.version(),
        count(Section::Configuration),
        count(Section::Authorization),
        count(Section::Issuance)
    );
    Ok(ExitCode::SUCCESS)
}

fn eval(file: &Path, claims_file: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let policy = match parse(file)? {
        Ok(policy) => policy,
        Err(code) => return Ok(code),
    };
    let claims_text = std::fs::read_to_string(claims_file)
        .with_context(|| format!("cannot read {}", claims_file.display()))?;
    let claims = match ClaimSet::from_json_str(&claims_text) {
        Ok(claims) => claims,
        Err(error) => {
            eprintln!("{}: {error}", claims_file.display());
            return Ok(ExitCode::from(EXIT_INVALID));
        }
    };
    let evaluation = match policy.evaluate(&claims) {
        Ok(evaluation) => evaluation,
        Err(error) => {
            report(file, &error);
            return Ok(ExitCode::from(EXIT_INVALID));
        }
    };
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&evaluation_json(&evaluation))?
        );
    } else {
        print_evaluation(&evaluation);
    }
    Ok(ExitCode::from(if evaluation.permitted {
        EXIT_PERMITTED
    } else {
        EXIT_DENIED
    }))
}

fn print_evaluation(evaluation: &Evaluation) {
    println!(
        "{}",
        if evaluation.permitted {
            "permitted".to_owned()
        } else {
            evaluation.decision.to_string()
        }
    );
    if evaluation.issued_claims.is_empty() {
        println!("issued claims: none");
    } else {
        println!("issued claims:");
        for claim in &evaluation.issued_claims {
            println!("  {} = {}", claim.claim_type, claim.value);
        }
    }
    let properties = &evaluation.properties;
    if !properties.all.is_empty() {
        println!("properties:");
        for claim in &properties.all {
            println!("  {} = {}", claim.claim_type, claim.value);
        }
    }
    println!("trace:");
    for line in evaluation.trace.to_string().lines() {
        println!("  {line}");
    }
}

fn evaluation_json(evaluation: &Evaluation) -> serde_json::Value {
    let claims = |claims: &[attesto_policy::Claim]| {
        claims
            .iter()
            .map(|claim| serde_json::json!({"type": &*claim.claim_type, "value": claim.value.to_json()}))
            .collect::<Vec<_>>()
    };
    serde_json::json!({
        "permitted": evaluation.permitted,
        "decision": evaluation.decision.to_string(),
        "issued_claims": claims(&evaluation.issued_claims),
        "properties": {
            "report_validity_in_minutes": evaluation.properties.validity_minutes(),
            "omit_x5c": evaluation.properties.omit_x5c(),
            "all": claims(&evaluation.properties.all),
        },
        "trace": evaluation.trace.to_string(),
    })
}
