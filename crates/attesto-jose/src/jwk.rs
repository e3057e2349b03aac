//! JSON Web Keys (RFC 7517) as MAA uses them: `/certs` entries, policy signers and the
//! `policyCertificate` of signer-management requests.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::base64url;
use crate::cert::{Certificate, decode_x5c};
use crate::error::Error;
use crate::key::PublicKey;

/// One JSON Web Key. Every member is optional because MAA clients send partial keys (the Python
/// SDK's header `jwk` is just `{"x5c": [...]}`); members attesto does not interpret are kept in
/// `extra` so a key survives a round trip unchanged.
///
/// Serialized members come in the order `kty, kid, x5c, n, e, crv, x, y, use, alg`, then extras.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Jwk {
    /// Key type: `RSA` or `EC`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kty: Option<String>,
    /// Key id; MAA clients pick the token signer by exact `kid` match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// Certificate chain, standard base64 DER, signer first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x5c: Option<Vec<String>>,
    /// RSA modulus, base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    /// RSA exponent, base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    /// EC curve: `P-256` or `P-384`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    /// EC x coordinate, base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// EC y coordinate, base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    /// Intended use (`sig`).
    #[serde(default, rename = "use", skip_serializing_if = "Option::is_none")]
    pub key_use: Option<String>,
    /// Intended algorithm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// Members attesto does not interpret, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A JWK Set (RFC 7517 §5), the body of MAA's `GET /certs`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Jwks {
    /// The keys, in the order the service lists them.
    pub keys: Vec<Jwk>,
}

impl Jwks {
    /// Parses a JWK Set document.
    ///
    /// # Errors
    /// [`Error::PayloadJson`] if the text is not a `{"keys": [...]}` object.
    pub fn from_json(text: &str) -> Result<Self, Error> {
        serde_json::from_str(text).map_err(|e| Error::PayloadJson {
            reason: e.to_string(),
        })
    }

    /// The JSON text of the set.
    #[must_use]
    pub fn to_json(&self) -> String {
        // Serializing plain strings, vectors and maps cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The key whose `kid` equals `kid` exactly (MAA clients compare opaque strings).
    #[must_use]
    pub fn find(&self, kid: &str) -> Option<&Jwk> {
        self.keys.iter().find(|k| k.kid.as_deref() == Some(kid))
    }
}

impl Jwk {
    /// The JWK for a certificate: `kty`, `x5c` with that one certificate, and the public
    /// parameters (`n`/`e` for RSA, `crv`/`x`/`y` for EC). This is the shape MAA expects in a
    /// `policyCertificate` and returns in `x-ms-policy-signer`.
    ///
    /// # Errors
    /// [`Error::CertificateParse`] or [`Error::UnsupportedKey`].
    pub fn from_certificate_der(der: &[u8]) -> Result<Self, Error> {
        let cert = Certificate::from_der(der)?;
        Ok(Self::from_certificate(&cert))
    }

    /// Like [`Jwk::from_certificate_der`] for an already parsed certificate.
    #[must_use]
    pub fn from_certificate(cert: &Certificate) -> Self {
        let mut jwk = Self::from_public_key(cert.public_key());
        jwk.x5c = Some(vec![base64url::encode_std(cert.der())]);
        jwk
    }

    /// The JWK holding just a public key.
    #[must_use]
    pub fn from_public_key(key: &PublicKey) -> Self {
        let mut jwk = Self::default();
        match key {
            PublicKey::Rsa { n, e } => {
                jwk.kty = Some("RSA".into());
                jwk.n = Some(base64url::encode(n));
                jwk.e = Some(base64url::encode(e));
            }
            PublicKey::EcP256 { point } | PublicKey::EcP384 { point } => {
                let (crv, size) = if matches!(key, PublicKey::EcP256 { .. }) {
                    ("P-256", 32)
                } else {
                    ("P-384", 48)
                };
                // `ec_point` guarantees 1 + 2 * size bytes.
                let x = point.get(1..=size).unwrap_or_default();
                let y = point.get(size.saturating_add(1)..).unwrap_or_default();
                jwk.kty = Some("EC".into());
                jwk.crv = Some(crv.into());
                jwk.x = Some(base64url::encode(x));
                jwk.y = Some(base64url::encode(y));
            }
        }
        jwk
    }

    /// The DER certificates of `x5c`, signer first; empty when `x5c` is absent.
    ///
    /// # Errors
    /// [`Error::CertificateBase64`] for an entry that does not decode.
    pub fn certificate_ders(&self) -> Result<Vec<Vec<u8>>, Error> {
        self.x5c.as_deref().map_or(Ok(Vec::new()), decode_x5c)
    }

    /// The key to verify with: the public key of `x5c[0]` if present (what every MAA client
    /// uses), else the raw parameters. When both are present they must agree, so a relying party
    /// reading `n`/`e` and one reading `x5c` can never end up trusting different keys.
    ///
    /// # Errors
    /// [`Error::Jwk`] for missing or inconsistent members, certificate and key errors otherwise.
    pub fn public_key(&self) -> Result<PublicKey, Error> {
        let from_params = self.public_key_from_params()?;
        let from_cert = match self.certificate_ders()?.first() {
            Some(der) => Some(Certificate::from_der(der)?.public_key().clone()),
            None => None,
        };
        match (from_cert, from_params) {
            (Some(cert_key), Some(param_key)) if cert_key != param_key => Err(Error::Jwk {
                field: "x5c",
                reason: "x5c[0] holds a different key than the JWK parameters",
            }),
            (Some(key), _) | (None, Some(key)) => Ok(key),
            (None, None) => Err(Error::Jwk {
                field: "kty",
                reason: "the key has neither x5c nor public key parameters",
            }),
        }
    }

    fn public_key_from_params(&self) -> Result<Option<PublicKey>, Error> {
        let decode = |value: &Option<String>, field: &'static str| -> Result<Vec<u8>, Error> {
            let text = value.as_deref().ok_or(Error::Jwk {
                field,
                reason: "missing",
            })?;
            base64url::decode(text).map_err(|_| Error::Jwk {
                field,
                reason: "not base64url",
            })
        };
        match (self.kty.as_deref(), &self.n, &self.x) {
            (Some("RSA"), Some(_), _) => {
                let n = decode(&self.n, "n")?;
                let e = decode(&self.e, "e")?;
                PublicKey::rsa(&n, &e).map(Some)
            }
            (Some("EC"), _, Some(_)) => {
                let size = match self.crv.as_deref() {
                    Some("P-256") => 32,
                    Some("P-384") => 48,
                    _ => {
                        return Err(Error::Jwk {
                            field: "crv",
                            reason: "only P-256 and P-384 are supported",
                        });
                    }
                };
                let x = decode(&self.x, "x")?;
                let y = decode(&self.y, "y")?;
                if x.len() != size || y.len() != size {
                    return Err(Error::Jwk {
                        field: "x",
                        reason: "coordinates do not have the curve's size",
                    });
                }
                let mut point = Vec::with_capacity(1 + 2 * size);
                point.push(0x04);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                PublicKey::ec_point(&point).map(Some)
            }
            (Some("RSA" | "EC") | None, _, _) => Ok(None),
            (Some(_), _, _) => Err(Error::Jwk {
                field: "kty",
                reason: "only RSA and EC keys are supported",
            }),
        }
    }
}
