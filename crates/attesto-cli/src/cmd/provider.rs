//! `attesto provider ...`: create, list, show and delete attestation providers in a data
//! directory, and rotate their token-signing keys. Run while the server is stopped.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use attesto_jose::{Certificate, RsaBits, SigningCertificateParams, SigningKey};
use attesto_quote::time::format_rfc3339;
use attesto_store::{
    DEFAULT_PROVIDER, ProviderRecord, SigningKeyRecord, Store, TrustModel, audit_action,
};
use clap::Subcommand;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, UnixTime};
use serde_json::{Value, json};

use super::kek::{StoreArgs, audit_event, now};

/// Validity of a generated signing certificate, as the server's. Relying parties only match
/// the `kid`, but a bounded lifetime is the honest thing to publish.
const CERT_LIFETIME: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// Largest certificate file read.
const MAX_CERT_FILE: u64 = 1024 * 1024;

/// `attesto provider` subcommands.
#[derive(Subcommand)]
pub enum ProviderCommand {
    /// Create a provider. Isolated providers need at least one --signer; the server creates
    /// the provider's token-signing key when it first serves it.
    Create {
        /// The provider name: 1 to 63 characters of a-z, 0-9 and -.
        name: String,
        /// Who may change policies: aad (authenticated admins; unsigned policies allowed) or
        /// isolated (only policies signed by a trusted signer).
        #[arg(long, value_name = "aad|isolated", value_parser = parse_trust_model)]
        trust_model: TrustModel,
        /// A trusted policy signer certificate (PEM or DER). Repeatable.
        #[arg(long, value_name = "CERT")]
        signer: Vec<PathBuf>,
        /// A Host-header name that selects this provider (optionally with :port). Repeatable.
        #[arg(long, value_name = "HOST")]
        host: Vec<String>,
        /// Lifetime of its attestation tokens in seconds (default: the server's setting).
        #[arg(long, value_name = "SECS")]
        token_lifetime: Option<u64>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List the providers.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Show a provider: settings, policy signers, signing keys and policies.
    Show {
        /// The provider name.
        name: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Delete a provider with its policies, their history, its signers and signing keys. Its
    /// audit entries stay. The default provider cannot be deleted.
    Delete {
        /// The provider name.
        name: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Give a provider a new RSA-2048 token-signing key with a self-signed certificate
    /// CN=<issuer>. The previous key is retired but stays in /certs until pruned, so tokens
    /// it signed still verify.
    RotateKey {
        /// The provider name.
        name: String,
        /// The provider's attest URI (the token issuer). Default: https://<its first host>.
        #[arg(long, value_name = "URL")]
        issuer: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
}

fn parse_trust_model(text: &str) -> Result<TrustModel, String> {
    text.parse()
        .map_err(|e: attesto_store::StoreError| e.to_string())
}

/// Runs one `attesto provider` subcommand.
///
/// # Errors
/// Unreadable certificates, invalid settings, a store that cannot be opened (for example while
/// the server runs), an unknown provider.
pub fn run(command: ProviderCommand) -> Result<()> {
    match command {
        ProviderCommand::Create {
            name,
            trust_model,
            signer,
            host,
            token_lifetime,
            store,
        } => create(&store, &name, trust_model, &signer, &host, token_lifetime),
        ProviderCommand::List { json, store } => list(&store.open()?, json),
        ProviderCommand::Show { name, json, store } => show(&store.open()?, &name, json),
        ProviderCommand::Delete { name, store } => delete(&store, &name),
        ProviderCommand::RotateKey {
            name,
            issuer,
            store,
        } => rotate_key(&store, &name, issuer.as_deref()),
    }
}

/// The certificates in a PEM file (every `CERTIFICATE` block) or a DER file, each checked to
/// parse.
fn read_certificates(path: &Path) -> Result<Vec<Vec<u8>>> {
    let len = std::fs::metadata(path)
        .with_context(|| format!("reading {}", path.display()))?
        .len();
    if len > MAX_CERT_FILE {
        bail!("{}: larger than {MAX_CERT_FILE} bytes", path.display());
    }
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let ders: Vec<Vec<u8>> = if bytes.windows(10).any(|w| w == b"-----BEGIN") {
        CertificateDer::pem_slice_iter(&bytes)
            .map(|c| c.map(|c| c.as_ref().to_vec()))
            .collect::<Result<_, _>>()
            .with_context(|| format!("{}: malformed PEM", path.display()))?
    } else {
        vec![bytes]
    };
    if ders.is_empty() {
        bail!("{}: no certificate", path.display());
    }
    for der in &ders {
        Certificate::from_der(der)
            .with_context(|| format!("{}: not an X.509 certificate", path.display()))?;
    }
    Ok(ders)
}

fn create(
    args: &StoreArgs,
    name: &str,
    trust_model: TrustModel,
    signer_files: &[PathBuf],
    hosts: &[String],
    token_lifetime: Option<u64>,
) -> Result<()> {
    if trust_model == TrustModel::Isolated && signer_files.is_empty() {
        bail!("an isolated provider needs at least one --signer certificate");
    }
    let mut signers = Vec::new();
    for file in signer_files {
        signers.extend(read_certificates(file)?);
    }
    let record = ProviderRecord {
        name: name.to_owned(),
        trust_model,
        token_lifetime_secs: token_lifetime,
        hosts: hosts
            .iter()
            .map(|h| h.trim().to_ascii_lowercase())
            .collect(),
        created_at: now(),
    };
    let store = args.open_or_create()?;
    store
        .create_provider(
            &record,
            &signers,
            &audit_event(name, audit_action::PROVIDER_CREATE, None),
        )
        .with_context(|| format!("creating provider {name}"))?;
    println!(
        "created provider {name} ({trust_model}, {} signer(s))",
        store.policy_signers(name)?.len()
    );
    Ok(())
}

fn provider_json(store: &Store, record: &ProviderRecord, detail: bool) -> Result<Value> {
    let time = |secs: i64| format_rfc3339(unix(secs));
    let mut out = json!({
        "name": record.name,
        "trust_model": record.trust_model.as_str(),
        "hosts": record.hosts,
        "token_lifetime_secs": record.token_lifetime_secs,
        "created_at": time(record.created_at),
    });
    if !detail {
        return Ok(out);
    }
    let signers: Vec<Value> = store
        .policy_signers(&record.name)?
        .iter()
        .map(|der| match Certificate::from_der(der) {
            Ok(cert) => json!({
                "subject": cert.subject(),
                "thumbprint": cert.thumbprint(),
                "not_after": time(cert.not_after()),
            }),
            Err(e) => json!({ "error": e.to_string() }),
        })
        .collect();
    let keys: Vec<Value> = store
        .signing_keys(&record.name)?
        .iter()
        .map(|key| {
            json!({
                "kid": key.id,
                "created_at": time(key.created_at),
                "retired_at": key.retired_at.map(time),
                "subject": Certificate::from_der(&key.cert_der).map(|c| c.subject().to_owned()).ok(),
            })
        })
        .collect();
    let mut policies = Vec::new();
    for (provider, ty, policy) in store.policies()? {
        if provider != record.name {
            continue;
        }
        let version = store
            .policy_versions(&provider, &ty)?
            .last()
            .map(|v| v.version);
        policies.push(json!({
            "type": ty,
            "version": version,
            "updated_at": time(policy.updated_at),
            "signed": policy.signer_cert_der.is_some(),
        }));
    }
    if let Some(object) = out.as_object_mut() {
        object.insert("policy_signers".to_owned(), Value::Array(signers));
        object.insert("signing_keys".to_owned(), Value::Array(keys));
        object.insert("policies".to_owned(), Value::Array(policies));
    }
    Ok(out)
}

fn list(store: &Store, json: bool) -> Result<()> {
    let providers = store.providers()?;
    if json {
        let rows = providers
            .iter()
            .map(|p| provider_json(store, p, false))
            .collect::<Result<Vec<_>>>()?;
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    for p in &providers {
        let hosts = if p.hosts.is_empty() {
            "-".to_owned()
        } else {
            p.hosts.join(",")
        };
        println!("{}  {}  hosts {hosts}", p.name, p.trust_model);
    }
    Ok(())
}

fn show(store: &Store, name: &str, json: bool) -> Result<()> {
    let Some(record) = store.provider(name)? else {
        bail!("no provider {name:?}");
    };
    let value = provider_json(store, &record, true)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    let field = |v: &Value, name: &str| match v.get(name) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => "-".to_owned(),
        Some(other) => other.to_string(),
    };
    println!("provider      {}", record.name);
    println!("trust model   {}", record.trust_model);
    println!(
        "hosts         {}",
        if record.hosts.is_empty() {
            "-".to_owned()
        } else {
            record.hosts.join(", ")
        }
    );
    println!(
        "token life    {}",
        record
            .token_lifetime_secs
            .map_or_else(|| "server default".to_owned(), |s| format!("{s} s"))
    );
    println!("created       {}", field(&value, "created_at"));
    let list = |key: &str| {
        value
            .get(key)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    println!("policy signers:");
    for signer in list("policy_signers") {
        println!(
            "  {}  {}  valid until {}",
            field(&signer, "thumbprint"),
            field(&signer, "subject"),
            field(&signer, "not_after")
        );
    }
    println!("signing keys:");
    for key in list("signing_keys") {
        let state = match key.get("retired_at") {
            Some(Value::String(at)) => format!("retired {at}"),
            _ => "active".to_owned(),
        };
        println!(
            "  {}  {state}  created {}",
            field(&key, "kid"),
            field(&key, "created_at")
        );
    }
    println!("policies:");
    for policy in list("policies") {
        println!(
            "  {}  version {}  updated {}{}",
            field(&policy, "type"),
            field(&policy, "version"),
            field(&policy, "updated_at"),
            if policy.get("signed") == Some(&Value::Bool(true)) {
                "  signed"
            } else {
                ""
            }
        );
    }
    Ok(())
}

fn delete(args: &StoreArgs, name: &str) -> Result<()> {
    if name == DEFAULT_PROVIDER {
        bail!(
            "the default provider cannot be deleted (the server recreates it with a new key); \
             reset its policies instead"
        );
    }
    let store = args.open()?;
    store
        .delete_provider(
            name,
            &audit_event(name, audit_action::PROVIDER_DELETE, None),
        )
        .with_context(|| format!("deleting provider {name}"))?;
    println!("deleted provider {name} with its policies, signers and signing keys");
    Ok(())
}

fn rotate_key(args: &StoreArgs, name: &str, issuer: Option<&str>) -> Result<()> {
    let store = args.open()?;
    let Some(record) = store.provider(name)? else {
        bail!("no provider {name:?}");
    };
    let issuer = match (issuer, record.hosts.first()) {
        (Some(issuer), _) => issuer.trim_end_matches('/').to_owned(),
        (None, Some(host)) => format!("https://{host}"),
        (None, None) => bail!(
            "provider {name} has no host to derive its attest URI from: give --issuer URL (the \
             server's public URL for the default provider)"
        ),
    };
    let had_key = store
        .signing_keys(name)?
        .iter()
        .any(|k| k.retired_at.is_none());
    let now = now();
    let key = new_signing_key(&issuer, now)?;
    let kid = key.id.clone();
    store
        .rotate_signing_key(
            name,
            &key,
            now,
            &audit_event(name, audit_action::KEY_ROTATE, None),
        )
        .with_context(|| format!("rotating the signing key of {name}"))?;
    println!(
        "provider {name}: new signing key {kid} for issuer {issuer}{}",
        if had_key {
            "; the previous key is retired and stays in /certs until pruned"
        } else {
            ""
        }
    );
    Ok(())
}

/// A new RSA-2048 key and its self-signed certificate `CN=<issuer>`, made as the server makes
/// the default provider's.
fn new_signing_key(issuer: &str, now: i64) -> Result<SigningKeyRecord> {
    let key = SigningKey::generate_rsa(RsaBits::B2048).context("generating a signing key")?;
    let start = u64::try_from(now).unwrap_or(0).saturating_sub(3600);
    let cert_der = attesto_jose::self_signed_certificate(
        &key,
        &SigningCertificateParams {
            issuer: issuer.to_owned(),
            not_before: UnixTime::since_unix_epoch(Duration::from_secs(start)),
            not_after: UnixTime::since_unix_epoch(Duration::from_secs(start) + CERT_LIFETIME),
            extensions: Vec::new(),
        },
    )
    .context("issuing the signing certificate")?;
    let id = Certificate::from_der(&cert_der)
        .context("the new signing certificate")?
        .maa_key_id();
    Ok(SigningKeyRecord {
        id,
        pkcs8_der: key.pkcs8_der().to_vec(),
        cert_der,
        created_at: now,
        retired_at: None,
    })
}

fn unix(secs: i64) -> UnixTime {
    UnixTime::since_unix_epoch(Duration::from_secs(u64::try_from(secs).unwrap_or(0)))
}
