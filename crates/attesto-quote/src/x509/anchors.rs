//! Trust anchors: the Intel SGX Root CA compiled in, plus roots a caller adds explicitly.
//!
//! Anchors are identified by subject name and public key, as webpki does, not by the exact
//! certificate bytes: Intel re-issued its root with the same key and name (the Open Enclave
//! sample quotes carry the older copy), and both must verify.

use std::sync::{Arc, LazyLock};

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::signature::ParsedPublicKey;

use super::Cert;
use crate::error::{Artifact, Error};

/// DER of the production Intel SGX Root CA (SHA-256
/// `44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3`).
pub const INTEL_SGX_ROOT_CA_DER: &[u8] = include_bytes!("../intel_sgx_root_ca.der");

static INTEL: LazyLock<TrustAnchors> = LazyLock::new(|| {
    #[expect(
        clippy::expect_used,
        reason = "compile-time constant, pinned by a test; not attacker input"
    )]
    TrustAnchors::from_der(INTEL_SGX_ROOT_CA_DER).expect("the compiled-in Intel root parses")
});

/// One trusted root.
#[derive(Debug)]
pub(crate) struct Anchor {
    pub(crate) cert: Cert,
    /// Parsed once: checks certificates and CRLs issued by this root.
    pub(crate) key: ParsedPublicKey,
}

/// The set of roots that quotes and collateral must chain to. Cheap to clone.
#[derive(Clone, Debug)]
pub struct TrustAnchors {
    anchors: Arc<[Anchor]>,
    id: [u8; 32],
}

impl Default for TrustAnchors {
    fn default() -> Self {
        Self::intel()
    }
}

impl TrustAnchors {
    /// Only the production Intel SGX Root CA. This is the default everywhere.
    #[must_use]
    pub fn intel() -> Self {
        INTEL.clone()
    }

    /// Only the given root (DER), e.g. a test root. Intel's root is NOT included.
    ///
    /// # Errors
    /// If the certificate does not parse, is not a CA, or its key is not ECDSA P-256.
    pub fn from_der(root_der: &[u8]) -> Result<Self, Error> {
        Self::from_anchors(vec![parse_anchor(root_der)?])
    }

    /// These roots plus one more (DER).
    ///
    /// # Errors
    /// As [`TrustAnchors::from_der`].
    pub fn with_root(&self, root_der: &[u8]) -> Result<Self, Error> {
        let mut anchors: Vec<Anchor> = Vec::with_capacity(self.anchors.len().saturating_add(1));
        for anchor in self.anchors.iter() {
            anchors.push(parse_anchor(&anchor.cert.der)?);
        }
        anchors.push(parse_anchor(root_der)?);
        Self::from_anchors(anchors)
    }

    fn from_anchors(anchors: Vec<Anchor>) -> Result<Self, Error> {
        let mut all = Vec::new();
        for anchor in &anchors {
            all.extend_from_slice(digest(&SHA256, &anchor.cert.der).as_ref());
        }
        let mut id = [0u8; 32];
        id.copy_from_slice(digest(&SHA256, &all).as_ref());
        Ok(Self {
            anchors: anchors.into(),
            id,
        })
    }

    /// Identifies this set (hash of the root certificates), for cache keys.
    pub(crate) fn id(&self) -> &[u8; 32] {
        &self.id
    }

    pub(crate) fn get(&self, index: usize) -> Option<&Anchor> {
        self.anchors.get(index)
    }

    /// The anchor whose subject is `issuer` and whose key makes `signed_by` succeed.
    pub(crate) fn find_issuer(
        &self,
        issuer: &[u8],
        signed_by: impl Fn(&ParsedPublicKey) -> bool,
    ) -> Option<usize> {
        self.anchors
            .iter()
            .position(|a| a.cert.subject == issuer && signed_by(&a.key))
    }

    /// Whether a certificate with this subject and key is a copy of anchor `index`.
    pub(crate) fn is_copy_of(&self, index: usize, subject: &[u8], public_key: &[u8]) -> bool {
        self.anchors
            .get(index)
            .is_some_and(|a| a.cert.subject == subject && a.cert.public_key == public_key)
    }

    /// Whether `der` is byte-for-byte anchor `index` (the common case; no parsing needed).
    pub(crate) fn is_exact_copy(&self, index: usize, der: &[u8]) -> bool {
        self.anchors.get(index).is_some_and(|a| a.cert.der == der)
    }
}

fn parse_anchor(der: &[u8]) -> Result<Anchor, Error> {
    let cert = Cert::parse(der, Artifact::RootCaCertificate)?;
    if !cert.is_ca {
        return Err(Error::NotACa {
            artifact: Artifact::RootCaCertificate,
        });
    }
    let key = cert.issuer_key(Artifact::RootCaCertificate)?;
    Ok(Anchor { cert, key })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiled_in_root_is_pinned() {
        assert_eq!(
            hex::encode(digest(&SHA256, INTEL_SGX_ROOT_CA_DER)),
            "44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3"
        );
        let anchors = TrustAnchors::intel();
        assert_eq!(anchors.anchors.len(), 1);
        assert_eq!(
            anchors
                .get(0)
                .and_then(|a| a.cert.common_name.clone())
                .as_deref(),
            Some("Intel SGX Root CA")
        );
    }

    #[test]
    fn rejects_garbage_roots() {
        assert!(TrustAnchors::from_der(b"not a certificate").is_err());
    }
}
