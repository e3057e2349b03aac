//! `attesto policy ...`: check, evaluate, hash and print MAA attestation policies; and, on a
//! server's data directory (server stopped), the stored history of a provider's policy: list,
//! show, diff and roll back versions.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use attesto_policy::{
    AttestationType, ClaimSet, Error, Evaluation, Policy, Section, default_policy, policy_hash,
    policy_text_from_upload,
};
use attesto_store::{PolicyAction, PolicyVersion, Store, TrustModel, audit_action};
use clap::{Args, Subcommand};

use super::kek::{StoreArgs, audit_event};

/// Exit code for a policy that permits (and for success in general).
const EXIT_PERMITTED: u8 = 0;
/// Exit code for a policy that denies.
const EXIT_DENIED: u8 = 1;
/// Exit code for invalid input (policy, claims, upload body).
const EXIT_INVALID: u8 = 2;
/// Exit code of `policy diff` when the versions differ, as diff(1).
const EXIT_DIFFERENT: u8 = 1;

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
    /// List the stored versions of a provider's policy (data directory; server stopped).
    History {
        #[command(flatten)]
        target: StoredPolicyArgs,
    },
    /// Print one stored version: its policy text, or with --jws the upload as received.
    ShowVersion {
        #[command(flatten)]
        target: StoredPolicyArgs,
        /// The version number.
        #[arg(long, value_name = "V")]
        version: u64,
        /// Print the JWS as uploaded instead of the policy text.
        #[arg(long)]
        jws: bool,
    },
    /// Make an earlier version current again (recorded as a new version and in the audit
    /// log). For an isolated provider the version's signer must still be trusted.
    Rollback {
        #[command(flatten)]
        target: StoredPolicyArgs,
        /// The version to restore.
        #[arg(long, value_name = "V")]
        version: u64,
        /// Restore even if the version's signer is no longer a trusted signer of an isolated
        /// provider.
        #[arg(long)]
        force: bool,
    },
    /// Line diff between two stored versions (a reset version shows the default policy).
    /// Exit 0 if identical, 1 if they differ.
    Diff {
        #[command(flatten)]
        target: StoredPolicyArgs,
        /// The older version.
        #[arg(long, value_name = "V1")]
        from: u64,
        /// The newer version.
        #[arg(long, value_name = "V2")]
        to: u64,
    },
}

/// Which stored policy: data directory, provider and attestation type.
#[derive(Args)]
pub struct StoredPolicyArgs {
    /// The provider.
    #[arg(long, value_name = "NAME", default_value = attesto_store::DEFAULT_PROVIDER)]
    provider: String,
    /// The attestation type, any case (SgxEnclave, OpenEnclave, Tpm, SevSnpVm, TdxVm).
    #[arg(long = "type", value_name = "TYPE")]
    attestation_type: String,
    #[command(flatten)]
    store: StoreArgs,
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
        PolicyCommand::History { target } => history(&target),
        PolicyCommand::ShowVersion {
            target,
            version,
            jws,
        } => show_version(&target, version, jws),
        PolicyCommand::Rollback {
            target,
            version,
            force,
        } => rollback(&target, version, force),
        PolicyCommand::Diff { target, from, to } => diff(&target, from, to),
    }
}

/// The opened store, the provider (checked to exist) and the attestation type in the
/// spelling the server stores.
fn open_stored(target: &StoredPolicyArgs) -> anyhow::Result<(Store, AttestationType)> {
    let kind: AttestationType = target.attestation_type.parse()?;
    let store = target.store.open()?;
    if store.provider(&target.provider)?.is_none() {
        bail!("no provider {:?}", target.provider);
    }
    Ok((store, kind))
}

fn load_version(
    store: &Store,
    target: &StoredPolicyArgs,
    kind: AttestationType,
    version: u64,
) -> anyhow::Result<PolicyVersion> {
    store
        .policy_version(&target.provider, kind.as_str(), version)?
        .with_context(|| {
            format!(
                "provider {} has no version {version} of its {} policy",
                target.provider,
                kind.as_str()
            )
        })
}

fn time(at: i64) -> String {
    attesto_quote::time::format_rfc3339(rustls_pki_types::UnixTime::since_unix_epoch(
        std::time::Duration::from_secs(u64::try_from(at).unwrap_or(0)),
    ))
}

fn history(target: &StoredPolicyArgs) -> anyhow::Result<ExitCode> {
    let (store, kind) = open_stored(target)?;
    let versions = store.policy_versions(&target.provider, kind.as_str())?;
    if versions.is_empty() {
        println!(
            "provider {} has never stored a {} policy: the default applies",
            target.provider,
            kind.as_str()
        );
    }
    for v in &versions {
        let hash = match v.action {
            PolicyAction::Set => format!("  policy-hash {}", policy_hash(&v.text)),
            PolicyAction::Reset => String::new(),
        };
        println!(
            "v{}  {}  {:<5}  {}{hash}{}",
            v.version,
            time(v.at),
            v.action,
            v.actor.as_deref().unwrap_or("-"),
            v.rollback_of
                .map_or_else(String::new, |from| format!("  (rollback to v{from})"))
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn show_version(target: &StoredPolicyArgs, version: u64, jws: bool) -> anyhow::Result<ExitCode> {
    let (store, kind) = open_stored(target)?;
    let v = load_version(&store, target, kind, version)?;
    match (v.action, jws) {
        (PolicyAction::Reset, _) => {
            eprintln!("version {version} is a reset: the default policy applies");
            println!("{}", default_policy(kind));
        }
        (PolicyAction::Set, true) => println!("{}", v.jws),
        (PolicyAction::Set, false) => println!("{}", v.text),
    }
    Ok(ExitCode::SUCCESS)
}

fn rollback(target: &StoredPolicyArgs, version: u64, force: bool) -> anyhow::Result<ExitCode> {
    let (store, kind) = open_stored(target)?;
    let v = load_version(&store, target, kind, version)?;
    let provider = store
        .provider(&target.provider)?
        .with_context(|| format!("no provider {:?}", target.provider))?;
    if v.action == PolicyAction::Set && provider.trust_model == TrustModel::Isolated && !force {
        // The version was accepted when its signer was trusted; the signer list may have
        // changed since, and an isolated provider only runs policies its signers vouch for.
        let trusted = store
            .policy_signers(&target.provider)?
            .iter()
            .filter_map(|der| attesto_jose::Certificate::from_der(der).ok())
            .collect::<Vec<_>>();
        let now = rustls_pki_types::UnixTime::since_unix_epoch(std::time::Duration::from_secs(
            u64::try_from(super::kek::now()).unwrap_or(0),
        ));
        let vouched = v.signer_cert_der.as_ref().is_some_and(|der| {
            attesto_jose::SignerChain::from_ders(&[der])
                .and_then(|chain| chain.verify_trust(&trusted, now))
                .is_ok()
        });
        if !vouched {
            bail!(
                "version {version} was not signed by a currently trusted signer of isolated                  provider {}; use --force to restore it anyway",
                target.provider
            );
        }
    }
    let event = audit_event(
        &target.provider,
        audit_action::POLICY_ROLLBACK,
        Some(kind.as_str()),
    );
    let new = store
        .rollback_policy(&target.provider, kind.as_str(), version, &event)
        .context("rolling back")?;
    println!(
        "provider {}: the {} policy of v{version} is current again as v{new}",
        target.provider,
        kind.as_str()
    );
    Ok(ExitCode::SUCCESS)
}

fn diff(target: &StoredPolicyArgs, from: u64, to: u64) -> anyhow::Result<ExitCode> {
    let (store, kind) = open_stored(target)?;
    let text = |v: &PolicyVersion| match v.action {
        PolicyAction::Set => (v.text.clone(), format!("v{}", v.version)),
        PolicyAction::Reset => (
            default_policy(kind).to_owned(),
            format!("v{} (reset: default policy)", v.version),
        ),
    };
    let (old, old_label) = text(&load_version(&store, target, kind, from)?);
    let (new, new_label) = text(&load_version(&store, target, kind, to)?);
    if old == new {
        return Ok(ExitCode::SUCCESS);
    }
    let diff = similar::TextDiff::from_lines(&old, &new);
    print!(
        "{}",
        diff.unified_diff()
            .context_radius(3)
            .header(&old_label, &new_label)
    );
    Ok(ExitCode::from(EXIT_DIFFERENT))
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
