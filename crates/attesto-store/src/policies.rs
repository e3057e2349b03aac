//! Policies, their version history and the policy signer lists. Every change appends a
//! [`PolicyVersion`] in the transaction that makes it, and the audited variants also append their
//! [`AuditEvent`] there, so history, audit log and state cannot disagree after a crash.

use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use redb::ReadableTable;

use crate::error::StoreError;
use crate::kek::Keys;
use crate::records::{
    AuditEvent, PolicyAction, PolicyVersion, RemoveSigner, SignerList, StoredPolicy,
};
use crate::schema::{
    POLICIES, POLICY_SIGNERS, POLICY_VERSIONS, S_POLICIES, S_POLICY_SIGNERS, S_POLICY_VERSIONS,
};
use crate::{Store, Tx};

impl Store {
    /// Sets (or replaces) a policy and appends its version and `audit` in one transaction.
    /// Returns the new version number. A refused upload never reaches this call: record it with
    /// [`Store::append_audit`].
    ///
    /// # Errors
    /// As [`Store::policy`].
    pub fn put_policy_audited(
        &self,
        provider: &str,
        attestation_type: &str,
        policy: &StoredPolicy,
        audit: &AuditEvent,
    ) -> Result<u64, StoreError> {
        self.write(|tx| {
            let version = set_in(
                tx,
                provider,
                attestation_type,
                policy,
                Some(&audit.actor),
                None,
            )?;
            tx.append_audit(audit)?;
            Ok(version)
        })
    }

    /// Removes a policy (the default applies again) and appends `audit`, in one transaction;
    /// a reset version is appended if there was a policy. `true` if there was one; the audit
    /// event is written either way (MAA answers a reset of the default as a success too).
    ///
    /// # Errors
    /// As [`Store::policy`].
    pub fn reset_policy_audited(
        &self,
        provider: &str,
        attestation_type: &str,
        audit: &AuditEvent,
    ) -> Result<bool, StoreError> {
        self.write(|tx| {
            let removed = reset_in(
                tx,
                provider,
                attestation_type,
                audit.at,
                Some(&audit.actor),
                None,
            )?;
            tx.append_audit(audit)?;
            Ok(removed)
        })
    }

    /// The history of a policy, oldest first. Empty if it was never set.
    ///
    /// # Errors
    /// As [`Store::policy`].
    pub fn policy_versions(
        &self,
        provider: &str,
        attestation_type: &str,
    ) -> Result<Vec<PolicyVersion>, StoreError> {
        self.read(|rx| {
            let table = rx.txn.open_table(POLICY_VERSIONS)?;
            let mut out = Vec::new();
            for entry in table.range((provider, attestation_type, 0)..)? {
                let (key, value) = entry?;
                let (p, t, v) = key.value();
                if p != provider || t != attestation_type {
                    break;
                }
                out.push(S_POLICY_VERSIONS.open(
                    rx.keys,
                    &[p, t, &v.to_string()],
                    value.value(),
                )?);
            }
            Ok(out)
        })
    }

    /// One version of a policy.
    ///
    /// # Errors
    /// As [`Store::policy`].
    pub fn policy_version(
        &self,
        provider: &str,
        attestation_type: &str,
        version: u64,
    ) -> Result<Option<PolicyVersion>, StoreError> {
        self.read(|rx| {
            let table = rx.txn.open_table(POLICY_VERSIONS)?;
            let value = table.get((provider, attestation_type, version))?;
            value
                .map(|v| {
                    S_POLICY_VERSIONS.open(
                        rx.keys,
                        &[provider, attestation_type, &version.to_string()],
                        v.value(),
                    )
                })
                .transpose()
        })
    }

    /// Makes version `version` current again: its policy is set (or, for a reset version, the
    /// policy is removed), as a new version with `rollback_of = Some(version)`, and `audit` is
    /// appended, in one transaction. If `audit.jws_sha256` is `None` it is filled with the
    /// base64url SHA-256 of the restored JWS. Returns the new version number.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] for an unknown version; otherwise as [`Store::policy`].
    pub fn rollback_policy(
        &self,
        provider: &str,
        attestation_type: &str,
        version: u64,
        audit: &AuditEvent,
    ) -> Result<u64, StoreError> {
        self.write(|tx| {
            let parts_version = version.to_string();
            let target: PolicyVersion = {
                let table = tx.txn.open_table(POLICY_VERSIONS)?;
                let value = table.get((provider, attestation_type, version))?;
                match value {
                    Some(v) => S_POLICY_VERSIONS.open(
                        tx.keys,
                        &[provider, attestation_type, &parts_version],
                        v.value(),
                    )?,
                    None => {
                        return Err(StoreError::NotFound {
                            what: format!(
                                "version {version} of the {attestation_type} policy of provider \
                                 {provider:?}"
                            ),
                        });
                    }
                }
            };
            let mut event = audit.clone();
            let new_version = match target.action {
                PolicyAction::Set => {
                    if event.jws_sha256.is_none() {
                        event.jws_sha256 = Some(jws_sha256(&target.jws));
                    }
                    let policy = StoredPolicy {
                        jws: target.jws,
                        text: target.text,
                        signer_cert_der: target.signer_cert_der,
                        updated_at: audit.at,
                    };
                    set_in(
                        tx,
                        provider,
                        attestation_type,
                        &policy,
                        Some(&audit.actor),
                        Some(version),
                    )?
                }
                PolicyAction::Reset => {
                    tx.txn
                        .open_table(POLICIES)?
                        .remove((provider, attestation_type))?;
                    append_version(
                        tx,
                        provider,
                        attestation_type,
                        PolicyVersion {
                            version: 0,
                            jws: String::new(),
                            text: String::new(),
                            signer_cert_der: None,
                            at: audit.at,
                            action: PolicyAction::Reset,
                            actor: Some(audit.actor.clone()),
                            rollback_of: Some(version),
                        },
                    )?
                }
            };
            tx.append_audit(&event)?;
            Ok(new_version)
        })
    }

    /// Appends a policy-management certificate and `audit` in one transaction; `false` if the
    /// same DER is already listed (the event is still written: the request was accepted).
    ///
    /// # Errors
    /// As [`Store::add_policy_signer`].
    pub fn add_policy_signer_audited(
        &self,
        provider: &str,
        cert_der: &[u8],
        audit: &AuditEvent,
    ) -> Result<bool, StoreError> {
        self.write(|tx| {
            let added = add_signer_in(tx, provider, cert_der)?;
            tx.append_audit(audit)?;
            Ok(added)
        })
    }

    /// Removes a policy-management certificate and appends `audit` in one transaction. When the
    /// removal is refused ([`RemoveSigner::LastOneRefused`]) nothing at all is written, so the
    /// caller records the denial with [`Store::append_audit`]; for [`RemoveSigner::Absent`] the
    /// event is written as given.
    ///
    /// # Errors
    /// As [`Store::add_policy_signer`].
    pub fn remove_policy_signer_audited(
        &self,
        provider: &str,
        cert_der: &[u8],
        keep_last: bool,
        audit: &AuditEvent,
    ) -> Result<RemoveSigner, StoreError> {
        self.write(|tx| {
            let outcome = remove_signer_in(tx, provider, cert_der, keep_last)?;
            if outcome != RemoveSigner::LastOneRefused {
                tx.append_audit(audit)?;
            }
            Ok(outcome)
        })
    }
}

/// base64url (no padding) SHA-256 of a JWS: MAA's `x-ms-policy-token-hash`.
pub(crate) fn jws_sha256(jws: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, jws.as_bytes()))
}

/// Sets a policy and appends its version; returns the version number.
pub(crate) fn set_in(
    tx: &mut Tx<'_>,
    provider: &str,
    attestation_type: &str,
    policy: &StoredPolicy,
    actor: Option<&str>,
    rollback_of: Option<u64>,
) -> Result<u64, StoreError> {
    let bytes = S_POLICIES.seal(tx.keys, &[provider, attestation_type], policy)?;
    tx.txn
        .open_table(POLICIES)?
        .insert((provider, attestation_type), bytes.as_slice())?;
    append_version(
        tx,
        provider,
        attestation_type,
        PolicyVersion {
            version: 0,
            jws: policy.jws.clone(),
            text: policy.text.clone(),
            signer_cert_der: policy.signer_cert_der.clone(),
            at: policy.updated_at,
            action: PolicyAction::Set,
            actor: actor.map(str::to_owned),
            rollback_of,
        },
    )
}

/// Removes a policy; if there was one, appends a reset version. `true` if there was one.
pub(crate) fn reset_in(
    tx: &mut Tx<'_>,
    provider: &str,
    attestation_type: &str,
    at: i64,
    actor: Option<&str>,
    rollback_of: Option<u64>,
) -> Result<bool, StoreError> {
    let removed = tx
        .txn
        .open_table(POLICIES)?
        .remove((provider, attestation_type))?
        .is_some();
    if removed {
        append_version(
            tx,
            provider,
            attestation_type,
            PolicyVersion {
                version: 0,
                jws: String::new(),
                text: String::new(),
                signer_cert_der: None,
                at,
                action: PolicyAction::Reset,
                actor: actor.map(str::to_owned),
                rollback_of,
            },
        )?;
    }
    Ok(removed)
}

/// Appends `record` as the next version (its `version` field is set here).
fn append_version(
    tx: &mut Tx<'_>,
    provider: &str,
    attestation_type: &str,
    mut record: PolicyVersion,
) -> Result<u64, StoreError> {
    let mut table = tx.txn.open_table(POLICY_VERSIONS)?;
    let last = table
        .range((provider, attestation_type, 0)..=(provider, attestation_type, u64::MAX))?
        .next_back()
        .transpose()?
        .map(|(key, _)| key.value().2);
    let version = match last {
        Some(last) => last.checked_add(1).ok_or_else(|| StoreError::Invalid {
            reason: "policy version numbers are exhausted".to_owned(),
        })?,
        None => 1,
    };
    record.version = version;
    let bytes = S_POLICY_VERSIONS.seal(
        tx.keys,
        &[provider, attestation_type, &version.to_string()],
        &record,
    )?;
    table.insert((provider, attestation_type, version), bytes.as_slice())?;
    Ok(version)
}

/// The signer list of `provider`, checked.
pub(crate) fn read_signers(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    keys: &Keys,
    provider: &str,
) -> Result<Vec<Vec<u8>>, StoreError> {
    let value = table.get(provider)?;
    let list: Option<SignerList> = value
        .map(|v| S_POLICY_SIGNERS.open(keys, &[provider], v.value()))
        .transpose()?;
    Ok(list.map(|l| l.certs).unwrap_or_default())
}

/// Replaces the signer list of `provider`; an empty list removes the record.
pub(crate) fn write_signers(
    tx: &Tx<'_>,
    provider: &str,
    certs: Vec<Vec<u8>>,
) -> Result<(), StoreError> {
    let mut table = tx.txn.open_table(POLICY_SIGNERS)?;
    if certs.is_empty() {
        table.remove(provider)?;
    } else {
        let bytes = S_POLICY_SIGNERS.seal(tx.keys, &[provider], &SignerList { certs })?;
        table.insert(provider, bytes.as_slice())?;
    }
    Ok(())
}

pub(crate) fn add_signer_in(
    tx: &Tx<'_>,
    provider: &str,
    cert_der: &[u8],
) -> Result<bool, StoreError> {
    let mut certs = read_signers(&tx.txn.open_table(POLICY_SIGNERS)?, tx.keys, provider)?;
    if certs.iter().any(|c| c == cert_der) {
        return Ok(false);
    }
    certs.push(cert_der.to_vec());
    write_signers(tx, provider, certs)?;
    Ok(true)
}

pub(crate) fn remove_signer_in(
    tx: &Tx<'_>,
    provider: &str,
    cert_der: &[u8],
    keep_last: bool,
) -> Result<RemoveSigner, StoreError> {
    let mut certs = read_signers(&tx.txn.open_table(POLICY_SIGNERS)?, tx.keys, provider)?;
    let Some(index) = certs.iter().position(|c| c == cert_der) else {
        return Ok(RemoveSigner::Absent);
    };
    if keep_last && certs.len() == 1 {
        return Ok(RemoveSigner::LastOneRefused);
    }
    certs.remove(index);
    write_signers(tx, provider, certs)?;
    Ok(RemoveSigner::Removed)
}
