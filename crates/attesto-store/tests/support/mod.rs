//! Helpers shared by the integration tests: real keys, audit events, raw access to the file,
//! and a scanner for secrets in the data directory.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Result;
use attesto_jose::{RsaBits, SigningCertificateParams, SigningKey};
use attesto_store::{AuditEvent, SigningKeyRecord};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use redb::{Database, TableDefinition};
use rustls_pki_types::UnixTime;

pub const NOW: i64 = 1_751_328_000;

pub fn event(provider: &str, action: &str, ty: Option<&str>, at: i64) -> AuditEvent {
    AuditEvent {
        at,
        actor: "test-admin".to_owned(),
        provider: provider.to_owned(),
        action: action.to_owned(),
        attestation_type: ty.map(str::to_owned),
        jws_sha256: None,
        result: "ok".to_owned(),
    }
}

/// A real RSA-2048 signing key with a self-signed `CN=<issuer>` certificate, as the server makes.
pub fn signing_key(issuer: &str, created_at: i64) -> Result<SigningKeyRecord> {
    let key = SigningKey::generate_rsa(RsaBits::B2048)?;
    let start = u64::try_from(created_at)?;
    let cert_der = attesto_jose::self_signed_certificate(
        &key,
        &SigningCertificateParams {
            issuer: issuer.to_owned(),
            not_before: UnixTime::since_unix_epoch(Duration::from_secs(start)),
            not_after: UnixTime::since_unix_epoch(Duration::from_secs(start + 86_400)),
            extensions: Vec::new(),
        },
    )?;
    let id = attesto_jose::Certificate::from_der(&cert_der)?.maa_key_id();
    Ok(SigningKeyRecord {
        id,
        pkcs8_der: key.pkcs8_der().to_vec(),
        cert_der,
        created_at,
        retired_at: None,
    })
}

/// A fresh P-256 key as PKCS#8 DER and as PEM.
pub fn ec_key_pem() -> Result<(Vec<u8>, String)> {
    let key = SigningKey::generate_ec_p256()?;
    let der = key.pkcs8_der().to_vec();
    Ok((der.clone(), pem("PRIVATE KEY", &der)))
}

pub fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// Every file under `dir`, recursively.
pub fn files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            out.extend(files(&path)?);
        } else {
            out.push(path);
        }
    }
    Ok(out)
}

/// The `(file, needle index)` pairs where a needle occurs in a file under `dir`.
pub fn find_secrets(dir: &Path, needles: &[Vec<u8>]) -> Result<Vec<(PathBuf, usize)>> {
    let mut hits = Vec::new();
    for file in files(dir)? {
        let bytes = std::fs::read(&file)?;
        for (i, needle) in needles.iter().enumerate() {
            if !needle.is_empty() && bytes.windows(needle.len()).any(|w| w == needle.as_slice()) {
                hits.push((file.clone(), i));
            }
        }
    }
    Ok(hits)
}

/// Needles that betray a private key: its DER, the tail of its DER (the private part), its
/// base64 (as a JSON record would hold it) and the PEM marker.
pub fn key_needles(ders: &[&[u8]]) -> Vec<Vec<u8>> {
    let mut needles = vec![b"PRIVATE KEY".to_vec()];
    for der in ders {
        needles.push(der.to_vec());
        needles.push(
            der.get(der.len().saturating_sub(48)..)
                .unwrap_or_default()
                .to_vec(),
        );
        let b64 = STANDARD.encode(der);
        needles.push(
            b64.as_bytes()
                .get(b64.len().saturating_sub(64)..)
                .unwrap_or_default()
                .to_vec(),
        );
    }
    needles
}

/// Reads a raw value behind the store's back (the store must be closed).
pub fn read_raw<K: redb::Key + 'static>(
    dir: &Path,
    table: &str,
    key: K::SelfType<'_>,
) -> Result<Option<Vec<u8>>>
where
    for<'a> K::SelfType<'a>: std::borrow::Borrow<K::SelfType<'a>>,
{
    use redb::ReadableDatabase;
    let db = Database::create(dir.join(attesto_store::DB_FILE_NAME))?;
    let txn = db.begin_read()?;
    let def: TableDefinition<'_, K, &[u8]> = TableDefinition::new(table);
    let table = txn.open_table(def)?;
    Ok(table.get(key)?.map(|v| v.value().to_vec()))
}

/// Writes a raw value behind the store's back (the store must be closed).
pub fn write_raw<K: redb::Key + 'static>(
    dir: &Path,
    table: &str,
    key: K::SelfType<'_>,
    value: &[u8],
) -> Result<()>
where
    for<'a> K::SelfType<'a>: std::borrow::Borrow<K::SelfType<'a>>,
{
    let db = Database::create(dir.join(attesto_store::DB_FILE_NAME))?;
    let txn = db.begin_write()?;
    {
        let def: TableDefinition<'_, K, &[u8]> = TableDefinition::new(table);
        txn.open_table(def)?.insert(key, value)?;
    }
    txn.commit()?;
    Ok(())
}
