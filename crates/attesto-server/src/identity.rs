//! The token-signing identity: an RSA-2048 key and a self-signed certificate whose subject and
//! issuer are `CN=<attest URI>`, as MAA's are. Created once, persisted in the store, reused on
//! every start so relying parties' cached `/certs` stay valid.

use std::time::Duration;

use anyhow::{Context, Result};
use attesto_jose::{RsaBits, SigningCertificateParams, SigningKey, TokenSigner};
use attesto_store::{SigningIdentity, Store};
use rustls_pki_types::UnixTime;

/// Validity of a generated signing certificate. Relying parties do not check it (MAA's clients
/// only match `kid`), but a bounded lifetime is still the honest thing to publish.
const CERT_LIFETIME: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// Loads the stored identity or creates it; returns a signer for `issuer`.
///
/// If the stored certificate names another issuer (the public URL changed), a new certificate
/// for the same key is issued in memory: the `kid` depends on the key only, so tokens and
/// `/certs` stay consistent for clients.
///
/// # Errors
/// Store failures or an unusable stored key.
pub fn load_or_create(store: &Store, issuer: &str, now: UnixTime) -> Result<TokenSigner> {
    let identity = match store
        .signing_identity()
        .context("reading signing identity")?
    {
        Some(identity) => identity,
        None => {
            let key =
                SigningKey::generate_rsa(RsaBits::B2048).context("generating token signing key")?;
            let cert_der = certificate_for(&key, issuer, now)?;
            let candidate = SigningIdentity {
                pkcs8_der: key.pkcs8_der().to_vec(),
                cert_der,
                created_at: i64::try_from(now.as_secs()).unwrap_or(i64::MAX),
            };
            // Another process racing on the same data dir may win; use whatever is stored.
            store
                .insert_signing_identity_if_absent(&candidate)
                .context("storing signing identity")?
        }
    };
    let key = SigningKey::from_pkcs8_der(&identity.pkcs8_der).context("stored signing key")?;
    let stored = attesto_jose::Certificate::from_der(&identity.cert_der)
        .context("stored signing certificate")?;
    let cert_der = if stored.subject() == format!("CN={issuer}") {
        identity.cert_der
    } else {
        tracing::info!(
            old = stored.subject(),
            new = issuer,
            "public URL changed; issuing a signing certificate for it with the same key"
        );
        certificate_for(&key, issuer, now)?
    };
    TokenSigner::new(key, &cert_der, issuer).context("building token signer")
}

fn certificate_for(key: &SigningKey, issuer: &str, now: UnixTime) -> Result<Vec<u8>> {
    let start = now.as_secs().saturating_sub(3600);
    let params = SigningCertificateParams {
        issuer: issuer.to_owned(),
        not_before: UnixTime::since_unix_epoch(Duration::from_secs(start)),
        not_after: UnixTime::since_unix_epoch(Duration::from_secs(start) + CERT_LIFETIME),
        extensions: Vec::new(),
    };
    attesto_jose::self_signed_certificate(key, &params).context("issuing signing certificate")
}
