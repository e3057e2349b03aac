//! `attesto kek ...`: the key-encryption key that protects a data directory; and the flags every
//! offline command uses to open a data directory with it.
//!
//! Offline commands open the store directly. The store admits one process at a time, so they
//! run while the server is stopped, and a running server is reported as such.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, Result, bail};
use attesto_store::{AuditEvent, DB_FILE_NAME, Kek, KekSource, Store, StoreError, audit_action};
use clap::{Args, Subcommand};

/// Where a data directory is and how to get its KEK. Without a `--kek-*` flag the KEK is
/// `<DIR>/kek`, as the server uses by default.
#[derive(Args, Clone, Debug)]
pub struct StoreArgs {
    /// The server's data directory.
    #[arg(
        long,
        value_name = "DIR",
        default_value = "attesto-data",
        env = "ATTESTO_DATA_DIR"
    )]
    pub data_dir: PathBuf,
    /// Read the KEK from this file (32 raw bytes or 64 hex digits) instead of `<DIR>/kek`.
    #[arg(long, value_name = "FILE", group = "current_kek")]
    pub kek_file: Option<PathBuf>,
    /// Read the KEK (64 hex digits) from this environment variable.
    #[arg(long, value_name = "VAR", group = "current_kek")]
    pub kek_env: Option<String>,
    /// Derive the KEK from the passphrase in this environment variable.
    #[arg(long, value_name = "VAR", group = "current_kek")]
    pub passphrase_env: Option<String>,
}

impl StoreArgs {
    fn source(&self) -> Result<KekSource> {
        Ok(if let Some(file) = &self.kek_file {
            KekSource::File(file.clone())
        } else if let Some(var) = &self.kek_env {
            KekSource::Env(var.clone())
        } else if let Some(var) = &self.passphrase_env {
            KekSource::Passphrase(passphrase_from(var)?)
        } else {
            KekSource::DataDir
        })
    }

    /// Opens an existing data directory (never creates one: a mistyped `--data-dir` would
    /// otherwise become an empty store with a fresh KEK) and makes sure the default provider
    /// exists, as the server does at start.
    ///
    /// # Errors
    /// A missing directory, a running server, a wrong or missing KEK, store failures.
    pub fn open(&self) -> Result<Store> {
        if !self.data_dir.join(DB_FILE_NAME).is_file() {
            bail!(
                "{} holds no attesto database (start the server once, or check --data-dir)",
                self.data_dir.display()
            );
        }
        self.open_or_create()
    }

    /// As [`StoreArgs::open`], but creates the data directory if it does not exist yet, for
    /// provisioning before the first start.
    ///
    /// # Errors
    /// As [`StoreArgs::open`].
    pub fn open_or_create(&self) -> Result<Store> {
        let store = match Store::open_with(&self.data_dir, self.source()?) {
            Ok(store) => store,
            Err(StoreError::AlreadyOpen { path }) => bail!(
                "{} is in use (is the server running?): stop the server first, the store \
                 admits one process at a time",
                path.display()
            ),
            Err(e @ (StoreError::WrongKek | StoreError::KekMissing { .. })) => {
                return Err(anyhow::Error::new(e).context(format!(
                    "opening {} (give the KEK with --kek-file, --kek-env or --passphrase-env)",
                    self.data_dir.display()
                )));
            }
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("opening the store in {}", self.data_dir.display()));
            }
        };
        store
            .ensure_default_provider()
            .context("creating the default provider")?;
        Ok(store)
    }
}

fn passphrase_from(var: &str) -> Result<String> {
    std::env::var(var).with_context(|| format!("reading the passphrase from ${var}"))
}

/// The current time in Unix seconds.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Who the audit log names for changes made with this tool: `cli:<login name>`.
pub fn actor() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_default();
    if user.is_empty() {
        "cli".to_owned()
    } else {
        format!("cli:{user}")
    }
}

/// An audit event for a change made with this tool, at the current time.
pub fn audit_event(provider: &str, action: &str, attestation_type: Option<&str>) -> AuditEvent {
    AuditEvent {
        at: now(),
        actor: actor(),
        provider: provider.to_owned(),
        action: action.to_owned(),
        attestation_type: attestation_type.map(str::to_owned),
        jws_sha256: None,
        result: "ok".to_owned(),
    }
}

/// `attesto kek` subcommands.
#[derive(Subcommand)]
pub enum KekCommand {
    /// Re-encrypt a data directory under a new key-encryption key (one transaction: all or
    /// nothing). Start the server with the new KEK afterwards; a `<DIR>/kek` that held the old
    /// one is deleted.
    Rotate {
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        new: NewKekArgs,
    },
}

/// The new KEK of `attesto kek rotate`: exactly one source.
#[derive(Args, Clone, Debug)]
#[group(required = true, multiple = false)]
pub struct NewKekArgs {
    /// The new KEK from this file (32 raw bytes or 64 hex digits).
    #[arg(long, value_name = "FILE")]
    new_kek_file: Option<PathBuf>,
    /// The new KEK (64 hex digits) from this environment variable.
    #[arg(long, value_name = "VAR")]
    new_kek_env: Option<String>,
    /// Derive the new KEK from the passphrase in this environment variable (a fresh salt is
    /// stored in the database).
    #[arg(long, value_name = "VAR")]
    new_passphrase_env: Option<String>,
}

/// Runs one `attesto kek` subcommand.
///
/// # Errors
/// A store that cannot be opened, an invalid new KEK, or a record that fails its integrity
/// check (then nothing changed).
pub fn run(command: KekCommand) -> Result<()> {
    match command {
        KekCommand::Rotate { store, new } => rotate(&store, &new),
    }
}

fn rotate(args: &StoreArgs, new: &NewKekArgs) -> Result<()> {
    // Read the new key before touching the store, so a typo changes nothing.
    let new_key = if let Some(file) = &new.new_kek_file {
        Some(Kek::from_file(file).with_context(|| format!("reading {}", file.display()))?)
    } else if let Some(var) = &new.new_kek_env {
        Some(Kek::from_env(var)?)
    } else {
        None
    };
    let passphrase = match &new.new_passphrase_env {
        Some(var) => Some(passphrase_from(var)?),
        None => None,
    };
    let store = args.open()?;
    let event = audit_event("*", audit_action::KEK_ROTATE, None);
    match (new_key, passphrase) {
        (Some(kek), _) => store.rotate_kek(kek, &event),
        (None, Some(passphrase)) => store.rotate_kek_to_passphrase(&passphrase, &event),
        (None, None) => {
            bail!("give the new KEK with --new-kek-file, --new-kek-env or --new-passphrase-env")
        }
    }
    .context("rotating the key-encryption key (nothing was changed)")?;
    println!(
        "{}: re-encrypted under the new key-encryption key; start the server with it",
        args.data_dir.display()
    );
    if args.kek_file.is_none() && args.kek_env.is_none() && args.passphrase_env.is_none() {
        println!(
            "{} held the old key and was deleted",
            Path::new(&args.data_dir).join("kek").display()
        );
    }
    Ok(())
}
