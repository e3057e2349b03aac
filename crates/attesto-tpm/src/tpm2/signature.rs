//! TPMT_SIGNATURE (Part 2, 11.3.4).

use crate::alg::HashAlg;
use crate::error::Error;
use crate::reader::Reader;
use crate::tpm2::read_hash;

/// A parsed TPMT_SIGNATURE of a scheme this crate verifies.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Signature {
    /// TPM_ALG_RSASSA (0x0014): PKCS#1 v1.5.
    RsaSsa {
        /// Hash of the signed data.
        hash: HashAlg,
        /// The signature.
        signature: Vec<u8>,
    },
    /// TPM_ALG_RSAPSS (0x0016).
    RsaPss {
        /// Hash of the signed data (also the MGF1 hash).
        hash: HashAlg,
        /// The signature.
        signature: Vec<u8>,
    },
    /// TPM_ALG_ECDSA (0x0018).
    Ecdsa {
        /// Hash of the signed data.
        hash: HashAlg,
        /// r, big-endian.
        r: Vec<u8>,
        /// s, big-endian.
        s: Vec<u8>,
    },
}

impl Signature {
    /// Parses a TPMT_SIGNATURE exactly.
    ///
    /// # Errors
    /// [`Error::Truncated`], [`Error::TrailingBytes`], [`Error::UnsupportedAlgorithm`] for
    /// schemes other than RSASSA, RSAPSS and ECDSA or unsupported hashes.
    pub fn parse(bytes: &[u8]) -> Result<Signature, Error> {
        let mut r = Reader::new(bytes, "TPMT_SIGNATURE");
        let scheme = r.u16_be("sigAlg")?;
        let signature = match scheme {
            0x0014 => Signature::RsaSsa {
                hash: read_hash(&mut r, "rsassa.hash")?,
                signature: r.tpm2b("rsassa.sig")?.to_vec(),
            },
            0x0016 => Signature::RsaPss {
                hash: read_hash(&mut r, "rsapss.hash")?,
                signature: r.tpm2b("rsapss.sig")?.to_vec(),
            },
            0x0018 => Signature::Ecdsa {
                hash: read_hash(&mut r, "ecdsa.hash")?,
                r: r.tpm2b("ecdsa.signatureR")?.to_vec(),
                s: r.tpm2b("ecdsa.signatureS")?.to_vec(),
            },
            other => {
                return Err(Error::UnsupportedAlgorithm {
                    context: "TPMT_SIGNATURE.sigAlg",
                    alg: other,
                });
            }
        };
        r.finish()?;
        Ok(signature)
    }

    /// The hash the signature is over (and the hash of a quote's pcrDigest).
    #[must_use]
    pub fn hash(&self) -> HashAlg {
        match self {
            Signature::RsaSsa { hash, .. }
            | Signature::RsaPss { hash, .. }
            | Signature::Ecdsa { hash, .. } => *hash,
        }
    }

    /// The scheme's name, for messages.
    #[must_use]
    pub fn scheme_name(&self) -> &'static str {
        match self {
            Signature::RsaSsa { .. } => "RSASSA",
            Signature::RsaPss { .. } => "RSAPSS",
            Signature::Ecdsa { .. } => "ECDSA",
        }
    }
}
