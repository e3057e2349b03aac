//! Audit events are exported as structured log events after their transaction commits, and
//! failed writes export nothing. In its own test binary: tracing's per-callsite interest cache
//! is process-wide, and tests running in parallel with other subscribers make it flaky.

pub mod support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use anyhow::Result;
use attesto_store::{Store, StoredPolicy, audit_action};
use support::{NOW, event};

fn policy(n: i64) -> StoredPolicy {
    StoredPolicy {
        jws: format!("eyJhbGciOiJub25lIn0.{n}."),
        text: format!("version=1.0; authorizationrules{{=>permit();}}; // {n}"),
        signer_cert_der: None,
        updated_at: NOW + n,
    }
}

#[derive(Clone, Default)]
/// Captures the fields of `attesto::audit` events.
struct Capture(Arc<Mutex<Vec<BTreeMap<String, String>>>>);

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        if event.metadata().target() != "attesto::audit" {
            return;
        }
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        if let Ok(mut events) = self.0.lock() {
            events.push(fields);
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[test]
fn committed_audit_events_are_logged_and_failed_writes_are_not() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path())?;
    let capture = Capture::default();
    tracing::subscriber::with_default(capture.clone(), || -> Result<()> {
        let mut audit = event("p", audit_action::POLICY_SET, Some("SgxEnclave"), NOW);
        audit.jws_sha256 = Some("hash".to_owned());
        store.put_policy_audited("p", "SgxEnclave", &policy(1), &audit)?;
        // Refused before anything is written: no log event either.
        let rollback = event("p", audit_action::POLICY_ROLLBACK, Some("SgxEnclave"), NOW);
        assert!(
            store
                .rollback_policy("p", "SgxEnclave", 7, &rollback)
                .is_err()
        );
        let mut denied = event("p", audit_action::SIGNER_ADD, None, NOW + 1);
        denied.result = "denied: not signed".to_owned();
        store.append_audit(&denied)?;
        Ok(())
    })?;
    let events = capture
        .0
        .lock()
        .map_err(|_| anyhow::anyhow!("poisoned"))?
        .clone();
    assert_eq!(events.len(), 2, "{events:?}");
    let first = events.first().ok_or_else(|| anyhow::anyhow!("none"))?;
    let field = |name: &str| first.get(name).map(String::as_str);
    assert_eq!(field("seq"), Some("1"));
    assert_eq!(field("action"), Some("policy.set"));
    assert_eq!(field("provider"), Some("p"));
    assert_eq!(field("actor"), Some("test-admin"));
    assert_eq!(field("attestation_type"), Some("SgxEnclave"));
    assert_eq!(field("jws_sha256"), Some("hash"));
    assert_eq!(field("result"), Some("ok"));
    assert_eq!(field("at"), Some(NOW.to_string().as_str()));
    let second = events.get(1).ok_or_else(|| anyhow::anyhow!("none"))?;
    assert_eq!(
        second.get("result").map(String::as_str),
        Some("denied: not signed")
    );
    assert_eq!(second.get("attestation_type"), None);
    Ok(())
}
