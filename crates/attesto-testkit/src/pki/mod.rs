//! The test PKI: a self-signed test root, the two PCK CAs, the TCB signing certificate, PCK
//! leaves and CRLs, shaped like Intel's SGX provisioning PKI.
//!
//! ```text
//! attesto TEST SGX Root CA - NOT TRUSTED   (self-signed; root CRL)
//! ├── Intel SGX PCK Processor CA           (PCK CRL ca=processor)
//! │   └── Intel SGX PCK Certificate        (SGX extension 1.2.840.113741.1.13.1)
//! ├── Intel SGX PCK Platform CA            (PCK CRL ca=platform)
//! │   └── Intel SGX PCK Certificate        (adds PlatformInstanceID and Configuration)
//! └── Intel SGX TCB Signing                (signs TCB Info and QE Identity)
//! ```
//!
//! The intermediate and signing certificates carry Intel's common names on purpose: verifiers
//! pick the PCK CRL (`ca=processor` or `ca=platform`) from the issuer CN of the PCK leaf, and
//! some check the TCB signer's CN. Every certificate's organisation is
//! [`TEST_ORGANIZATION`], and the root's CN says "NOT TRUSTED", so the data cannot be mistaken
//! for Intel's. None of it chains to Intel's root.

mod crl;
mod pck;
mod store;

use rcgen::{
    BasicConstraints, CertificateParams, CrlDistributionPoint, DistinguishedName, DnType, DnValue,
    IsCa, Issuer, KeyUsagePurpose, SerialNumber,
};

pub use crl::{CrlSpec, TestCrl};
pub use pck::{
    PckCaKind, PckLeaf, PckLeafSpec, PckTcb, PlatformConfiguration, SgxExtension, SgxType,
};
pub use store::{CertAndKey, PkiBundle};

use crate::time::{Validity, to_offset, unix};
use crate::{Error, TestKey};

/// Common name of the test root. It says what it is, so that it is never mistaken for Intel's
/// "Intel SGX Root CA".
pub const TEST_ROOT_CN: &str = "attesto TEST SGX Root CA - NOT TRUSTED";
/// Common name of the PCK Processor CA (Intel's name: verifiers select the `processor` PCK CRL
/// by it).
pub const PCK_PROCESSOR_CA_CN: &str = "Intel SGX PCK Processor CA";
/// Common name of the PCK Platform CA (Intel's name: verifiers select the `platform` PCK CRL by
/// it).
pub const PCK_PLATFORM_CA_CN: &str = "Intel SGX PCK Platform CA";
/// Common name of the TCB Info / QE Identity signing certificate (Intel's name).
pub const TCB_SIGNING_CN: &str = "Intel SGX TCB Signing";
/// Common name of PCK leaf certificates (Intel's name).
pub const PCK_LEAF_CN: &str = "Intel SGX PCK Certificate";
/// Organisation of every certificate this crate issues, in place of "Intel Corporation".
pub const TEST_ORGANIZATION: &str = "attesto TEST PKI - NOT TRUSTED";

/// Validity windows of the long-lived certificates of a [`TestPki`].
///
/// The defaults are wide fixed windows (the root from 2020 to the end of 2049, like Intel's),
/// so default data stays valid for any realistic verification time. Narrow one to make an
/// expired or not-yet-valid CA.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PkiOptions {
    /// The test root CA.
    pub root: Validity,
    /// The PCK Processor CA.
    pub processor_ca: Validity,
    /// The PCK Platform CA.
    pub platform_ca: Validity,
    /// The TCB signing certificate.
    pub tcb_signing: Validity,
}

impl Default for PkiOptions {
    fn default() -> Self {
        let ca = Validity::new(unix(1_577_836_800), unix(2_366_841_600)); // 2020-01-01 .. 2045-01-01
        Self {
            root: Validity::new(unix(1_577_836_800), unix(2_524_607_999)), // 2020-01-01 .. 2049-12-31T23:59:59
            processor_ca: ca,
            platform_ca: ca,
            tcb_signing: Validity::new(unix(1_577_836_800), unix(2_208_988_800)), // .. 2040-01-01
        }
    }
}

/// A certificate this crate issued, with its private key.
#[derive(Clone, Debug)]
pub struct TestCert {
    der: Vec<u8>,
    pem: String,
    serial: Vec<u8>,
    key: TestKey,
}

impl TestCert {
    /// DER encoding.
    #[must_use]
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// PEM encoding (`-----BEGIN CERTIFICATE-----`, LF line endings, trailing newline).
    #[must_use]
    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// Serial number, big-endian, as it appears in CRL entries.
    #[must_use]
    pub fn serial(&self) -> &[u8] {
        &self.serial
    }

    /// The certificate's private key.
    #[must_use]
    pub fn key(&self) -> &TestKey {
        &self.key
    }

    fn from_der(der: Vec<u8>, key: TestKey) -> Result<Self, Error> {
        let serial = cert_serial(&der)?;
        let pem = crate::pem_encode("CERTIFICATE", &der);
        Ok(Self {
            der,
            pem,
            serial,
            key,
        })
    }

    fn issuer(&self) -> Result<Issuer<'static, rcgen::KeyPair>, Error> {
        Issuer::from_ca_cert_der(&self.der.as_slice().into(), self.key.rcgen_key()?)
            .map_err(Error::certificate("issuer from CA certificate"))
    }
}

/// A test PKI shaped like Intel's SGX provisioning PKI. See the [module docs](self).
///
/// Nothing in it is trusted by anything unless a verifier is explicitly configured with
/// [`TestPki::root_der`].
#[derive(Clone, Debug)]
pub struct TestPki {
    root: TestCert,
    processor_ca: TestCert,
    platform_ca: TestCert,
    tcb_signing: TestCert,
}

impl TestPki {
    /// A fresh PKI with new random keys and the default [`PkiOptions`].
    ///
    /// # Errors
    /// [`Error::Key`] or [`Error::Certificate`] if key generation or signing fails.
    pub fn generate() -> Result<Self, Error> {
        Self::generate_with(&PkiOptions::default())
    }

    /// A fresh PKI with new random keys and the given validity windows.
    ///
    /// # Errors
    /// [`Error::Key`] or [`Error::Certificate`] if key generation or signing fails,
    /// [`Error::TimeOutOfRange`] if a window cannot be encoded.
    pub fn generate_with(options: &PkiOptions) -> Result<Self, Error> {
        let root_key = TestKey::generate()?;
        let root_params = ca_params(TEST_ROOT_CN, options.root, 1, None)?;
        let root_der = root_params
            .self_signed(&root_key.rcgen_key()?)
            .map_err(Error::certificate("test root CA"))?
            .der()
            .to_vec();
        let root = TestCert::from_der(root_der, root_key)?;
        let root_crl_url = crl_url("rootcrl.der");
        let processor_ca = issue(
            ca_params(
                PCK_PROCESSOR_CA_CN,
                options.processor_ca,
                0,
                Some(&root_crl_url),
            )?,
            &root,
            "PCK Processor CA",
        )?;
        let platform_ca = issue(
            ca_params(
                PCK_PLATFORM_CA_CN,
                options.platform_ca,
                0,
                Some(&root_crl_url),
            )?,
            &root,
            "PCK Platform CA",
        )?;
        let mut tcb_params = leaf_params(TCB_SIGNING_CN, options.tcb_signing, &root_crl_url)?;
        tcb_params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::ContentCommitment,
        ];
        let tcb_signing = issue(tcb_params, &root, "TCB signing certificate")?;
        Ok(Self {
            root,
            processor_ca,
            platform_ca,
            tcb_signing,
        })
    }

    /// DER of the test root: the trust anchor a verifier must be configured with, explicitly,
    /// to accept anything minted from this PKI.
    #[must_use]
    pub fn root_der(&self) -> &[u8] {
        self.root.der()
    }

    /// The test root CA.
    #[must_use]
    pub fn root(&self) -> &TestCert {
        &self.root
    }

    /// The PCK Processor or Platform CA.
    #[must_use]
    pub fn pck_ca(&self, kind: PckCaKind) -> &TestCert {
        match kind {
            PckCaKind::Processor => &self.processor_ca,
            PckCaKind::Platform => &self.platform_ca,
        }
    }

    /// The TCB Info / QE Identity signing certificate.
    #[must_use]
    pub fn tcb_signing(&self) -> &TestCert {
        &self.tcb_signing
    }

    /// The issuer chain PCS sends with TCB Info and QE Identity: TCB signing cert, then root.
    #[must_use]
    pub fn tcb_issuer_chain_pem(&self) -> String {
        [self.tcb_signing.pem(), self.root.pem()].concat()
    }

    /// The issuer chain PCS sends with a PCK CRL: the PCK CA, then root.
    #[must_use]
    pub fn pck_crl_issuer_chain_pem(&self, kind: PckCaKind) -> String {
        [self.pck_ca(kind).pem(), self.root.pem()].concat()
    }

    /// Issues a PCK leaf certificate carrying the SGX extension of `spec`.
    ///
    /// # Errors
    /// [`Error::Certificate`], [`Error::Key`] or [`Error::TimeOutOfRange`].
    pub fn issue_pck_leaf(&self, spec: &PckLeafSpec) -> Result<PckLeaf, Error> {
        pck::issue(self, spec)
    }

    /// The root CA CRL (Intel's `IntelSGXRootCA.der`), signed by the test root.
    ///
    /// # Errors
    /// [`Error::Certificate`] (for example when `next_update <= this_update`).
    pub fn root_crl(&self, spec: &CrlSpec) -> Result<TestCrl, Error> {
        crl::sign(spec, &self.root, "root CA CRL")
    }

    /// The PCK CRL of the Processor or Platform CA, signed by that CA.
    ///
    /// # Errors
    /// [`Error::Certificate`] (for example when `next_update <= this_update`).
    pub fn pck_crl(&self, kind: PckCaKind, spec: &CrlSpec) -> Result<TestCrl, Error> {
        crl::sign(spec, self.pck_ca(kind), "PCK CRL")
    }

    fn from_parts(
        root: TestCert,
        processor_ca: TestCert,
        platform_ca: TestCert,
        tcb_signing: TestCert,
    ) -> Self {
        Self {
            root,
            processor_ca,
            platform_ca,
            tcb_signing,
        }
    }
}

/// Where the test CRLs would be published. `.invalid` (RFC 2606) so nothing ever fetches it.
fn crl_url(path: &str) -> String {
    format!("https://pki.attesto-test.invalid/sgx/certification/v4/{path}")
}

fn distinguished_name(common_name: &str) -> Result<DistinguishedName, Error> {
    let country = "US"
        .try_into()
        .map_err(Error::certificate("country name"))?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn.push(DnType::OrganizationName, TEST_ORGANIZATION);
    dn.push(DnType::LocalityName, "Nowhere");
    dn.push(DnType::StateOrProvinceName, "CA");
    dn.push(DnType::CountryName, DnValue::PrintableString(country));
    Ok(dn)
}

fn base_params(common_name: &str, validity: Validity) -> Result<CertificateParams, Error> {
    let mut params = CertificateParams::default();
    params.distinguished_name = distinguished_name(common_name)?;
    params.not_before = to_offset(validity.not_before, "certificate notBefore")?;
    params.not_after = to_offset(validity.not_after, "certificate notAfter")?;
    params.serial_number = Some(SerialNumber::from_slice(&random_serial()?));
    params.use_authority_key_identifier_extension = true;
    Ok(params)
}

fn ca_params(
    common_name: &str,
    validity: Validity,
    path_len: u8,
    crl: Option<&str>,
) -> Result<CertificateParams, Error> {
    let mut params = base_params(common_name, validity)?;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(path_len));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    if let Some(url) = crl {
        params.crl_distribution_points = vec![CrlDistributionPoint {
            uris: vec![url.to_owned()],
        }];
    }
    Ok(params)
}

fn leaf_params(
    common_name: &str,
    validity: Validity,
    crl: &str,
) -> Result<CertificateParams, Error> {
    let mut params = base_params(common_name, validity)?;
    params.is_ca = IsCa::ExplicitNoCa;
    params.crl_distribution_points = vec![CrlDistributionPoint {
        uris: vec![crl.to_owned()],
    }];
    Ok(params)
}

fn issue(
    params: CertificateParams,
    issuer: &TestCert,
    what: &'static str,
) -> Result<TestCert, Error> {
    let key = TestKey::generate()?;
    let der = params
        .signed_by(&key.rcgen_key()?, &issuer.issuer()?)
        .map_err(Error::certificate(what))?
        .der()
        .to_vec();
    TestCert::from_der(der, key)
}

/// A positive 16-byte serial (first byte 0x01..=0x7F, so its DER INTEGER is exactly these bytes).
fn random_serial() -> Result<[u8; 16], Error> {
    let mut serial = [0u8; 16];
    aws_lc_rs::rand::fill(&mut serial).map_err(|_| Error::Key {
        what: "random serial number",
    })?;
    serial[0] = (serial[0] & 0x7F).max(1);
    Ok(serial)
}

fn cert_serial(der: &[u8]) -> Result<Vec<u8>, Error> {
    let (_, cert) =
        x509_parser::parse_x509_certificate(der).map_err(|e| Error::InvalidPersistedPki {
            item: "certificate".into(),
            reason: e.to_string(),
        })?;
    Ok(cert.raw_serial().to_vec())
}
