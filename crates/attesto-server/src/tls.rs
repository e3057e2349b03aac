//! HTTPS out of the box: without operator-supplied material the service creates a local CA and a
//! server certificate for `localhost`/`127.0.0.1`, keeps them (keys encrypted) in the store
//! across restarts, and renews the server certificate well before it expires. Clients trust
//! `<data_dir>/tls/ca.pem` (e.g. `REQUESTS_CA_BUNDLE` for the Azure Python SDK), the only TLS
//! file written in the clear: it holds no key.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use attesto_store::{Store, TlsCa, TlsIdentity};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls_pki_types::UnixTime;
use time::{Duration as TimeDuration, OffsetDateTime};

use crate::fsutil::write_atomic;

/// Renew the generated server certificate when less than this remains.
const RENEW_BEFORE: TimeDuration = TimeDuration::days(30);
const SERVER_CERT_LIFETIME: TimeDuration = TimeDuration::days(397);
const CA_LIFETIME: TimeDuration = TimeDuration::days(3650);

/// The PEM material the listener uses.
#[derive(Debug, Clone)]
pub struct TlsMaterial {
    /// Certificate chain, leaf first.
    pub cert_chain_pem: String,
    /// The server's private key.
    pub key_pem: String,
    /// Where clients find the CA to trust, when the service generated it.
    pub ca_file: Option<PathBuf>,
}

/// Operator-supplied certificate and key.
///
/// # Errors
/// Unreadable files.
pub fn load_configured(cert: &Path, key: &Path) -> Result<TlsMaterial> {
    Ok(TlsMaterial {
        cert_chain_pem: std::fs::read_to_string(cert)
            .with_context(|| format!("reading TLS certificate {}", cert.display()))?,
        key_pem: std::fs::read_to_string(key)
            .with_context(|| format!("reading TLS key {}", key.display()))?,
        ca_file: None,
    })
}

/// Loads the generated CA and server certificate from the store (where the private keys are
/// kept encrypted), creating or renewing what is missing or about to expire, and writes the
/// CA certificate (public) to `ca_file` for clients. `hosts` are extra DNS names or IP
/// addresses for the server certificate (from the public URL and listen address).
///
/// # Errors
/// Store failures, file system failures or certificate generation failures.
pub fn load_or_generate(
    store: &Store,
    ca_file: &Path,
    hosts: &[String],
    now: UnixTime,
) -> Result<TlsMaterial> {
    let now = OffsetDateTime::from_unix_timestamp(i64::try_from(now.as_secs())?)?;
    let wanted = server_names(hosts);
    let ca = match store.tls_ca().context("reading the TLS CA")? {
        Some(ca) if still_valid(&ca.cert_pem, now, TimeDuration::ZERO) => ca,
        _ => {
            let (cert_pem, key_pem) = generate_ca(now)?;
            let ca = TlsCa { cert_pem, key_pem };
            let identity = server_identity(&ca, &wanted, now)?;
            // CA and server certificate change together: a new CA invalidates the old leaf.
            store
                .put_tls(&ca, &identity)
                .context("storing the TLS CA")?;
            ca
        }
    };
    let identity = match store.tls_identity().context("reading the TLS identity")? {
        Some(identity)
            if identity.ca_cert_pem == ca.cert_pem
                && still_valid(&identity.cert_pem, now, RENEW_BEFORE)
                && covers(&identity.cert_pem, &wanted) =>
        {
            identity
        }
        _ => {
            let identity = server_identity(&ca, &wanted, now)?;
            store
                .put_tls_identity(&identity)
                .context("storing the TLS identity")?;
            identity
        }
    };
    if std::fs::read_to_string(ca_file).ok().as_deref() != Some(ca.cert_pem.as_str()) {
        if let Some(dir) = ca_file.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        write_atomic(ca_file, ca.cert_pem.as_bytes(), false)?;
    }
    Ok(TlsMaterial {
        cert_chain_pem: format!("{}{}", identity.cert_pem, ca.cert_pem),
        key_pem: identity.key_pem,
        ca_file: Some(ca_file.to_path_buf()),
    })
}

fn server_identity(ca: &TlsCa, names: &[String], now: OffsetDateTime) -> Result<TlsIdentity> {
    let (cert_pem, key_pem) = generate_server(&ca.cert_pem, &ca.key_pem, names, now)?;
    Ok(TlsIdentity {
        ca_cert_pem: ca.cert_pem.clone(),
        cert_pem,
        key_pem,
    })
}

fn server_names(hosts: &[String]) -> Vec<String> {
    let mut names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    for host in hosts {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let unspecified = host.parse::<IpAddr>().is_ok_and(|ip| ip.is_unspecified());
        if !host.is_empty() && !unspecified && !names.iter().any(|n| n == host) {
            names.push(host.to_owned());
        }
    }
    names
}

fn parse_pem_cert(pem: &str) -> Option<Vec<u8>> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).ok()?;
    Some(pem.contents)
}

fn still_valid(pem: &str, now: OffsetDateTime, margin: TimeDuration) -> bool {
    let Some(der) = parse_pem_cert(pem) else {
        return false;
    };
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(&der) else {
        return false;
    };
    let not_after = cert.validity().not_after.timestamp();
    let not_before = cert.validity().not_before.timestamp();
    let now = now.unix_timestamp();
    not_before <= now && now + margin.whole_seconds() < not_after
}

fn covers(pem: &str, names: &[String]) -> bool {
    let Some(der) = parse_pem_cert(pem) else {
        return false;
    };
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(&der) else {
        return false;
    };
    let Ok(Some(san)) = cert.subject_alternative_name() else {
        return false;
    };
    let present: Vec<String> = san
        .value
        .general_names
        .iter()
        .filter_map(|name| match name {
            x509_parser::extensions::GeneralName::DNSName(dns) => Some((*dns).to_owned()),
            x509_parser::extensions::GeneralName::IPAddress(bytes) => match bytes.len() {
                4 => <[u8; 4]>::try_from(*bytes)
                    .ok()
                    .map(|b| IpAddr::from(b).to_string()),
                16 => <[u8; 16]>::try_from(*bytes)
                    .ok()
                    .map(|b| IpAddr::from(b).to_string()),
                _ => None,
            },
            _ => None,
        })
        .collect();
    names.iter().all(|n| present.iter().any(|p| p == n))
}

fn generate_ca(now: OffsetDateTime) -> Result<(String, String)> {
    let key = KeyPair::generate().context("generating TLS CA key")?;
    let mut params = CertificateParams::default();
    params
        .distinguished_name
        .push(DnType::CommonName, "attesto local TLS CA");
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.not_before = now - TimeDuration::hours(1);
    params.not_after = now + CA_LIFETIME;
    let cert = params.self_signed(&key).context("signing TLS CA")?;
    Ok((cert.pem(), key.serialize_pem()))
}

fn generate_server(
    ca_pem: &str,
    ca_key_pem: &str,
    names: &[String],
    now: OffsetDateTime,
) -> Result<(String, String)> {
    let ca_key = KeyPair::from_pem(ca_key_pem).context("reading TLS CA key")?;
    let issuer = Issuer::from_ca_cert_pem(ca_pem, ca_key).context("reading TLS CA")?;
    let key = KeyPair::generate().context("generating TLS server key")?;
    let mut params = CertificateParams::default();
    params
        .distinguished_name
        .push(DnType::CommonName, "attesto");
    params.subject_alt_names = names
        .iter()
        .map(|name| match name.parse::<IpAddr>() {
            Ok(ip) => Ok(SanType::IpAddress(ip)),
            Err(_) => name
                .clone()
                .try_into()
                .map(SanType::DnsName)
                .with_context(|| format!("invalid host name {name:?}")),
        })
        .collect::<Result<_>>()?;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.not_before = now - TimeDuration::hours(1);
    params.not_after = now + SERVER_CERT_LIFETIME;
    let cert = params
        .signed_by(&key, &issuer)
        .context("signing TLS server certificate")?;
    Ok((cert.pem(), key.serialize_pem()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: u64) -> UnixTime {
        UnixTime::since_unix_epoch(Duration::from_secs(secs))
    }

    #[test]
    fn generates_once_then_reuses_and_renews() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let store = Store::open(&dir.path().join("data"))?;
        let ca_file = dir.path().join("data/tls/ca.pem");
        let t0 = 1_800_000_000;
        let first = load_or_generate(&store, &ca_file, &[], at(t0))?;
        let again = load_or_generate(&store, &ca_file, &[], at(t0 + 86_400))?;
        assert_eq!(first.cert_chain_pem, again.cert_chain_pem);
        assert_eq!(first.key_pem, again.key_pem);

        // A new host name or an approaching expiry issues a new server cert under the same CA.
        let named = load_or_generate(
            &store,
            &ca_file,
            &["attest.example".to_owned()],
            at(t0 + 86_400),
        )?;
        assert_ne!(named.cert_chain_pem, first.cert_chain_pem);
        let late = load_or_generate(
            &store,
            &ca_file,
            &["attest.example".to_owned()],
            at(t0 + 380 * 86_400),
        )?;
        assert_ne!(late.key_pem, named.key_pem);
        let ca = std::fs::read_to_string(&ca_file)?;
        assert!(late.cert_chain_pem.ends_with(&ca));
        // Only the CA certificate is on disk; no key is.
        for entry in std::fs::read_dir(ca_file.parent().context("tls dir")?)? {
            let bytes = std::fs::read(entry?.path())?;
            assert!(!String::from_utf8_lossy(&bytes).contains("PRIVATE KEY"));
        }
        Ok(())
    }

    #[test]
    fn unspecified_listen_addresses_are_not_names() {
        let names = server_names(&["0.0.0.0".to_owned(), "[::]".to_owned(), "h".to_owned()]);
        assert_eq!(names, ["localhost", "127.0.0.1", "::1", "h"]);
    }
}
