//! Attestation providers (tenants). Each has its own attest URI (the token issuer), signing keys,
//! policies, trust model and policy signers. A request reaches a provider by path prefix
//! (`/providers/{name}/...`), by Host header (a name listed in the provider's `hosts`), or
//! otherwise lands on the `default` provider.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::{Context, Result};
use attesto_jose::{RsaBits, SigningCertificateParams, SigningKey, TokenSigner};
use attesto_store::{ProviderRecord, SigningKeyRecord, Store, TrustModel};
use rustls_pki_types::UnixTime;

use crate::routes::metadata::Metadata;

/// The provider serving requests that name no other.
pub const DEFAULT_PROVIDER: &str = "default";

/// Validity of a generated signing certificate. MAA's clients only match `kid`, but a bounded
/// lifetime is still the honest thing to publish.
const CERT_LIFETIME: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// What a request needs to know about its provider.
#[derive(Debug)]
pub struct ProviderRuntime {
    /// The provider's name.
    pub name: String,
    /// Its attest URI: the `iss` of every token it signs.
    pub issuer: String,
    /// AAD-like or isolated.
    pub trust_model: TrustModel,
    /// Attestation token lifetime.
    pub token_lifetime: Duration,
    /// Signs tokens with the active key.
    pub signer: TokenSigner,
    /// `/certs` (active and not yet pruned retired keys) and OpenID metadata.
    pub metadata: Metadata,
}

/// Providers resolved from the store, cached until changed.
pub struct Providers {
    store: Store,
    cert_quote: Option<crate::SigningCertQuoteProvider>,
    base_issuer: String,
    default_lifetime: Duration,
    cache: RwLock<HashMap<String, Arc<ProviderRuntime>>>,
    hosts: RwLock<HashMap<String, String>>,
}

impl Providers {
    /// Ensures the default provider exists and indexes every provider's host names.
    ///
    /// # Errors
    /// Store failures.
    pub fn load(
        store: Store,
        base_issuer: String,
        default_lifetime: Duration,
        cert_quote: Option<crate::SigningCertQuoteProvider>,
    ) -> Result<Self> {
        store
            .ensure_default_provider()
            .context("creating the default provider")?;
        let providers = Providers {
            store,
            cert_quote,
            base_issuer,
            default_lifetime,
            cache: RwLock::new(HashMap::new()),
            hosts: RwLock::new(HashMap::new()),
        };
        providers.reindex_hosts()?;
        Ok(providers)
    }

    /// Rebuilds the Host-header index.
    ///
    /// # Errors
    /// Store failures.
    pub fn reindex_hosts(&self) -> Result<()> {
        let mut index = HashMap::new();
        for record in self.store.providers().context("listing providers")? {
            for host in &record.hosts {
                index.insert(host.to_ascii_lowercase(), record.name.clone());
            }
        }
        if let Ok(mut hosts) = self.hosts.write() {
            *hosts = index;
        }
        Ok(())
    }

    /// The provider whose `hosts` contain `host` (as sent in the Host header, port included).
    #[must_use]
    pub fn by_host(&self, host: &str) -> Option<String> {
        let hosts = self.hosts.read().ok()?;
        let host = host.to_ascii_lowercase();
        hosts.get(&host).cloned().or_else(|| {
            // Also match a configured name without its port.
            let bare = host.rsplit_once(':').map_or(host.as_str(), |(h, _)| h);
            hosts.get(bare).cloned()
        })
    }

    /// The attest URI of a provider record.
    #[must_use]
    pub fn issuer_for(&self, record: &ProviderRecord) -> String {
        if record.name == DEFAULT_PROVIDER {
            return self.base_issuer.clone();
        }
        match record.hosts.first() {
            Some(host) => {
                let scheme = self
                    .base_issuer
                    .split_once("://")
                    .map_or("https", |(scheme, _)| scheme);
                format!("{scheme}://{host}")
            }
            None => format!("{}/providers/{}", self.base_issuer, record.name),
        }
    }

    /// The runtime of provider `name` if it is already loaded (no store access).
    #[must_use]
    pub fn cached(&self, name: &str) -> Option<Arc<ProviderRuntime>> {
        self.cache.read().ok().and_then(|c| c.get(name).cloned())
    }

    /// The runtime of provider `name`, creating its first signing key if it has none.
    ///
    /// # Errors
    /// `Ok(None)` for an unknown provider; errors for store or key failures.
    pub fn get(&self, name: &str, now: UnixTime) -> Result<Option<Arc<ProviderRuntime>>> {
        if let Some(found) = self.cache.read().ok().and_then(|c| c.get(name).cloned()) {
            return Ok(Some(found));
        }
        let Some(record) = self.store.provider(name).context("reading provider")? else {
            return Ok(None);
        };
        let issuer = self.issuer_for(&record);
        let mut keys = self
            .store
            .signing_keys(name)
            .context("reading signing keys")?;
        if keys.iter().all(|k| k.retired_at.is_some()) {
            let first = new_signing_key(&issuer, now, self.cert_quote.as_ref())?;
            self.store
                .insert_first_signing_key(name, &first)
                .context("storing signing key")?;
            keys = self
                .store
                .signing_keys(name)
                .context("reading signing keys")?;
        }
        let runtime = Arc::new(build_runtime(
            &record,
            issuer,
            &keys,
            self.default_lifetime,
            now,
            self.cert_quote.as_ref(),
        )?);
        if let Ok(mut cache) = self.cache.write() {
            cache.insert(name.to_owned(), Arc::clone(&runtime));
        }
        Ok(Some(runtime))
    }

    /// Names of the providers loaded so far.
    #[must_use]
    pub fn loaded(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .cache
            .read()
            .map(|c| c.keys().cloned().collect())
            .unwrap_or_default();
        names.sort();
        names
    }

    /// Forgets a cached provider (after a change to its record or keys).
    pub fn invalidate(&self, name: &str) {
        if let Ok(mut cache) = self.cache.write() {
            cache.remove(name);
        }
    }
}

/// A new RSA-2048 key with a self-signed certificate `CN=<issuer>`.
///
/// # Errors
/// Key generation or certificate failures.
pub fn new_signing_key(
    issuer: &str,
    now: UnixTime,
    cert_quote: Option<&crate::SigningCertQuoteProvider>,
) -> Result<SigningKeyRecord> {
    let key = SigningKey::generate_rsa(RsaBits::B2048).context("generating signing key")?;
    let cert_der = certificate_for(&key, issuer, now, cert_quote)?;
    let cert = attesto_jose::Certificate::from_der(&cert_der).context("new certificate")?;
    Ok(SigningKeyRecord {
        id: cert.maa_key_id(),
        pkcs8_der: key.pkcs8_der().to_vec(),
        cert_der,
        created_at: i64::try_from(now.as_secs()).unwrap_or(i64::MAX),
        retired_at: None,
    })
}

/// MAA's extension carrying a TEE quote whose report data binds the signing key.
const SGX_QUOTE_EXTENSION: [u64; 9] = [1, 3, 6, 1, 4, 1, 311, 105, 1];

fn certificate_for(
    key: &SigningKey,
    issuer: &str,
    now: UnixTime,
    cert_quote: Option<&crate::SigningCertQuoteProvider>,
) -> Result<Vec<u8>> {
    let start = now.as_secs().saturating_sub(3600);
    let mut extensions = Vec::new();
    if let Some(produce) = cert_quote {
        // report_data[0..32] = SHA-256 of the public key as PEM text with a trailing NUL, as
        // MAA's own certificates do, so relying parties can tie the key to the TEE.
        let spki = key.public_key_spki_der().context("signing key SPKI")?;
        let binding = attesto_jose::cert::public_key_pem_hash(&spki);
        match produce(&binding) {
            // As in MAA's certificates: the extension value is an OCTET STRING holding the quote.
            Some(quote) => extensions.push(attesto_jose::CertificateExtension {
                oid: SGX_QUOTE_EXTENSION.to_vec(),
                value_der: yasna::construct_der(|writer| writer.write_bytes(&quote)),
                critical: false,
            }),
            None => tracing::warn!("no TEE quote available for the signing certificate"),
        }
    }
    let params = SigningCertificateParams {
        issuer: issuer.to_owned(),
        not_before: UnixTime::since_unix_epoch(Duration::from_secs(start)),
        not_after: UnixTime::since_unix_epoch(Duration::from_secs(start) + CERT_LIFETIME),
        extensions,
    };
    attesto_jose::self_signed_certificate(key, &params).context("issuing signing certificate")
}

fn build_runtime(
    record: &ProviderRecord,
    issuer: String,
    keys: &[SigningKeyRecord],
    default_lifetime: Duration,
    now: UnixTime,
    cert_quote: Option<&crate::SigningCertQuoteProvider>,
) -> Result<ProviderRuntime> {
    let active = keys
        .iter()
        .find(|k| k.retired_at.is_none())
        .context("provider has no active signing key")?;
    let signer = signer_for(active, &issuer, now, cert_quote)?;
    let mut all = vec![signer];
    for retired in keys.iter().filter(|k| k.retired_at.is_some()) {
        all.push(signer_for(retired, &issuer, now, cert_quote)?);
    }
    let metadata = Metadata::new(&issuer, all.iter()).context("rendering metadata")?;
    let signer = all.swap_remove(0);
    Ok(ProviderRuntime {
        name: record.name.clone(),
        issuer,
        trust_model: record.trust_model,
        token_lifetime: record
            .token_lifetime_secs
            .map_or(default_lifetime, Duration::from_secs),
        signer,
        metadata,
    })
}

/// A signer for a stored key. If the stored certificate names another issuer (the public URL
/// changed), a certificate for the same key is issued in memory: the `kid` depends on the key
/// only, so `/certs` stays consistent for clients.
fn signer_for(
    record: &SigningKeyRecord,
    issuer: &str,
    now: UnixTime,
    cert_quote: Option<&crate::SigningCertQuoteProvider>,
) -> Result<TokenSigner> {
    let key = SigningKey::from_pkcs8_der(&record.pkcs8_der).context("stored signing key")?;
    let stored =
        attesto_jose::Certificate::from_der(&record.cert_der).context("stored certificate")?;
    let cert_der = if stored.subject() == format!("CN={issuer}") {
        record.cert_der.clone()
    } else {
        tracing::info!(
            old = stored.subject(),
            new = issuer,
            "issuer changed; certifying the same signing key for the new one"
        );
        certificate_for(&key, issuer, now, cert_quote)?
    };
    TokenSigner::new(key, &cert_der, issuer).context("building token signer")
}
