//! The audit log: every administrative change, appended in the transaction that makes it, and
//! exported as a structured log event (`target: "attesto::audit"`) once committed.

use redb::ReadableTable;

use crate::error::StoreError;
use crate::records::{AuditEntry, AuditEvent, AuditQuery};
use crate::schema::{AUDIT, S_AUDIT};
use crate::{Store, Tx};

impl Store {
    /// Appends `event` on its own: for refused changes, which never reach the store otherwise.
    /// Returns its sequence number.
    ///
    /// # Errors
    /// [`StoreError::Database`], or [`StoreError::Integrity`] if the last entry was tampered
    /// with.
    pub fn append_audit(&self, event: &AuditEvent) -> Result<u64, StoreError> {
        self.write(|tx| tx.append_audit(event))
    }

    /// Audit entries matching `query`, newest first.
    ///
    /// # Errors
    /// [`StoreError::Database`]; [`StoreError::Integrity`] / [`StoreError::Corrupt`] if an
    /// entry it reads was modified: a tampered log is reported, not filtered.
    pub fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
        self.read(|rx| {
            let table = rx.txn.open_table(AUDIT)?;
            let mut out = Vec::new();
            if query.limit == 0 {
                return Ok(out);
            }
            for entry in table.iter()?.rev() {
                let (key, value) = entry?;
                let seq = key.value();
                let event: AuditEvent =
                    S_AUDIT.open(rx.keys, &[&seq.to_string()], value.value())?;
                if query
                    .provider
                    .as_ref()
                    .is_some_and(|p| *p != event.provider)
                    || query.since.is_some_and(|since| event.at < since)
                {
                    continue;
                }
                out.push(AuditEntry { seq, event });
                if out.len() >= query.limit {
                    break;
                }
            }
            Ok(out)
        })
    }
}

impl Tx<'_> {
    /// Appends `event` with the next sequence number; it is logged after the commit.
    pub(crate) fn append_audit(&mut self, event: &AuditEvent) -> Result<u64, StoreError> {
        let mut table = self.txn.open_table(AUDIT)?;
        let last = table.last()?.map(|(key, _)| key.value());
        let seq = match last {
            Some(last) => last.checked_add(1).ok_or_else(|| StoreError::Invalid {
                reason: "audit sequence numbers are exhausted".to_owned(),
            })?,
            None => 1,
        };
        let bytes = S_AUDIT.seal(self.keys, &[&seq.to_string()], event)?;
        table.insert(seq, bytes.as_slice())?;
        self.appended.push(AuditEntry {
            seq,
            event: event.clone(),
        });
        Ok(seq)
    }
}

/// Logs committed audit entries as structured events, so they reach the service's log pipeline
/// as well as the database.
pub(crate) fn emit(entries: &[AuditEntry]) {
    for AuditEntry { seq, event } in entries {
        tracing::info!(
            target: "attesto::audit",
            seq = *seq,
            at = event.at,
            actor = %event.actor,
            provider = %event.provider,
            action = %event.action,
            attestation_type = event.attestation_type.as_deref(),
            jws_sha256 = event.jws_sha256.as_deref(),
            result = %event.result,
            "audit"
        );
    }
}
