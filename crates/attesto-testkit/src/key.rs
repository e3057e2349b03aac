//! ECDSA P-256 keys: the only key type DCAP uses (attestation key, PCK, CAs, TCB signing).

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _, Signature,
};
use rustls_pki_types::PrivatePkcs8KeyDer;

use crate::Error;

/// An ECDSA P-256 private key, kept as PKCS#8 DER so it can be cloned and persisted.
#[derive(Clone)]
pub struct TestKey {
    pkcs8: Vec<u8>,
    /// Uncompressed SEC1 point: `04 || x || y`.
    public: [u8; 65],
}

impl std::fmt::Debug for TestKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The private half stays out of logs even for test keys: they may be persisted and reused.
        f.debug_struct("TestKey")
            .field("public", &hex::encode(self.public))
            .finish_non_exhaustive()
    }
}

impl TestKey {
    /// A fresh random key.
    ///
    /// # Errors
    /// [`Error::Key`] if the crypto library fails.
    pub fn generate() -> Result<Self, Error> {
        let doc =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .map_err(|_| Error::Key {
                    what: "generate P-256 key",
                })?;
        Self::from_pkcs8_der(doc.as_ref())
    }

    /// A key from PKCS#8 DER (v1 or v2).
    ///
    /// # Errors
    /// [`Error::Key`] if the bytes are not a P-256 PKCS#8 key.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, Error> {
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der).map_err(|_| {
                Error::Key {
                    what: "parse PKCS#8 P-256 key",
                }
            })?;
        let public = <[u8; 65]>::try_from(pair.public_key().as_ref()).map_err(|_| Error::Key {
            what: "P-256 public key is not a 65-byte uncompressed point",
        })?;
        Ok(Self {
            pkcs8: der.to_vec(),
            public,
        })
    }

    /// A key from a `PRIVATE KEY` (PKCS#8) PEM block.
    ///
    /// # Errors
    /// [`Error::Key`] if the PEM is not a single PKCS#8 P-256 key.
    pub fn from_pem(pem_text: &str) -> Result<Self, Error> {
        let block = pem::parse(pem_text).map_err(|_| Error::Key {
            what: "parse private key PEM",
        })?;
        if block.tag() != "PRIVATE KEY" {
            return Err(Error::Key {
                what: "private key PEM is not a PKCS#8 `PRIVATE KEY` block",
            });
        }
        Self::from_pkcs8_der(block.contents())
    }

    /// PKCS#8 DER of the private key.
    #[must_use]
    pub fn pkcs8_der(&self) -> &[u8] {
        &self.pkcs8
    }

    /// PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), LF line endings.
    #[must_use]
    pub fn to_pem(&self) -> String {
        crate::pem_encode("PRIVATE KEY", &self.pkcs8)
    }

    /// The public key as an uncompressed SEC1 point, `04 || x || y` (65 bytes).
    #[must_use]
    pub fn public_key_sec1(&self) -> &[u8; 65] {
        &self.public
    }

    /// The public key as DCAP writes it in a quote: `x || y`, 64 bytes, no `04` prefix.
    #[must_use]
    pub fn public_key_xy(&self) -> [u8; 64] {
        let mut xy = [0u8; 64];
        xy.copy_from_slice(&self.public[1..]);
        xy
    }

    /// ECDSA-SHA256 signature over `message` in DCAP's fixed form: `r || s`, 32 bytes each,
    /// big-endian. The same form is used in quotes and in hex in collateral JSON.
    ///
    /// # Errors
    /// [`Error::Key`] if the crypto library fails.
    pub fn sign(&self, message: &[u8]) -> Result<[u8; 64], Error> {
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &self.pkcs8)
            .map_err(|_| Error::Key {
                what: "load P-256 key for signing",
            })?;
        let signature: Signature =
            pair.sign(&SystemRandom::new(), message)
                .map_err(|_| Error::Key {
                    what: "ECDSA-P256 signing",
                })?;
        <[u8; 64]>::try_from(signature.as_ref()).map_err(|_| Error::Key {
            what: "fixed ECDSA-P256 signature is not 64 bytes",
        })
    }

    /// The same key as an rcgen signer, to issue certificates and CRLs.
    pub(crate) fn rcgen_key(&self) -> Result<rcgen::KeyPair, Error> {
        let der = PrivatePkcs8KeyDer::from(self.pkcs8.as_slice());
        rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&der, &rcgen::PKCS_ECDSA_P256_SHA256)
            .map_err(Error::certificate("P-256 key for rcgen"))
    }
}
