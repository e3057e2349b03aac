//! HTTPS out of the box: without operator-supplied material the service creates a local CA and a
//! server certificate for `localhost`/`127.0.0.1` under `<data_dir>/tls`, keeps them across
//! restarts, and renews the server certificate well before it expires. Clients trust
//! `<data_dir>/tls/ca.pem` (e.g. `REQUESTS_CA_BUNDLE` for the Azure Python SDK).

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
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

/// File names under `<data_dir>/tls`.
struct Paths {
    ca: PathBuf,
    ca_key: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

impl Paths {
    fn under(dir: &Path) -> Paths {
        Paths {
            ca: dir.join("ca.pem"),
            ca_key: dir.join("ca-key.pem"),
            cert: dir.join("server.pem"),
            key: dir.join("server-key.pem"),
        }
    }
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

/// Loads the generated CA and server certificate from `dir`, creating or renewing what is
/// missing or about to expire. `hosts` are extra DNS names or IP addresses for the server
/// certificate (from the public URL and listen address).
///
/// # Errors
/// File system failures or certificate generation failures.
pub fn load_or_generate(dir: &Path, hosts: &[String], now: UnixTime) -> Result<TlsMaterial> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let paths = Paths::under(dir);
    let now = OffsetDateTime::from_unix_timestamp(i64::try_from(now.as_secs())?)?;

    let (ca_pem, ca_key_pem) = match (
        std::fs::read_to_string(&paths.ca),
        std::fs::read_to_string(&paths.ca_key),
    ) {
        (Ok(ca), Ok(key)) if still_valid(&ca, now, TimeDuration::ZERO) => (ca, key),
        _ => {
            let (ca, key) = generate_ca(now)?;
            // Key first: a crash between the two writes leaves a key without a CA, which the
            // next start regenerates, never a CA whose key is lost.
            write_atomic(&paths.ca_key, key.as_bytes(), true)?;
            write_atomic(&paths.ca, ca.as_bytes(), false)?;
            // A new CA invalidates the old server certificate.
            let _ = std::fs::remove_file(&paths.cert);
            (ca, key)
        }
    };

    let wanted = server_names(hosts);
    let existing = match (
        std::fs::read_to_string(&paths.cert),
        std::fs::read_to_string(&paths.key),
    ) {
        (Ok(cert), Ok(key)) if still_valid(&cert, now, RENEW_BEFORE) && covers(&cert, &wanted) => {
            Some((cert, key))
        }
        _ => None,
    };
    let (cert_pem, key_pem) = match existing {
        Some(pair) => pair,
        None => {
            let (cert, key) = generate_server(&ca_pem, &ca_key_pem, &wanted, now)?;
            write_atomic(&paths.key, key.as_bytes(), true)?;
            write_atomic(&paths.cert, cert.as_bytes(), false)?;
            (cert, key)
        }
    };
    Ok(TlsMaterial {
        cert_chain_pem: format!("{cert_pem}{ca_pem}"),
        key_pem,
        ca_file: Some(paths.ca),
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
        let dir = std::env::temp_dir().join(format!("attesto-tls-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let t0 = 1_800_000_000;
        let first = load_or_generate(&dir, &[], at(t0))?;
        let again = load_or_generate(&dir, &[], at(t0 + 86_400))?;
        assert_eq!(first.cert_chain_pem, again.cert_chain_pem);
        assert_eq!(first.key_pem, again.key_pem);

        // A new host name or an approaching expiry issues a new server cert under the same CA.
        let named = load_or_generate(&dir, &["attest.example".to_owned()], at(t0 + 86_400))?;
        assert_ne!(named.cert_chain_pem, first.cert_chain_pem);
        let late = load_or_generate(&dir, &["attest.example".to_owned()], at(t0 + 380 * 86_400))?;
        assert_ne!(late.key_pem, named.key_pem);
        let ca = std::fs::read_to_string(dir.join("ca.pem"))?;
        assert!(late.cert_chain_pem.ends_with(&ca));
        let _ = std::fs::remove_dir_all(&dir);
        Ok(())
    }

    #[test]
    fn unspecified_listen_addresses_are_not_names() {
        let names = server_names(&["0.0.0.0".to_owned(), "[::]".to_owned(), "h".to_owned()]);
        assert_eq!(names, ["localhost", "127.0.0.1", "::1", "h"]);
    }
}
