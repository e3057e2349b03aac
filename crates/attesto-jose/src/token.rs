//! Issuing MAA-shaped tokens and publishing their keys.
//!
//! MAA clients are strict about the shape: the header is exactly
//! `{"alg":"RS256","jku":"<instance>/certs","kid":"<kid>","typ":"JWT"}` (Gramine checks every
//! member), the signer is found by exact `kid` match in `/certs`, only `x5c[0]` is used, and
//! some clients reject the whole key set if any key is not `kty: RSA`. The .NET sample also
//! requires the signing certificate's issuer DN to be exactly `CN=<iss>`.

use rustls_pki_types::{PrivatePkcs8KeyDer, UnixTime};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::algorithm::Algorithm;
use crate::cert::Certificate;
use crate::error::Error;
use crate::jwk::{Jwk, Jwks};
use crate::sign::{SigningKey, sign_with_header_json};

/// The token header, members in MAA's order.
#[derive(Serialize)]
struct TokenHeader<'a> {
    alg: Algorithm,
    jku: &'a str,
    kid: &'a str,
    typ: &'static str,
}

/// Signs MAA-shaped RS256 tokens with one RSA key and its certificate.
#[derive(Debug)]
pub struct TokenSigner {
    key: SigningKey,
    certificate: Certificate,
    kid: String,
    issuer: String,
    jku: String,
}

/// The `jku` for an instance base URL: `<base>/certs` (one trailing `/` of the base is dropped).
#[must_use]
pub fn jku_for(issuer: &str) -> String {
    format!("{}/certs", issuer.strip_suffix('/').unwrap_or(issuer))
}

impl TokenSigner {
    /// A signer for instance `issuer` (the base URL clients use, e.g.
    /// `https://attest.example:8443`). The kid is [`Certificate::maa_key_id`] of the certificate
    /// and `jku` is [`jku_for`]`(issuer)`.
    ///
    /// # Errors
    /// [`Error::KeyMismatch`] if the key is not RSA (MAA clients verify RSA only),
    /// [`Error::CertificateParse`], [`Error::CertificateKeyMismatch`] if the certificate does not
    /// hold the key's public half.
    pub fn new(key: SigningKey, certificate_der: &[u8], issuer: &str) -> Result<Self, Error> {
        if key.default_algorithm() != Algorithm::Rs256 {
            return Err(Error::KeyMismatch {
                alg: Algorithm::Rs256,
                key: key.kind(),
            });
        }
        let certificate = Certificate::from_der(certificate_der)?;
        if certificate.public_key() != key.public_key() {
            return Err(Error::CertificateKeyMismatch);
        }
        Ok(Self {
            kid: certificate.maa_key_id(),
            jku: jku_for(issuer),
            issuer: issuer.strip_suffix('/').unwrap_or(issuer).to_owned(),
            key,
            certificate,
        })
    }

    /// The key id written in every token header and in `/certs`.
    #[must_use]
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The `jku` written in every token header.
    #[must_use]
    pub fn jku(&self) -> &str {
        &self.jku
    }

    /// The instance base URL, without trailing `/`: the value for the `iss` claim.
    #[must_use]
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The signing certificate.
    #[must_use]
    pub fn certificate(&self) -> &Certificate {
        &self.certificate
    }

    /// The signing key.
    #[must_use]
    pub fn key(&self) -> &SigningKey {
        &self.key
    }

    /// Signs `claims` as an RS256 JWT with the MAA header. The claims are written as given; the
    /// caller adds `iss`, `iat`, `nbf`, `exp`, `jti` and the `x-ms-*` claims.
    ///
    /// # Errors
    /// [`Error::Key`] if signing fails.
    pub fn issue(&self, claims: &Map<String, Value>) -> Result<String, Error> {
        let header = TokenHeader {
            alg: Algorithm::Rs256,
            jku: &self.jku,
            kid: &self.kid,
            typ: "JWT",
        };
        let header_json = serde_json::to_string(&header).map_err(|_| Error::Key {
            what: "serialize token header",
        })?;
        let payload = serde_json::to_vec(claims).map_err(|_| Error::Key {
            what: "serialize claims",
        })?;
        sign_with_header_json(&header_json, Algorithm::Rs256, &payload, &self.key)
    }

    /// This signer's `/certs` entry: `kty: RSA`, `kid`, `x5c` with the certificate, plus `n` and
    /// `e` (MAA clients ignore them; other JOSE libraries use them).
    #[must_use]
    pub fn jwk(&self) -> Jwk {
        let mut jwk = Jwk::from_certificate(&self.certificate);
        jwk.kid = Some(self.kid.clone());
        jwk
    }

    /// The `/certs` document for this signer alone.
    #[must_use]
    pub fn jwks(&self) -> Jwks {
        jwks([self])
    }
}

/// The `/certs` document for several signers (key rotation: the current signer first, then the
/// ones whose tokens may still be in use).
pub fn jwks<'a>(signers: impl IntoIterator<Item = &'a TokenSigner>) -> Jwks {
    Jwks {
        keys: signers.into_iter().map(TokenSigner::jwk).collect(),
    }
}

/// One extra X.509 extension for a signing certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateExtension {
    /// OID arcs, e.g. `[1, 3, 6, 1, 4, 1, 311, 105, 1]` for MAA's embedded SGX quote.
    pub oid: Vec<u64>,
    /// The DER of the extension value (the content of the `extnValue` OCTET STRING).
    pub value_der: Vec<u8>,
    /// Whether the extension is critical.
    pub critical: bool,
}

/// Parameters of a self-signed token signing certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningCertificateParams {
    /// The instance base URL; subject and issuer become `CN=<issuer>`.
    pub issuer: String,
    /// Start of validity.
    pub not_before: UnixTime,
    /// End of validity.
    pub not_after: UnixTime,
    /// Extra extensions, written after the standard ones.
    pub extensions: Vec<CertificateExtension>,
}

fn to_offset_date_time(t: UnixTime) -> Result<time::OffsetDateTime, Error> {
    i64::try_from(t.as_secs())
        .ok()
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .ok_or_else(|| Error::CertificateGeneration {
            reason: format!("time {} is out of range", t.as_secs()),
        })
}

/// Generates a self-signed certificate for `key`, as MAA's own signing certificates are:
/// subject = issuer = `CN=<issuer>` (no trailing `/`), basicConstraints CA=true with path length
/// 0, serial number derived from the public key, SHA-256 signature, plus `params.extensions`.
///
/// # Errors
/// [`Error::CertificateGeneration`] if rcgen refuses the parameters or key.
pub fn self_signed_certificate(
    key: &SigningKey,
    params: &SigningCertificateParams,
) -> Result<Vec<u8>, Error> {
    let generation = |e: rcgen::Error| Error::CertificateGeneration {
        reason: e.to_string(),
    };
    let sign_alg = match key.default_algorithm() {
        Algorithm::Es256 => &rcgen::PKCS_ECDSA_P256_SHA256,
        Algorithm::Es384 => &rcgen::PKCS_ECDSA_P384_SHA384,
        _ => &rcgen::PKCS_RSA_SHA256,
    };
    let pkcs8 = PrivatePkcs8KeyDer::from(key.pkcs8_der());
    let key_pair =
        rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&pkcs8, sign_alg).map_err(generation)?;

    let issuer = params.issuer.strip_suffix('/').unwrap_or(&params.issuer);
    let mut cert_params = rcgen::CertificateParams::default();
    let mut name = rcgen::DistinguishedName::new();
    name.push(rcgen::DnType::CommonName, issuer);
    cert_params.distinguished_name = name;
    cert_params.not_before = to_offset_date_time(params.not_before)?;
    cert_params.not_after = to_offset_date_time(params.not_after)?;
    cert_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
    // A stable serial: the first 16 bytes of the key's MAA hash, top bit cleared so the
    // INTEGER stays positive.
    let spki = key.public_key_spki_der()?;
    let mut serial = crate::cert::public_key_pem_hash(&spki)
        .get(..16)
        .map(<[u8]>::to_vec)
        .unwrap_or_default();
    if let Some(first) = serial.first_mut() {
        *first &= 0x7f;
    }
    cert_params.serial_number = Some(rcgen::SerialNumber::from_slice(&serial));
    cert_params.custom_extensions = params
        .extensions
        .iter()
        .map(|ext| {
            let mut custom =
                rcgen::CustomExtension::from_oid_content(&ext.oid, ext.value_der.clone());
            custom.set_criticality(ext.critical);
            custom
        })
        .collect();
    let cert = cert_params.self_signed(&key_pair).map_err(generation)?;
    Ok(cert.der().to_vec())
}
