//! Attestation providers (tenants). A provider's name keys everything it owns: policies and
//! their versions, policy signers and signing keys; deleting it removes all of that at once.

use std::time::{SystemTime, UNIX_EPOCH};

use redb::ReadableTable;

use crate::error::StoreError;
use crate::records::{AuditEvent, ProviderRecord, TrustModel};
use crate::schema::{
    POLICIES, POLICY_SIGNERS, POLICY_VERSIONS, PROVIDERS, S_PROVIDERS, SIGNING_KEYS,
};
use crate::{DEFAULT_PROVIDER, Store, Tx, policies};

/// Longest provider name: one DNS label, so a name can become a host name.
const MAX_NAME_LEN: usize = 63;
/// Longest host entry: a DNS name (253) plus `:` and a port.
const MAX_HOST_LEN: usize = 253 + 6;

/// Whether `name` is a valid provider name: `[a-z0-9-]{1,63}`.
#[must_use]
pub fn is_valid_provider_name(name: &str) -> bool {
    (1..=MAX_NAME_LEN).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn invalid(reason: String) -> StoreError {
    StoreError::Invalid { reason }
}

/// Checks a record's own fields: name, hosts, token lifetime.
fn validate(record: &ProviderRecord) -> Result<(), StoreError> {
    if !is_valid_provider_name(&record.name) {
        return Err(invalid(format!(
            "provider name {:?} must be 1 to {MAX_NAME_LEN} characters of a-z, 0-9 and -",
            record.name
        )));
    }
    if record.token_lifetime_secs == Some(0) {
        return Err(invalid(
            "a token lifetime must be at least one second".to_owned(),
        ));
    }
    for (i, host) in record.hosts.iter().enumerate() {
        let ok = (1..=MAX_HOST_LEN).contains(&host.len())
            && host.bytes().all(|b| {
                b.is_ascii_lowercase()
                    || b.is_ascii_digit()
                    || matches!(b, b'.' | b'-' | b':' | b'[' | b']')
            });
        if !ok {
            return Err(invalid(format!(
                "host {host:?} must be a lowercase host name or address, optionally with :port"
            )));
        }
        if record
            .hosts
            .get(..i)
            .is_some_and(|before| before.contains(host))
        {
            return Err(invalid(format!("host {host:?} is listed twice")));
        }
    }
    Ok(())
}

/// Refuses hosts that already select another provider: a Host header must lead to one place.
fn check_hosts_free(tx: &Tx<'_>, record: &ProviderRecord) -> Result<(), StoreError> {
    if record.hosts.is_empty() {
        return Ok(());
    }
    let table = tx.txn.open_table(PROVIDERS)?;
    for entry in table.iter()? {
        let (key, value) = entry?;
        let name = key.value();
        if name == record.name {
            continue;
        }
        let other: ProviderRecord = S_PROVIDERS.open(tx.keys, &[name], value.value())?;
        if let Some(host) = record.hosts.iter().find(|h| other.hosts.contains(h)) {
            return Err(invalid(format!(
                "host {host:?} already selects provider {name:?}"
            )));
        }
    }
    Ok(())
}

fn read_provider(tx: &Tx<'_>, name: &str) -> Result<Option<ProviderRecord>, StoreError> {
    let table = tx.txn.open_table(PROVIDERS)?;
    let value = table.get(name)?;
    value
        .map(|v| S_PROVIDERS.open(tx.keys, &[name], v.value()))
        .transpose()
}

fn write_provider(tx: &Tx<'_>, record: &ProviderRecord) -> Result<(), StoreError> {
    let bytes = S_PROVIDERS.seal(tx.keys, &[&record.name], record)?;
    tx.txn
        .open_table(PROVIDERS)?
        .insert(record.name.as_str(), bytes.as_slice())?;
    Ok(())
}

fn not_found(name: &str) -> StoreError {
    StoreError::NotFound {
        what: format!("provider {name:?}"),
    }
}

impl Store {
    /// Every provider, sorted by name.
    ///
    /// # Errors
    /// [`StoreError::Database`], [`StoreError::Integrity`] for a record modified outside
    /// attesto, [`StoreError::Corrupt`] for an unreadable one.
    pub fn providers(&self) -> Result<Vec<ProviderRecord>, StoreError> {
        self.read(|rx| {
            let table = rx.txn.open_table(PROVIDERS)?;
            let mut out = Vec::new();
            for entry in table.iter()? {
                let (key, value) = entry?;
                out.push(S_PROVIDERS.open(rx.keys, &[key.value()], value.value())?);
            }
            Ok(out)
        })
    }

    /// The provider called `name`.
    ///
    /// # Errors
    /// As [`Store::providers`].
    pub fn provider(&self, name: &str) -> Result<Option<ProviderRecord>, StoreError> {
        self.read(|rx| {
            let table = rx.txn.open_table(PROVIDERS)?;
            let value = table.get(name)?;
            value
                .map(|v| S_PROVIDERS.open(rx.keys, &[name], v.value()))
                .transpose()
        })
    }

    /// Creates a provider with its initial policy signers (replacing any signer list left under
    /// that name by the legacy API) and appends `audit`, in one transaction.
    ///
    /// # Errors
    /// [`StoreError::AlreadyExists`]; [`StoreError::Invalid`] for a bad name or host, a host
    /// that selects another provider, or an isolated provider without signers; otherwise as
    /// [`Store::providers`].
    pub fn create_provider(
        &self,
        record: &ProviderRecord,
        initial_signers_der: &[Vec<u8>],
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        validate(record)?;
        if record.trust_model == TrustModel::Isolated && initial_signers_der.is_empty() {
            return Err(invalid(
                "an isolated provider needs at least one policy signer certificate".to_owned(),
            ));
        }
        let mut signers: Vec<Vec<u8>> = Vec::with_capacity(initial_signers_der.len());
        for der in initial_signers_der {
            if !signers.contains(der) {
                signers.push(der.clone());
            }
        }
        self.write(|tx| {
            if read_provider(tx, &record.name)?.is_some() {
                return Err(StoreError::AlreadyExists {
                    what: format!("provider {:?}", record.name),
                });
            }
            check_hosts_free(tx, record)?;
            write_provider(tx, record)?;
            if !signers.is_empty() {
                policies::write_signers(tx, &record.name, signers)?;
            }
            tx.append_audit(audit)?;
            Ok(())
        })
    }

    /// Changes a provider's trust model, hosts and token lifetime (its name and creation time
    /// stay) and appends `audit`, in one transaction.
    ///
    /// # Errors
    /// [`StoreError::NotFound`]; [`StoreError::Invalid`] as for [`Store::create_provider`]
    /// (switching to isolated needs a signer already in place); otherwise as
    /// [`Store::providers`].
    pub fn update_provider(
        &self,
        record: &ProviderRecord,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        validate(record)?;
        self.write(|tx| {
            let Some(existing) = read_provider(tx, &record.name)? else {
                return Err(not_found(&record.name));
            };
            if record.trust_model == TrustModel::Isolated {
                let signers = policies::read_signers(
                    &tx.txn.open_table(POLICY_SIGNERS)?,
                    tx.keys,
                    &record.name,
                )?;
                if signers.is_empty() {
                    return Err(invalid(
                        "an isolated provider needs at least one policy signer certificate"
                            .to_owned(),
                    ));
                }
            }
            check_hosts_free(tx, record)?;
            let updated = ProviderRecord {
                created_at: existing.created_at,
                ..record.clone()
            };
            write_provider(tx, &updated)?;
            tx.append_audit(audit)?;
            Ok(())
        })
    }

    /// Deletes a provider with its policies, policy versions, policy signers and signing keys,
    /// and appends `audit`, all in one transaction. Its audit entries stay.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] (nothing written); otherwise as [`Store::providers`].
    pub fn delete_provider(&self, name: &str, audit: &AuditEvent) -> Result<(), StoreError> {
        self.write(|tx| {
            if tx.txn.open_table(PROVIDERS)?.remove(name)?.is_none() {
                return Err(not_found(name));
            }
            {
                let mut table = tx.txn.open_table(POLICIES)?;
                let keys = collect_keys(
                    table.range((name, "")..)?,
                    |(p, _)| p == name,
                    |(_, t)| t.to_owned(),
                )?;
                for ty in keys {
                    table.remove((name, ty.as_str()))?;
                }
            }
            {
                let mut table = tx.txn.open_table(POLICY_VERSIONS)?;
                let keys = collect_keys(
                    table.range((name, "", 0)..)?,
                    |(p, _, _)| p == name,
                    |(_, t, v)| (t.to_owned(), v),
                )?;
                for (ty, version) in keys {
                    table.remove((name, ty.as_str(), version))?;
                }
            }
            {
                let mut table = tx.txn.open_table(SIGNING_KEYS)?;
                let keys = collect_keys(
                    table.range((name, "")..)?,
                    |(p, _)| p == name,
                    |(_, id)| id.to_owned(),
                )?;
                for id in keys {
                    table.remove((name, id.as_str()))?;
                }
            }
            tx.txn.open_table(POLICY_SIGNERS)?.remove(name)?;
            tx.append_audit(audit)?;
            Ok(())
        })
    }

    /// Creates the `default` provider (AAD trust model, no hosts, the service's token lifetime)
    /// unless it exists, and returns it. The server calls this at start. Its creation time is
    /// the one timestamp the store takes from the system clock: it is informational, and the
    /// call has no time argument.
    ///
    /// # Errors
    /// As [`Store::providers`].
    pub fn ensure_default_provider(&self) -> Result<ProviderRecord, StoreError> {
        if let Some(existing) = self.provider(DEFAULT_PROVIDER)? {
            return Ok(existing);
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let record = ProviderRecord {
            name: DEFAULT_PROVIDER.to_owned(),
            trust_model: TrustModel::Aad,
            token_lifetime_secs: None,
            hosts: Vec::new(),
            created_at: now,
        };
        self.write(|tx| {
            // Another thread may have won the race since the read above.
            if let Some(existing) = read_provider(tx, DEFAULT_PROVIDER)? {
                return Ok(existing);
            }
            write_provider(tx, &record)?;
            Ok(record.clone())
        })
    }
}

/// Keys of the entries at the start of `range` that satisfy `belongs`, converted by `own`:
/// collected first because redb does not allow removing while iterating.
fn collect_keys<'a, K, O>(
    range: redb::Range<'a, K, &'static [u8]>,
    belongs: impl Fn(K::SelfType<'_>) -> bool,
    own: impl Fn(K::SelfType<'_>) -> O,
) -> Result<Vec<O>, StoreError>
where
    K: redb::Key + 'static,
{
    let mut out = Vec::new();
    for entry in range {
        let (key, _) = entry?;
        if !belongs(key.value()) {
            break;
        }
        out.push(own(key.value()));
    }
    Ok(out)
}
