//! Who may administer providers. Attest endpoints never authenticate (clients send bearer
//! tokens anyway; they are ignored there). Administrative calls (policies, policy signers)
//! accept either:
//! - a bearer JWT from a configured OpenID Connect issuer, validated against its JWKS
//!   (signature, `iss`, `aud`, `exp`/`nbf`) and required to carry the admin role; or
//! - the admin token the embedded default generates at first start (printed once; only its
//!   SHA-256 is kept, in `<data_dir>/admin-token.sha256`).

use std::path::Path;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use attesto_jose::{Jwks, Unsecured, ValidationOptions};
use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::digest::{SHA256, digest};
use axum::http::{HeaderMap, StatusCode, header};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rustls_pki_types::UnixTime;
use serde::{Deserialize, Serialize};

use crate::error::{ApiError, code};
use crate::fsutil::write_atomic;

const ADMIN_TOKEN_FILE: &str = "admin-token.sha256";
const ADMIN_TOKEN_PREFIX: &str = "attesto-admin-";
/// How long a fetched OIDC key set is reused before it is fetched again.
const JWKS_TTL: Duration = Duration::from_secs(600);

/// OpenID Connect settings for administrative callers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminConfig {
    /// Issuer URL (`iss`); its `/.well-known/openid-configuration` names the JWKS.
    pub oidc_issuer: Option<String>,
    /// Required audience (`aud`).
    pub oidc_audience: Option<String>,
    /// The claim holding roles (default `roles`).
    pub oidc_role_claim: Option<String>,
    /// The role an administrator must have (default `Attestation.Admin`).
    pub oidc_required_role: Option<String>,
    /// JWKS URL, if the issuer publishes no discovery document.
    pub oidc_jwks_url: Option<String>,
    /// Accept the generated admin token (default true).
    pub admin_token: Option<bool>,
}

/// An authenticated administrator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// For the audit log: `admin-token` or `oidc:<sub>`.
    pub actor: String,
}

/// Checks administrative credentials.
pub struct Authenticator {
    admin_token_hash: Option<[u8; 32]>,
    oidc: Option<Oidc>,
}

struct Oidc {
    issuer: String,
    audience: String,
    role_claim: String,
    required_role: String,
    jwks_url: Option<String>,
    client: reqwest::Client,
    jwks: RwLock<Option<(Jwks, Instant)>>,
}

impl Authenticator {
    /// Loads the admin token hash (generating the token on first start: the plaintext is
    /// returned once, for the operator) and the OIDC settings.
    ///
    /// # Errors
    /// File system failures or an invalid OIDC configuration.
    pub fn load(data_dir: &Path, config: &AdminConfig) -> Result<(Self, Option<String>)> {
        let mut first_token = None;
        let admin_token_hash = if config.admin_token.unwrap_or(true) {
            let path = data_dir.join(ADMIN_TOKEN_FILE);
            match std::fs::read_to_string(&path) {
                Ok(text) => {
                    let bytes = hex::decode(text.trim()).context("admin token hash file")?;
                    Some(<[u8; 32]>::try_from(bytes.as_slice()).context("admin token hash")?)
                }
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                    let mut secret = [0u8; 32];
                    aws_lc_rs::rand::fill(&mut secret)
                        .map_err(|_| anyhow::anyhow!("the system RNG failed"))?;
                    let token = format!("{ADMIN_TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(secret));
                    let hash = sha256(token.as_bytes());
                    write_atomic(&path, hex::encode(hash).as_bytes(), true)?;
                    first_token = Some(token);
                    Some(hash)
                }
                Err(error) => return Err(error).context("reading the admin token hash"),
            }
        } else {
            None
        };
        let oidc = match &config.oidc_issuer {
            None => None,
            Some(issuer) => Some(Oidc {
                issuer: issuer.trim_end_matches('/').to_owned(),
                audience: config
                    .oidc_audience
                    .clone()
                    .context("admin.oidc_audience is required with admin.oidc_issuer")?,
                role_claim: config
                    .oidc_role_claim
                    .clone()
                    .unwrap_or_else(|| "roles".to_owned()),
                required_role: config
                    .oidc_required_role
                    .clone()
                    .unwrap_or_else(|| "Attestation.Admin".to_owned()),
                jwks_url: config.oidc_jwks_url.clone(),
                client: reqwest::Client::builder()
                    .timeout(Duration::from_secs(10))
                    .build()
                    .context("OIDC HTTP client")?,
                jwks: RwLock::new(None),
            }),
        };
        Ok((
            Authenticator {
                admin_token_hash,
                oidc,
            },
            first_token,
        ))
    }

    /// The caller, or 401 in MAA's error shape.
    ///
    /// # Errors
    /// 401 `Unauthorized` for a missing, unknown or invalid credential.
    pub async fn authenticate(
        &self,
        headers: &HeaderMap,
        now: UnixTime,
    ) -> Result<Caller, ApiError> {
        let unauthorized =
            |message: &str| ApiError::new(StatusCode::UNAUTHORIZED, code::UNAUTHORIZED, message);
        let value = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                unauthorized("administrative calls need an Authorization: Bearer credential")
            })?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .map(str::trim)
            .ok_or_else(|| unauthorized("the Authorization header must use the Bearer scheme"))?;
        if token.starts_with(ADMIN_TOKEN_PREFIX) {
            let Some(expected) = &self.admin_token_hash else {
                return Err(unauthorized("the generated admin token is disabled"));
            };
            return if verify_slices_are_equal(&sha256(token.as_bytes()), expected).is_ok() {
                Ok(Caller {
                    actor: "admin-token".to_owned(),
                })
            } else {
                Err(unauthorized("invalid admin token"))
            };
        }
        let Some(oidc) = &self.oidc else {
            return Err(unauthorized(
                "invalid credential (no OpenID Connect issuer is configured)",
            ));
        };
        oidc.validate(token, now).await.map_err(|reason| {
            tracing::info!(%reason, "admin bearer token rejected");
            unauthorized(&format!("invalid bearer token: {reason}"))
        })
    }
}

impl Oidc {
    async fn jwks(&self, force: bool) -> Result<Jwks, String> {
        if !force
            && let Some((jwks, at)) = self.jwks.read().ok().and_then(|g| g.clone())
            && at.elapsed() < JWKS_TTL
        {
            return Ok(jwks);
        }
        let url = match &self.jwks_url {
            Some(url) => url.clone(),
            None => {
                let discovery: serde_json::Value = self
                    .client
                    .get(format!("{}/.well-known/openid-configuration", self.issuer))
                    .send()
                    .await
                    .and_then(reqwest::Response::error_for_status)
                    .map_err(|e| format!("OIDC discovery failed: {e}"))?
                    .json()
                    .await
                    .map_err(|e| format!("OIDC discovery document: {e}"))?;
                discovery["jwks_uri"]
                    .as_str()
                    .ok_or("OIDC discovery document has no jwks_uri")?
                    .to_owned()
            }
        };
        let text = self
            .client
            .get(&url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| format!("fetching {url}: {e}"))?
            .text()
            .await
            .map_err(|e| format!("reading {url}: {e}"))?;
        let jwks = Jwks::from_json(&text).map_err(|e| format!("JWKS at {url}: {e}"))?;
        if let Ok(mut slot) = self.jwks.write() {
            *slot = Some((jwks.clone(), Instant::now()));
        }
        Ok(jwks)
    }

    async fn validate(&self, token: &str, now: UnixTime) -> Result<Caller, String> {
        let options = ValidationOptions {
            now,
            slack: Duration::from_secs(60),
            expected_issuer: Some(&self.issuer),
            expected_jku: None,
            unsecured: Unsecured::Reject,
        };
        let mut validated = attesto_jose::validate(token, &self.jwks(false).await?, &options);
        if validated.is_err() {
            // The issuer may have rotated keys since the last fetch.
            validated = attesto_jose::validate(token, &self.jwks(true).await?, &options);
        }
        let validated = validated.map_err(|e| e.to_string())?;
        let claims = &validated.claims;
        let audience_ok = match claims.get("aud") {
            Some(serde_json::Value::String(aud)) => *aud == self.audience,
            Some(serde_json::Value::Array(list)) => list.iter().any(|a| *a == *self.audience),
            _ => false,
        };
        if !audience_ok {
            return Err(format!("aud does not contain {}", self.audience));
        }
        let has_role = match claims.get(self.role_claim.as_str()) {
            Some(serde_json::Value::String(role)) => *role == self.required_role,
            Some(serde_json::Value::Array(list)) => list.iter().any(|r| *r == *self.required_role),
            _ => false,
        };
        if !has_role {
            return Err(format!(
                "claim {} lacks the role {}",
                self.role_claim, self.required_role
            ));
        }
        let subject = claims
            .get("sub")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("unknown");
        Ok(Caller {
            actor: format!("oidc:{subject}"),
        })
    }
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, bytes).as_ref());
    out
}
