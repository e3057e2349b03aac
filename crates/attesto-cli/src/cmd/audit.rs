//! `attesto audit`: the audit log of a data directory, newest first. Run while the server is
//! stopped; the running server exports the same events as `attesto::audit` log events.

use std::time::Duration;

use anyhow::{Context as _, Result};
use attesto_quote::time::format_rfc3339;
use attesto_store::{AuditEntry, AuditQuery};
use clap::Args;
use rustls_pki_types::UnixTime;
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::kek::StoreArgs;

/// `attesto audit` arguments.
#[derive(Args)]
pub struct AuditArgs {
    /// Only events of this provider (`*` for service-wide events such as KEK rotations).
    #[arg(long, value_name = "NAME")]
    provider: Option<String>,
    /// Only events at or after this time (RFC 3339, e.g. 2025-07-01T00:00:00Z).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    since: Option<i64>,
    /// At most this many events.
    #[arg(long, value_name = "N", default_value_t = 100)]
    limit: usize,
    /// Print one JSON array.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    store: StoreArgs,
}

fn parse_time(text: &str) -> Result<i64, String> {
    OffsetDateTime::parse(text, &Rfc3339)
        .map(OffsetDateTime::unix_timestamp)
        .map_err(|e| format!("not an RFC 3339 time: {e}"))
}

/// Prints the matching audit entries.
///
/// # Errors
/// A store that cannot be opened, or a tampered audit entry.
pub fn run(args: AuditArgs) -> Result<()> {
    let store = args.store.open()?;
    let entries = store
        .audit(&AuditQuery {
            provider: args.provider.clone(),
            since: args.since,
            limit: args.limit,
        })
        .context("reading the audit log")?;
    if args.json {
        let rows: Vec<_> = entries.iter().map(entry_json).collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    for AuditEntry { seq, event } in &entries {
        println!(
            "{seq}  {}  {}  {}{}  {}  {}{}",
            time(event.at),
            event.provider,
            event.action,
            event
                .attestation_type
                .as_deref()
                .map_or_else(String::new, |t| format!(" {t}")),
            event.actor,
            event.result,
            event
                .jws_sha256
                .as_deref()
                .map_or_else(String::new, |h| format!("  jws-sha256 {h}")),
        );
    }
    Ok(())
}

fn time(at: i64) -> String {
    format_rfc3339(UnixTime::since_unix_epoch(Duration::from_secs(
        u64::try_from(at).unwrap_or(0),
    )))
}

fn entry_json(entry: &AuditEntry) -> serde_json::Value {
    let event = &entry.event;
    json!({
        "seq": entry.seq,
        "at": time(event.at),
        "actor": event.actor,
        "provider": event.provider,
        "action": event.action,
        "attestation_type": event.attestation_type,
        "jws_sha256": event.jws_sha256,
        "result": event.result,
    })
}
