//! `attesto collateral ...`: manage the DCAP collateral cached in a server's data directory.
//!
//! `import` puts collateral bundles (the dcap-qvl JSON format of `testdata/dcap/*/*collateral*.json`)
//! into the store, where the server's collateral cache loads them at startup: the way to run
//! air-gapped, or to seed a server before its first request. The store allows one process at a
//! time, so import while the server is stopped.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{Context as _, Result, bail};
use attesto_collateral::{CollateralKey, Fetched, ImportOutcome, import};
use attesto_quote::time::format_rfc3339;
use attesto_quote::{TrustAnchors, Verifier};
use attesto_store::{Store, StoreError};
use clap::Subcommand;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, UnixTime};
use serde_json::json;

/// Largest bundle file read; real bundles are 15-25 KiB.
const MAX_BUNDLE_BYTES: u64 = 4 * 1024 * 1024;

/// `attesto collateral` subcommands.
#[derive(Subcommand)]
pub enum CollateralCommand {
    /// Import collateral bundles into a server's store. Every file is checked first (it parses;
    /// its signatures and certificate chains lead to the Intel SGX Root CA or a `--trust-root`;
    /// validity windows are not checked): if one fails, nothing is imported.
    Import {
        /// The server's data directory.
        #[arg(long, value_name = "DIR")]
        data_dir: PathBuf,
        /// Also accept collateral chaining to this root (DER or PEM), as the server's
        /// `trust.extra_quote_roots` does. Repeatable.
        #[arg(long, value_name = "FILE")]
        trust_root: Vec<PathBuf>,
        /// Bundles in the dcap-qvl JSON format.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// List the collateral cached in a server's store.
    List {
        /// The server's data directory.
        #[arg(long, value_name = "DIR")]
        data_dir: PathBuf,
        /// Print one JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// Runs one `attesto collateral` subcommand.
///
/// # Errors
/// An unreadable or invalid bundle, an untrusted chain, or a store that cannot be opened (for
/// example because the server is running).
pub fn run(command: CollateralCommand) -> Result<()> {
    match command {
        CollateralCommand::Import {
            data_dir,
            trust_root,
            files,
        } => import_files(&data_dir, &trust_root, &files),
        CollateralCommand::List { data_dir, json } => list(&data_dir, json),
    }
}

fn now() -> UnixTime {
    UnixTime::since_unix_epoch(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or(Duration::ZERO),
    )
}

fn open_store(data_dir: &Path) -> Result<Store> {
    match Store::open(data_dir) {
        Ok(store) => Ok(store),
        Err(StoreError::AlreadyOpen { path }) => bail!(
            "{} is in use (is the server running?); stop it first, or put the bundles in its \
             offline collateral directory",
            path.display()
        ),
        Err(e) => Err(e).with_context(|| format!("opening the store in {}", data_dir.display())),
    }
}

fn anchors(trust_roots: &[PathBuf]) -> Result<TrustAnchors> {
    let mut anchors = TrustAnchors::intel();
    for path in trust_roots {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let der = if bytes.windows(10).any(|w| w == b"-----BEGIN") {
            CertificateDer::from_pem_slice(&bytes)
                .with_context(|| format!("{}: no PEM certificate", path.display()))?
                .as_ref()
                .to_vec()
        } else {
            bytes
        };
        anchors = anchors
            .with_root(&der)
            .with_context(|| format!("{}: not a usable root certificate", path.display()))?;
    }
    Ok(anchors)
}

fn read_bundle(path: &Path, verifier: &Verifier) -> Result<(String, CollateralKey)> {
    let len = std::fs::metadata(path)
        .with_context(|| format!("reading {}", path.display()))?
        .len();
    if len > MAX_BUNDLE_BYTES {
        bail!("{}: larger than {MAX_BUNDLE_BYTES} bytes", path.display());
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let fetched = Fetched::from_json(&text, path.display().to_string())
        .with_context(|| format!("{}: not a collateral bundle", path.display()))?;
    verifier
        .prepare(&fetched.collateral)
        .with_context(|| format!("{}: signatures or chains do not verify", path.display()))?;
    Ok((text, fetched.key()))
}

fn import_files(data_dir: &Path, trust_roots: &[PathBuf], files: &[PathBuf]) -> Result<()> {
    let verifier = Verifier::with_trust_anchors(anchors(trust_roots)?);
    // Check everything before writing anything.
    let bundles = files
        .iter()
        .map(|path| read_bundle(path, &verifier).map(|(text, key)| (path, text, key)))
        .collect::<Result<Vec<_>>>()?;
    let store = open_store(data_dir)?;
    let now = now();
    for (path, text, key) in bundles {
        let origin = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        match import(&store, &text, &origin, now)
            .with_context(|| format!("importing {}", path.display()))?
        {
            ImportOutcome::Stored { next_update, .. } => println!(
                "imported {key} from {} (valid until {})",
                path.display(),
                format_rfc3339(next_update)
            ),
            ImportOutcome::KeptNewer {
                existing_next_update,
                ..
            } => println!(
                "kept the stored {key} (valid until {}); {} is older and was not imported",
                format_rfc3339(existing_next_update),
                path.display()
            ),
        }
    }
    Ok(())
}

fn list(data_dir: &Path, json: bool) -> Result<()> {
    let store = open_store(data_dir)?;
    let now = now().as_secs();
    let mut rows = Vec::new();
    for key in store.collateral_keys()? {
        match store.collateral(&key) {
            Ok(Some(entry)) => {
                let next_update = u64::try_from(entry.next_update).unwrap_or(0);
                let fetched_at = u64::try_from(entry.fetched_at).unwrap_or(0);
                rows.push(json!({
                    "key": key,
                    "source": entry.source,
                    "fetched_at": format_rfc3339(unix(fetched_at)),
                    "next_update": format_rfc3339(unix(next_update)),
                    "valid_now": now <= next_update,
                }));
            }
            Ok(None) => {}
            Err(error) => rows.push(json!({ "key": key, "error": error.to_string() })),
        }
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    if rows.is_empty() {
        println!("no cached collateral in {}", data_dir.display());
        return Ok(());
    }
    for row in &rows {
        let field = |name: &str| row.get(name).and_then(|v| v.as_str()).unwrap_or("-");
        if let Some(error) = row.get("error").and_then(|v| v.as_str()) {
            println!("{}  unreadable: {error}", field("key"));
            continue;
        }
        let state = if row.get("valid_now").and_then(serde_json::Value::as_bool) == Some(true) {
            "valid"
        } else {
            "EXPIRED"
        };
        println!(
            "{}  {state}  next update {}  fetched {}  from {}",
            field("key"),
            field("next_update"),
            field("fetched_at"),
            field("source")
        );
    }
    Ok(())
}

fn unix(secs: u64) -> UnixTime {
    UnixTime::since_unix_epoch(Duration::from_secs(secs))
}
