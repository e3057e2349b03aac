//! Shared helpers for the integration tests: fixture paths, fixed times, keys and signers.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{Context as _, Result};
use attesto_jose::{
    RsaBits, SigningCertificateParams, SigningKey, TokenSigner, self_signed_certificate,
};
use rustls_pki_types::UnixTime;

/// Path of a file under the repository's `testdata/`.
pub fn testdata(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(relative)
}

/// The exact bytes of a fixture.
pub fn read_bytes(relative: &str) -> Result<Vec<u8>> {
    let path = testdata(relative);
    std::fs::read(&path).with_context(|| format!("reading {}", path.display()))
}

/// A fixture as UTF-8 text, exactly as stored.
pub fn read_text(relative: &str) -> Result<String> {
    Ok(String::from_utf8(read_bytes(relative)?)?)
}

/// A fixed verification time.
pub fn at(unix_secs: u64) -> UnixTime {
    UnixTime::since_unix_epoch(Duration::from_secs(unix_secs))
}

/// 2024-01-01T00:00:00Z.
pub const NOW: u64 = 1_704_067_200;

/// The instance URL the tests issue tokens for.
pub const ISSUER: &str = "https://attesto.test:8443";

/// One RSA-2048 PKCS#8 key generated once per test binary (generation is the slow part).
pub fn rsa_pkcs8() -> &'static [u8] {
    static KEY: OnceLock<Vec<u8>> = OnceLock::new();
    KEY.get_or_init(|| {
        SigningKey::generate_rsa(RsaBits::B2048)
            .map(|k| k.pkcs8_der().to_vec())
            .unwrap_or_default()
    })
}

/// The shared RSA key.
pub fn rsa_key() -> Result<SigningKey> {
    Ok(SigningKey::from_pkcs8_der(rsa_pkcs8())?)
}

/// A self-signed signing certificate for `key`, valid one year around [`NOW`].
pub fn signing_cert(key: &SigningKey, issuer: &str) -> Result<Vec<u8>> {
    Ok(self_signed_certificate(
        key,
        &SigningCertificateParams {
            issuer: issuer.to_owned(),
            not_before: at(NOW - 86_400),
            not_after: at(NOW + 365 * 86_400),
            extensions: Vec::new(),
        },
    )?)
}

/// A token signer for [`ISSUER`] using the shared RSA key.
pub fn token_signer() -> Result<TokenSigner> {
    let key = rsa_key()?;
    let cert = signing_cert(&key, ISSUER)?;
    Ok(TokenSigner::new(key, &cert, ISSUER)?)
}

/// Rebuilds a compact JWS from its three encoded parts.
pub fn join(parts: [&str; 3]) -> String {
    parts.join(".")
}

/// Splits a compact JWS into its three encoded parts.
pub fn split(token: &str) -> Result<[String; 3]> {
    let parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    parts
        .try_into()
        .map_err(|p: Vec<String>| anyhow::anyhow!("{} parts", p.len()))
}
