//! Persisting a [`TestPki`]: as a serde struct of PEM strings, or as PEM files in a directory.
//!
//! A simulator (`attesto genquote --simulate`) keeps one PKI across runs so that a server
//! configured once with the test root keeps accepting its quotes.

use std::fs;
use std::path::Path;

use serde::{Deserialize, Serialize};
use x509_parser::certificate::X509Certificate;

use super::{
    PCK_PLATFORM_CA_CN, PCK_PROCESSOR_CA_CN, TCB_SIGNING_CN, TEST_ROOT_CN, TestCert, TestPki,
};
use crate::{Error, TestKey};

/// A certificate and its private key, both PEM.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertAndKey {
    /// `-----BEGIN CERTIFICATE-----`.
    pub certificate: String,
    /// `-----BEGIN PRIVATE KEY-----` (PKCS#8).
    pub private_key: String,
}

/// A [`TestPki`] as plain data (serde): every certificate and key as PEM.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PkiBundle {
    /// Always [`PkiBundle::WARNING`], so a stray file explains itself.
    pub warning: String,
    /// The test root CA.
    pub root: CertAndKey,
    /// The PCK Processor CA.
    pub pck_processor_ca: CertAndKey,
    /// The PCK Platform CA.
    pub pck_platform_ca: CertAndKey,
    /// The TCB signing certificate.
    pub tcb_signing: CertAndKey,
}

impl PkiBundle {
    /// The text of [`PkiBundle::warning`].
    pub const WARNING: &'static str = "attesto TEST PKI - NOT TRUSTED. Private keys of a test root; never configure it in production.";
}

/// File names used by [`TestPki::save_to_dir`], in bundle order.
const FILES: [(&str, &str); 4] = [
    ("test-root-ca", TEST_ROOT_CN),
    ("pck-processor-ca", PCK_PROCESSOR_CA_CN),
    ("pck-platform-ca", PCK_PLATFORM_CA_CN),
    ("tcb-signing", TCB_SIGNING_CN),
];

impl TestPki {
    /// This PKI as plain data.
    #[must_use]
    pub fn to_bundle(&self) -> PkiBundle {
        let pair = |c: &TestCert| CertAndKey {
            certificate: c.pem().to_owned(),
            private_key: c.key().to_pem(),
        };
        PkiBundle {
            warning: PkiBundle::WARNING.to_owned(),
            root: pair(&self.root),
            pck_processor_ca: pair(&self.processor_ca),
            pck_platform_ca: pair(&self.platform_ca),
            tcb_signing: pair(&self.tcb_signing),
        }
    }

    /// Rebuilds a PKI from plain data. Checks that each certificate has the expected common
    /// name, that each key matches its certificate, and that the three issued certificates name
    /// the root as issuer.
    ///
    /// # Errors
    /// [`Error::InvalidPersistedPki`] naming the certificate at fault.
    pub fn from_bundle(bundle: &PkiBundle) -> Result<Self, Error> {
        let [root, processor_ca, platform_ca, tcb_signing] = [
            &bundle.root,
            &bundle.pck_processor_ca,
            &bundle.pck_platform_ca,
            &bundle.tcb_signing,
        ]
        .into_iter()
        .zip(FILES)
        .map(|(pair, (_, cn))| load_pair(pair, cn))
        .collect::<Result<Vec<_>, Error>>()?
        .try_into()
        .map_err(|_| invalid("bundle", "expected four certificates"))?;
        for (cert, (_, cn)) in [&processor_ca, &platform_ca, &tcb_signing]
            .into_iter()
            .zip(&FILES[1..])
        {
            check_issued_by(cert, &root, cn)?;
        }
        Ok(Self::from_parts(
            root,
            processor_ca,
            platform_ca,
            tcb_signing,
        ))
    }

    /// Writes `<name>.crt.pem` and `<name>.key.pem` for the root, both PCK CAs and the TCB
    /// signing certificate into `dir` (created if missing), plus a README saying what they are.
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn save_to_dir(&self, dir: &Path) -> Result<(), Error> {
        fs::create_dir_all(dir).map_err(|source| Error::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let bundle = self.to_bundle();
        let pairs = [
            &bundle.root,
            &bundle.pck_processor_ca,
            &bundle.pck_platform_ca,
            &bundle.tcb_signing,
        ];
        for (pair, (name, _)) in pairs.into_iter().zip(FILES) {
            write(&dir.join(format!("{name}.crt.pem")), &pair.certificate)?;
            write(&dir.join(format!("{name}.key.pem")), &pair.private_key)?;
        }
        write(&dir.join("README"), &format!("{}\n", PkiBundle::WARNING))
    }

    /// Reads a PKI written by [`TestPki::save_to_dir`], with the checks of
    /// [`TestPki::from_bundle`].
    ///
    /// # Errors
    /// [`Error::Io`] or [`Error::InvalidPersistedPki`].
    pub fn load_from_dir(dir: &Path) -> Result<Self, Error> {
        let read_pair = |name: &str| -> Result<CertAndKey, Error> {
            Ok(CertAndKey {
                certificate: read(&dir.join(format!("{name}.crt.pem")))?,
                private_key: read(&dir.join(format!("{name}.key.pem")))?,
            })
        };
        let [root, processor, platform, tcb] = FILES.map(|(name, _)| read_pair(name));
        Self::from_bundle(&PkiBundle {
            warning: PkiBundle::WARNING.to_owned(),
            root: root?,
            pck_processor_ca: processor?,
            pck_platform_ca: platform?,
            tcb_signing: tcb?,
        })
    }
}

fn invalid(item: &str, reason: impl Into<String>) -> Error {
    Error::InvalidPersistedPki {
        item: item.to_owned(),
        reason: reason.into(),
    }
}

fn load_pair(pair: &CertAndKey, expected_cn: &str) -> Result<TestCert, Error> {
    let block = pem::parse(&pair.certificate)
        .map_err(|e| invalid(expected_cn, format!("certificate PEM: {e}")))?;
    if block.tag() != "CERTIFICATE" {
        return Err(invalid(expected_cn, "PEM block is not a CERTIFICATE"));
    }
    let der = block.into_contents();
    let key =
        TestKey::from_pem(&pair.private_key).map_err(|e| invalid(expected_cn, e.to_string()))?;
    {
        let (_, cert) = x509_parser::parse_x509_certificate(&der)
            .map_err(|e| invalid(expected_cn, format!("certificate DER: {e}")))?;
        let cn = cert
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok());
        if cn != Some(expected_cn) {
            return Err(invalid(expected_cn, format!("subject CN is {cn:?}")));
        }
        if cert.public_key().subject_public_key.data.as_ref() != key.public_key_sec1().as_slice() {
            return Err(invalid(
                expected_cn,
                "private key does not match the certificate",
            ));
        }
    }
    TestCert::from_der(der, key)
}

fn check_issued_by(cert: &TestCert, root: &TestCert, cn: &str) -> Result<(), Error> {
    fn parse<'a>(c: &'a TestCert, cn: &str) -> Result<X509Certificate<'a>, Error> {
        x509_parser::parse_x509_certificate(c.der())
            .map(|(_, parsed)| parsed)
            .map_err(|e| invalid(cn, e.to_string()))
    }
    let (child, parent) = (parse(cert, cn)?, parse(root, cn)?);
    if child.issuer().as_raw() != parent.subject().as_raw() {
        return Err(invalid(cn, "not issued by the bundle's root"));
    }
    child
        .verify_signature(Some(parent.public_key()))
        .map_err(|_| invalid(cn, "signature does not verify with the bundle's root key"))
}

fn write(path: &Path, text: &str) -> Result<(), Error> {
    fs::write(path, text).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn read(path: &Path) -> Result<String, Error> {
    fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}
