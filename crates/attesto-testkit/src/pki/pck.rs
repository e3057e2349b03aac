//! PCK leaf certificates and their SGX extension (OID 1.2.840.113741.1.13.1).
//!
//! The extension value is encoded exactly like Intel's: a SEQUENCE of `SEQUENCE { OID, value }`
//! pairs in OID order, SVNs as minimal DER INTEGERs (255 is `02 02 00 FF`), the TCB as a nested
//! sequence of 18 pairs, the SGX type as ENUMERATED. A test in this module checks the encoding
//! byte for byte against real Intel PCK certificates.

use rcgen::{CustomExtension, KeyUsagePurpose, SerialNumber};
use yasna::DERWriter;
use yasna::models::ObjectIdentifier;

use super::{PCK_LEAF_CN, TestCert, TestPki, crl_url, leaf_params};
use crate::time::{Validity, unix};
use crate::{Error, TestKey};

/// Arc of Intel's SGX extension: 1.2.840.113741.1.13.1.
pub const SGX_EXTENSION_OID: &[u64] = &[1, 2, 840, 113_741, 1, 13, 1];

/// Which PCK CA issues a leaf. Verifiers tell them apart by the issuer common name and check the
/// leaf against that CA's CRL.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PckCaKind {
    /// "Intel SGX PCK Processor CA": single-socket platforms; the leaf has no platform fields.
    Processor,
    /// "Intel SGX PCK Platform CA": multi-package platforms (and TDX hosts); the leaf carries
    /// PlatformInstanceID and Configuration.
    Platform,
}

impl PckCaKind {
    /// The `ca` query value PCS uses for this CA's CRL: `processor` or `platform`.
    #[must_use]
    pub fn crl_name(self) -> &'static str {
        match self {
            Self::Processor => "processor",
            Self::Platform => "platform",
        }
    }

    /// The CA's common name.
    #[must_use]
    pub fn common_name(self) -> &'static str {
        match self {
            Self::Processor => super::PCK_PROCESSOR_CA_CN,
            Self::Platform => super::PCK_PLATFORM_CA_CN,
        }
    }
}

/// The SGX Type field (.5), an ENUMERATED.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SgxType {
    /// 0: client and single-socket platforms.
    Standard,
    /// 1: Xeon Scalable (Ice Lake SP and later), also TDX hosts.
    Scalable,
    /// 2: Scalable with memory integrity.
    ScalableWithIntegrity,
}

impl SgxType {
    fn value(self) -> i64 {
        match self {
            Self::Standard => 0,
            Self::Scalable => 1,
            Self::ScalableWithIntegrity => 2,
        }
    }
}

/// The Configuration field (.7) of Platform CA leaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct PlatformConfiguration {
    /// .7.1 dynamicPlatform.
    pub dynamic_platform: bool,
    /// .7.2 cachedKeys.
    pub cached_keys: bool,
    /// .7.3 SMTEnabled.
    pub smt_enabled: bool,
}

/// The platform TCB a PCK certificate certifies (.2). Verifiers match TCB Info levels against
/// these values, not against the CPUSVN in the report body.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PckTcb {
    /// .2.1 .. .2.16: the 16 SGX TCB component SVNs.
    pub comp_svns: [u8; 16],
    /// .2.17: PCESVN.
    pub pcesvn: u16,
    /// .2.18: the raw CPUSVN (normally the 16 component SVNs as bytes).
    pub cpusvn: [u8; 16],
}

impl PckTcb {
    /// A TCB whose CPUSVN is the component SVNs, as on real platforms.
    #[must_use]
    pub const fn new(comp_svns: [u8; 16], pcesvn: u16) -> Self {
        Self {
            comp_svns,
            pcesvn,
            cpusvn: comp_svns,
        }
    }
}

/// The content of the SGX extension of a PCK certificate.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SgxExtension {
    /// .1 PPID, 16 bytes.
    pub ppid: [u8; 16],
    /// .2 TCB.
    pub tcb: PckTcb,
    /// .3 PCE-ID, 2 bytes.
    pub pce_id: [u8; 2],
    /// .4 FMSPC, 6 bytes.
    pub fmspc: [u8; 6],
    /// .5 SGX type.
    pub sgx_type: SgxType,
    /// .6 PlatformInstanceID (Platform CA leaves only; `None` omits the field).
    pub platform_instance_id: Option<[u8; 16]>,
    /// .7 Configuration (Platform CA leaves only; `None` omits the field).
    pub configuration: Option<PlatformConfiguration>,
}

impl SgxExtension {
    /// A single-socket SGX platform, as certified by the Processor CA (FMSPC 00A067110000,
    /// the TCB of a real 2024 Xeon E platform).
    #[must_use]
    pub fn processor_default() -> Self {
        Self {
            ppid: [0x5A; 16],
            tcb: PckTcb::new([11, 11, 2, 2, 255, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0], 13),
            pce_id: [0, 0],
            fmspc: [0x00, 0xA0, 0x67, 0x11, 0x00, 0x00],
            sgx_type: SgxType::Standard,
            platform_instance_id: None,
            configuration: None,
        }
    }

    /// A TDX-capable Xeon Scalable platform, as certified by the Platform CA (FMSPC
    /// B0C06F000000).
    #[must_use]
    pub fn platform_default() -> Self {
        Self {
            ppid: [0xA5; 16],
            tcb: PckTcb::new([4, 4, 2, 2, 4, 1, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0], 11),
            pce_id: [0, 0],
            fmspc: [0xB0, 0xC0, 0x6F, 0x00, 0x00, 0x00],
            sgx_type: SgxType::Scalable,
            platform_instance_id: Some([0x3C; 16]),
            configuration: Some(PlatformConfiguration {
                dynamic_platform: true,
                cached_keys: true,
                smt_enabled: true,
            }),
        }
    }

    /// The DER extension value (the content of the extension's OCTET STRING).
    #[must_use]
    pub fn to_der(&self) -> Vec<u8> {
        yasna::construct_der(|w| {
            w.write_sequence(|w| {
                pair(w.next(), &[1], |w| w.write_bytes(&self.ppid));
                pair(w.next(), &[2], |w| {
                    w.write_sequence(|w| {
                        for (index, svn) in (1u64..).zip(self.tcb.comp_svns) {
                            pair(w.next(), &[2, index], |w| w.write_u8(svn));
                        }
                        pair(w.next(), &[2, 17], |w| w.write_u16(self.tcb.pcesvn));
                        pair(w.next(), &[2, 18], |w| w.write_bytes(&self.tcb.cpusvn));
                    });
                });
                pair(w.next(), &[3], |w| w.write_bytes(&self.pce_id));
                pair(w.next(), &[4], |w| w.write_bytes(&self.fmspc));
                pair(w.next(), &[5], |w| w.write_enum(self.sgx_type.value()));
                if let Some(id) = &self.platform_instance_id {
                    pair(w.next(), &[6], |w| w.write_bytes(id));
                }
                if let Some(config) = &self.configuration {
                    pair(w.next(), &[7], |w| {
                        w.write_sequence(|w| {
                            pair(w.next(), &[7, 1], |w| w.write_bool(config.dynamic_platform));
                            pair(w.next(), &[7, 2], |w| w.write_bool(config.cached_keys));
                            pair(w.next(), &[7, 3], |w| w.write_bool(config.smt_enabled));
                        });
                    });
                }
            });
        })
    }
}

/// `SEQUENCE { OID 1.2.840.113741.1.13.1.<suffix>, value }`.
fn pair(w: DERWriter<'_>, suffix: &[u64], value: impl FnOnce(DERWriter<'_>)) {
    let oid: Vec<u64> = SGX_EXTENSION_OID.iter().chain(suffix).copied().collect();
    w.write_sequence(|w| {
        w.next().write_oid(&ObjectIdentifier::from_slice(&oid));
        value(w.next());
    });
}

/// What to put in a PCK leaf certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PckLeafSpec {
    /// The issuing CA.
    pub ca: PckCaKind,
    /// notBefore..notAfter (default 2023-01-01 .. 2033-01-01).
    pub validity: Validity,
    /// The serial number, big-endian and positive; `None` picks a random one. Set it to revoke
    /// the leaf in a PCK CRL built before the leaf.
    pub serial: Option<Vec<u8>>,
    /// The SGX extension.
    pub extension: SgxExtension,
}

impl PckLeafSpec {
    /// A Processor CA leaf with [`SgxExtension::processor_default`].
    #[must_use]
    pub fn processor() -> Self {
        Self {
            ca: PckCaKind::Processor,
            validity: default_leaf_validity(),
            serial: None,
            extension: SgxExtension::processor_default(),
        }
    }

    /// A Platform CA leaf with [`SgxExtension::platform_default`].
    #[must_use]
    pub fn platform() -> Self {
        Self {
            ca: PckCaKind::Platform,
            validity: default_leaf_validity(),
            serial: None,
            extension: SgxExtension::platform_default(),
        }
    }
}

fn default_leaf_validity() -> Validity {
    Validity::new(unix(1_672_531_200), unix(1_988_150_400)) // 2023-01-01 .. 2033-01-01
}

/// A PCK leaf certificate with its key, its issuer and the extension it carries.
#[derive(Clone, Debug)]
pub struct PckLeaf {
    cert: TestCert,
    ca: PckCaKind,
    extension: SgxExtension,
}

impl PckLeaf {
    /// The certificate (DER, PEM, serial) and the PCK private key that signs QE reports.
    #[must_use]
    pub fn cert(&self) -> &TestCert {
        &self.cert
    }

    /// The issuing CA.
    #[must_use]
    pub fn ca(&self) -> PckCaKind {
        self.ca
    }

    /// The SGX extension the certificate carries.
    #[must_use]
    pub fn extension(&self) -> &SgxExtension {
        &self.extension
    }

    /// The certification chain in a quote: leaf, PCK CA, root, as PEM.
    #[must_use]
    pub fn chain_pem(&self, pki: &TestPki) -> String {
        [self.cert.pem(), pki.pck_ca(self.ca).pem(), pki.root().pem()].concat()
    }
}

pub(super) fn issue(pki: &TestPki, spec: &PckLeafSpec) -> Result<PckLeaf, Error> {
    let url = crl_url(&format!("pckcrl?ca={}&encoding=der", spec.ca.crl_name()));
    let mut params = leaf_params(PCK_LEAF_CN, spec.validity, &url)?;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::ContentCommitment,
    ];
    if let Some(serial) = &spec.serial {
        params.serial_number = Some(SerialNumber::from_slice(serial));
    }
    params.custom_extensions = vec![CustomExtension::from_oid_content(
        SGX_EXTENSION_OID,
        spec.extension.to_der(),
    )];
    let key = TestKey::generate()?;
    let issuer = pki.pck_ca(spec.ca).issuer()?;
    let der = params
        .signed_by(&key.rcgen_key()?, &issuer)
        .map_err(Error::certificate("PCK leaf certificate"))?
        .der()
        .to_vec();
    Ok(PckLeaf {
        cert: TestCert::from_der(der, key)?,
        ca: spec.ca,
        extension: spec.extension.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The SGX extension of the PCK leaf in `testdata/dcap/phala-dcap-qvl/sgx_quote`
    /// (Processor CA), as Intel encoded it.
    const INTEL_PROCESSOR_EXTENSION: &str = "308201C1301E060A2A864886F84D010D01010410D04EC06D4E6D92DC90D0AD3CF5EE2DDF30820164060A2A864886F84D010D0102308201543010060B2A864886F84D010D01020102010B3010060B2A864886F84D010D01020202010B3010060B2A864886F84D010D0102030201023010060B2A864886F84D010D0102040201023011060B2A864886F84D010D010205020200FF3010060B2A864886F84D010D0102060201013010060B2A864886F84D010D0102070201003010060B2A864886F84D010D0102080201003010060B2A864886F84D010D0102090201003010060B2A864886F84D010D01020A0201003010060B2A864886F84D010D01020B0201003010060B2A864886F84D010D01020C0201003010060B2A864886F84D010D01020D0201003010060B2A864886F84D010D01020E0201003010060B2A864886F84D010D01020F0201003010060B2A864886F84D010D0102100201003010060B2A864886F84D010D01021102010D301F060B2A864886F84D010D01021204100B0B0202FF01000000000000000000003010060A2A864886F84D010D0103040200003014060A2A864886F84D010D0104040600A067110000300F060A2A864886F84D010D01050A0100";

    /// The SGX extension of the PCK leaf in `testdata/dcap/automata-dcap-rs/pck_certchain.pem`
    /// (Platform CA, with PlatformInstanceID and Configuration).
    const INTEL_PLATFORM_EXTENSION: &str = "30820228301E060A2A864886F84D010D0101041025F8E1DA4FE822D04F0FF15025931F4930820165060A2A864886F84D010D0102308201553010060B2A864886F84D010D01020102010C3010060B2A864886F84D010D01020202010C3010060B2A864886F84D010D0102030201033010060B2A864886F84D010D0102040201033011060B2A864886F84D010D010205020200FF3011060B2A864886F84D010D010206020200FF3010060B2A864886F84D010D0102070201013010060B2A864886F84D010D0102080201003010060B2A864886F84D010D0102090201003010060B2A864886F84D010D01020A0201003010060B2A864886F84D010D01020B0201003010060B2A864886F84D010D01020C0201003010060B2A864886F84D010D01020D0201003010060B2A864886F84D010D01020E0201003010060B2A864886F84D010D01020F0201003010060B2A864886F84D010D0102100201003010060B2A864886F84D010D01021102010D301F060B2A864886F84D010D01021204100C0C0303FFFF010000000000000000003010060A2A864886F84D010D0103040200003014060A2A864886F84D010D0104040600606A000000300F060A2A864886F84D010D01050A0101301E060A2A864886F84D010D010604101135C40890AEDF44EB6E02D58424229E3044060A2A864886F84D010D010730363010060B2A864886F84D010D0107010101FF3010060B2A864886F84D010D0107020101003010060B2A864886F84D010D010703010100";

    fn hex16(s: &str) -> [u8; 16] {
        let mut out = [0u8; 16];
        hex::decode_to_slice(s, &mut out).expect("test constant is 16 bytes of hex");
        out
    }

    #[test]
    fn processor_extension_encodes_like_intel() {
        let ext = SgxExtension {
            ppid: hex16("D04EC06D4E6D92DC90D0AD3CF5EE2DDF"),
            tcb: PckTcb::new([11, 11, 2, 2, 255, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 13),
            pce_id: [0, 0],
            fmspc: [0x00, 0xA0, 0x67, 0x11, 0x00, 0x00],
            sgx_type: SgxType::Standard,
            platform_instance_id: None,
            configuration: None,
        };
        assert_eq!(hex::encode_upper(ext.to_der()), INTEL_PROCESSOR_EXTENSION);
    }

    #[test]
    fn platform_extension_encodes_like_intel() {
        let ext = SgxExtension {
            ppid: hex16("25F8E1DA4FE822D04F0FF15025931F49"),
            tcb: PckTcb::new([12, 12, 3, 3, 255, 255, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0], 13),
            pce_id: [0, 0],
            fmspc: [0x00, 0x60, 0x6A, 0x00, 0x00, 0x00],
            sgx_type: SgxType::Scalable,
            platform_instance_id: Some(hex16("1135C40890AEDF44EB6E02D58424229E")),
            configuration: Some(PlatformConfiguration {
                dynamic_platform: true,
                cached_keys: false,
                smt_enabled: false,
            }),
        };
        assert_eq!(hex::encode_upper(ext.to_der()), INTEL_PLATFORM_EXTENSION);
    }
}
