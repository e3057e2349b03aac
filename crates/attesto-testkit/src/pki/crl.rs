//! Root and PCK CRLs, shaped like Intel's (v2 CRL, CRL number and authority key identifier, no
//! issuing distribution point).

use rcgen::{CertificateRevocationListParams, KeyIdMethod, RevokedCertParams, SerialNumber};

use super::TestCert;
use crate::Error;
use crate::time::{REFERENCE_TIME, Validity, collateral_window, to_offset};

/// What to put in a CRL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrlSpec {
    /// thisUpdate..nextUpdate. rcgen refuses `next_update <= this_update`.
    pub window: Validity,
    /// Serial numbers (big-endian, as [`TestCert::serial`] returns them) to list as revoked.
    pub revoked_serials: Vec<Vec<u8>>,
    /// The CRL number extension.
    pub crl_number: u64,
}

impl CrlSpec {
    /// An empty CRL valid in [`collateral_window`] around `t`.
    #[must_use]
    pub fn around(t: rustls_pki_types::UnixTime) -> Self {
        Self {
            window: collateral_window(t),
            revoked_serials: Vec::new(),
            crl_number: 1,
        }
    }

    /// The same CRL also listing `serial` as revoked.
    #[must_use]
    pub fn revoking(mut self, serial: &[u8]) -> Self {
        self.revoked_serials.push(serial.to_vec());
        self
    }
}

impl Default for CrlSpec {
    /// An empty CRL valid around [`REFERENCE_TIME`].
    fn default() -> Self {
        Self::around(REFERENCE_TIME)
    }
}

/// A signed CRL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestCrl {
    der: Vec<u8>,
}

impl TestCrl {
    /// DER encoding (what PCS serves with `encoding=der`, hex-encoded in collateral JSON).
    #[must_use]
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// PEM encoding (`-----BEGIN X509 CRL-----`).
    #[must_use]
    pub fn pem(&self) -> String {
        crate::pem_encode("X509 CRL", &self.der)
    }
}

pub(super) fn sign(
    spec: &CrlSpec,
    issuer: &TestCert,
    what: &'static str,
) -> Result<TestCrl, Error> {
    let revoked_certs = spec
        .revoked_serials
        .iter()
        .map(|serial| {
            Ok(RevokedCertParams {
                serial_number: SerialNumber::from_slice(serial),
                revocation_time: to_offset(spec.window.not_before, "CRL revocationDate")?,
                reason_code: None,
                invalidity_date: None,
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    let params = CertificateRevocationListParams {
        this_update: to_offset(spec.window.not_before, "CRL thisUpdate")?,
        next_update: to_offset(spec.window.not_after, "CRL nextUpdate")?,
        crl_number: SerialNumber::from_slice(&spec.crl_number.to_be_bytes()),
        issuing_distribution_point: None,
        revoked_certs,
        key_identifier_method: KeyIdMethod::Sha256,
    };
    let crl = params
        .signed_by(&issuer.issuer()?)
        .map_err(Error::certificate(what))?;
    Ok(TestCrl {
        der: crl.der().to_vec(),
    })
}
