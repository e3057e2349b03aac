//! The JWS `alg` values attesto accepts, including the MAA Python SDK's non-standard aliases.

use std::fmt;
use std::str::FromStr;

use crate::error::Error;

/// A JWS signature algorithm (RFC 7518 §3.1).
///
/// HMAC algorithms are deliberately absent: attestation tokens and policy uploads are always
/// signed with a public-key pair, and accepting `HS256` would open the classic "verify an RSA
/// public key as an HMAC secret" confusion.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// `none`: an unsecured JWS. Never "verified"; callers must accept it explicitly.
    None,
    /// RSASSA-PKCS1-v1_5 with SHA-256. MAA signs every token with it.
    Rs256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    Rs384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    Rs512,
    /// RSASSA-PSS with SHA-256 and MGF1/SHA-256, salt length 32.
    Ps256,
    /// RSASSA-PSS with SHA-384, salt length 48.
    Ps384,
    /// RSASSA-PSS with SHA-512, salt length 64.
    Ps512,
    /// ECDSA on P-256 with SHA-256.
    Es256,
    /// ECDSA on P-384 with SHA-384.
    Es384,
}

impl Algorithm {
    /// Every algorithm, in the order they are listed above.
    pub const ALL: [Self; 9] = [
        Self::None,
        Self::Rs256,
        Self::Rs384,
        Self::Rs512,
        Self::Ps256,
        Self::Ps384,
        Self::Ps512,
        Self::Es256,
        Self::Es384,
    ];

    /// Parses an `alg` header value, case-sensitively as RFC 7515 requires.
    ///
    /// Besides the registered names this accepts the two aliases the MAA Python SDK 1.0.0 writes:
    /// `RSA256` (it signs RSASSA-PKCS1-v1_5/SHA-256, i.e. RS256) and `ECDH256` (ECDSA P-256/SHA-256,
    /// i.e. ES256; despite the name no key agreement is involved).
    ///
    /// # Errors
    /// [`Error::UnsupportedAlgorithm`] with the name as written.
    pub fn from_name(name: &str) -> Result<Self, Error> {
        Ok(match name {
            "none" => Self::None,
            "RS256" | "RSA256" => Self::Rs256,
            "RS384" => Self::Rs384,
            "RS512" => Self::Rs512,
            "PS256" => Self::Ps256,
            "PS384" => Self::Ps384,
            "PS512" => Self::Ps512,
            "ES256" | "ECDH256" => Self::Es256,
            "ES384" => Self::Es384,
            other => {
                return Err(Error::UnsupportedAlgorithm {
                    alg: other.to_owned(),
                });
            }
        })
    }

    /// The registered name (RFC 7518), which is what attesto writes.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Rs256 => "RS256",
            Self::Rs384 => "RS384",
            Self::Rs512 => "RS512",
            Self::Ps256 => "PS256",
            Self::Ps384 => "PS384",
            Self::Ps512 => "PS512",
            Self::Es256 => "ES256",
            Self::Es384 => "ES384",
        }
    }

    /// True for `none`.
    #[must_use]
    pub const fn is_unsecured(self) -> bool {
        matches!(self, Self::None)
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Algorithm {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_name(s)
    }
}

impl serde::Serialize for Algorithm {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for alg in Algorithm::ALL {
            assert_eq!(Algorithm::from_name(alg.name()), Ok(alg));
        }
    }

    #[test]
    fn python_sdk_aliases_map_to_registered_algorithms() {
        assert_eq!(Algorithm::from_name("RSA256"), Ok(Algorithm::Rs256));
        assert_eq!(Algorithm::from_name("ECDH256"), Ok(Algorithm::Es256));
    }

    #[test]
    fn rejects_hmac_unknown_and_wrong_case() {
        for name in ["HS256", "EdDSA", "rs256", "None", "NONE", ""] {
            assert_eq!(
                Algorithm::from_name(name),
                Err(Error::UnsupportedAlgorithm { alg: name.into() }),
                "{name}"
            );
        }
    }
}
