//! Report bodies: the SGX enclave report (also the QE report) and the TDX TD reports.

use serde::Serialize;

use crate::error::Error;
use crate::reader::Reader;

/// Length of an SGX report body.
pub const SGX_REPORT_BODY_LEN: usize = 384;
/// Length of a TD report 1.0 body.
pub const TD_REPORT_10_LEN: usize = 584;
/// Length of a TD report 1.5 body.
pub const TD_REPORT_15_LEN: usize = 648;
/// Length of a TD report 1.5 body with the extension of quote v5 body type 4.
pub const TD_REPORT_15_EX_LEN: usize = 885;

/// SGX `ATTRIBUTES.FLAGS` bit 1: the enclave can be debugged, so its secrets are not protected.
const SGX_FLAG_DEBUG: u8 = 0x02;
/// TDX `TDATTRIBUTES` bit 0 (`DEBUG`): the TD is under host control.
const TD_ATTRIBUTE_DEBUG: u8 = 0x01;

/// An SGX enclave report body (384 bytes): the enclave's identity as measured by the CPU.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SgxReportBody {
    /// CPU security version numbers at report time (not used for TCB matching: the PCK's are).
    #[serde(serialize_with = "hex::serde::serialize")]
    pub cpusvn: [u8; 16],
    /// Extended SSA frame features the enclave enabled.
    pub miscselect: u32,
    /// Extended product ID.
    #[serde(serialize_with = "hex::serde::serialize")]
    pub isvextprodid: [u8; 16],
    /// `ATTRIBUTES`: flags (8 bytes LE) then XFRM (8 bytes).
    #[serde(serialize_with = "hex::serde::serialize")]
    pub attributes: [u8; 16],
    /// Measurement of the enclave's code and initial data.
    #[serde(serialize_with = "hex::serde::serialize")]
    pub mrenclave: [u8; 32],
    /// SHA-256 of the enclave signer's public key.
    #[serde(serialize_with = "hex::serde::serialize")]
    pub mrsigner: [u8; 32],
    /// Configuration ID.
    #[serde(serialize_with = "hex::serde::serialize")]
    pub configid: [u8; 64],
    /// Product ID assigned by the signer.
    pub isvprodid: u16,
    /// Security version assigned by the signer.
    pub isvsvn: u16,
    /// Configuration security version.
    pub configsvn: u16,
    /// Family ID.
    #[serde(serialize_with = "hex::serde::serialize")]
    pub isvfamilyid: [u8; 16],
    /// Data the enclave chose to bind (usually a hash of a key or nonce).
    #[serde(serialize_with = "hex::serde::serialize")]
    pub report_data: [u8; 64],
}

impl SgxReportBody {
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, Error> {
        let cpusvn = r.array("report.cpusvn")?;
        let miscselect = r.u32("report.miscselect")?;
        r.bytes(12, "report.reserved1")?;
        let isvextprodid = r.array("report.isvextprodid")?;
        let attributes = r.array("report.attributes")?;
        let mrenclave = r.array("report.mrenclave")?;
        r.bytes(32, "report.reserved2")?;
        let mrsigner = r.array("report.mrsigner")?;
        r.bytes(32, "report.reserved3")?;
        let configid = r.array("report.configid")?;
        let isvprodid = r.u16("report.isvprodid")?;
        let isvsvn = r.u16("report.isvsvn")?;
        let configsvn = r.u16("report.configsvn")?;
        r.bytes(42, "report.reserved4")?;
        let isvfamilyid = r.array("report.isvfamilyid")?;
        let report_data = r.array("report.report_data")?;
        Ok(Self {
            cpusvn,
            miscselect,
            isvextprodid,
            attributes,
            mrenclave,
            mrsigner,
            configid,
            isvprodid,
            isvsvn,
            configsvn,
            isvfamilyid,
            report_data,
        })
    }

    /// Parses a standalone 384-byte report body (e.g. a QE report).
    pub(crate) fn parse(bytes: &[u8], base: usize) -> Result<Self, Error> {
        let mut r = Reader::new(bytes, base);
        let body = Self::read(&mut r)?;
        r.finish("report")?;
        Ok(body)
    }

    /// Whether the enclave was launched in debug mode (`ATTRIBUTES.FLAGS.DEBUG`).
    #[must_use]
    pub fn is_debuggable(&self) -> bool {
        self.attributes[0] & SGX_FLAG_DEBUG != 0
    }
}

/// The fields that TD report 1.5-Ex (quote v5 body type 4) adds after a TD 1.5 report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TdReportExtension {
    /// VM index within a partitioned TD (0 = the L1 VMM or an unpartitioned TD).
    pub vmid: u8,
    /// TD instance ID, renewed on relaunch.
    #[serde(serialize_with = "hex::serde::serialize")]
    pub td_id: [u8; 32],
    /// Hash of the device information.
    #[serde(serialize_with = "hex::serde::serialize")]
    pub dev_info: [u8; 48],
    /// Service TD hash bound at TD creation.
    #[serde(serialize_with = "hex::serde::serialize")]
    pub init_service_td_hash: [u8; 48],
    /// Service TD attributes at TD creation.
    #[serde(serialize_with = "hex::serde::serialize")]
    pub init_service_td_attributes: [u8; 8],
    /// CPUSVN at TD creation.
    #[serde(serialize_with = "hex::serde::serialize")]
    pub init_cpu_svn: [u8; 16],
    /// TEE_TCB_SVN at TD creation.
    #[serde(serialize_with = "hex::serde::serialize")]
    pub init_tee_tcb_svn: [u8; 16],
    /// Platform model info where `init_tee_tcb_svn` was taken.
    #[serde(serialize_with = "hex::serde::serialize")]
    pub init_tee_fmspc: [u8; 12],
    /// Currently bound service TD hash.
    #[serde(serialize_with = "hex::serde::serialize")]
    pub cur_service_td_hash: [u8; 48],
    /// Currently bound service TD attributes.
    #[serde(serialize_with = "hex::serde::serialize")]
    pub cur_service_td_attributes: [u8; 8],
}

/// A TDX TD report (1.0, 1.5 or 1.5-Ex): the TD's and the TDX module's measurements.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TdReport {
    /// TEE TCB SVNs at TD launch: `[0]` module SVN, `[1]` module major version, then TCB comps.
    #[serde(serialize_with = "hex::serde::serialize")]
    pub tee_tcb_svn: [u8; 16],
    /// Measurement of the TDX module.
    #[serde(serialize_with = "hex::serde::serialize")]
    pub mrseam: [u8; 48],
    /// Signer of the TDX module (zero for Intel's).
    #[serde(serialize_with = "hex::serde::serialize")]
    pub mrsignerseam: [u8; 48],
    /// TDX module attributes.
    #[serde(serialize_with = "hex::serde::serialize")]
    pub seam_attributes: [u8; 8],
    /// TD attributes (bit 0 = debug).
    #[serde(serialize_with = "hex::serde::serialize")]
    pub td_attributes: [u8; 8],
    /// Extended features allowed for the TD.
    #[serde(serialize_with = "hex::serde::serialize")]
    pub xfam: [u8; 8],
    /// Measurement of the TD's initial contents.
    #[serde(serialize_with = "hex::serde::serialize")]
    pub mrtd: [u8; 48],
    /// Software-defined configuration ID.
    #[serde(serialize_with = "hex::serde::serialize")]
    pub mrconfigid: [u8; 48],
    /// Software-defined owner ID.
    #[serde(serialize_with = "hex::serde::serialize")]
    pub mrowner: [u8; 48],
    /// Software-defined owner configuration.
    #[serde(serialize_with = "hex::serde::serialize")]
    pub mrownerconfig: [u8; 48],
    /// Runtime measurement registers 0..=3.
    #[serde(serialize_with = "serialize_rtmrs")]
    pub rtmr: [[u8; 48]; 4],
    /// Data the TD chose to bind.
    #[serde(serialize_with = "hex::serde::serialize")]
    pub report_data: [u8; 64],
    /// TD 1.5: TEE TCB SVNs now (after TD-preserving module updates).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "serialize_opt_hex"
    )]
    pub tee_tcb_svn2: Option<[u8; 16]>,
    /// TD 1.5: measurement of the bound service TDs.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "serialize_opt_hex"
    )]
    pub mrservicetd: Option<[u8; 48]>,
    /// TD 1.5-Ex (v5 body type 4) extension fields.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extension: Option<TdReportExtension>,
}

fn serialize_rtmrs<S: serde::Serializer>(rtmrs: &[[u8; 48]; 4], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(rtmrs.iter().map(hex::encode))
}

fn serialize_opt_hex<S: serde::Serializer, T: AsRef<[u8]>>(
    value: &Option<T>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(v) => s.serialize_str(&hex::encode(v)),
        None => s.serialize_none(),
    }
}

impl TdReport {
    /// Reads a TD report of `len` bytes (584, 648 or 885).
    pub(crate) fn read(r: &mut Reader<'_>, len: usize) -> Result<Self, Error> {
        let tee_tcb_svn = r.array("report.tee_tcb_svn")?;
        let mrseam = r.array("report.mrseam")?;
        let mrsignerseam = r.array("report.mrsignerseam")?;
        let seam_attributes = r.array("report.seam_attributes")?;
        let td_attributes = r.array("report.td_attributes")?;
        let xfam = r.array("report.xfam")?;
        let mrtd = r.array("report.mrtd")?;
        let mrconfigid = r.array("report.mrconfigid")?;
        let mrowner = r.array("report.mrowner")?;
        let mrownerconfig = r.array("report.mrownerconfig")?;
        let rtmr = [
            r.array("report.rtmr0")?,
            r.array("report.rtmr1")?,
            r.array("report.rtmr2")?,
            r.array("report.rtmr3")?,
        ];
        let report_data = r.array("report.report_data")?;
        let (tee_tcb_svn2, mrservicetd) = if len >= TD_REPORT_15_LEN {
            (
                Some(r.array("report.tee_tcb_svn2")?),
                Some(r.array("report.mrservicetd")?),
            )
        } else {
            (None, None)
        };
        let extension = if len >= TD_REPORT_15_EX_LEN {
            Some(TdReportExtension {
                vmid: r.u8("report.vmid")?,
                td_id: r.array("report.td_id")?,
                dev_info: r.array("report.dev_info")?,
                init_service_td_hash: r.array("report.init_service_td_hash")?,
                init_service_td_attributes: r.array("report.init_service_td_attributes")?,
                init_cpu_svn: r.array("report.init_cpu_svn")?,
                init_tee_tcb_svn: r.array("report.init_tee_tcb_svn")?,
                init_tee_fmspc: r.array("report.init_tee_fmspc")?,
                cur_service_td_hash: r.array("report.cur_service_td_hash")?,
                cur_service_td_attributes: r.array("report.cur_service_td_attributes")?,
            })
        } else {
            None
        };
        Ok(Self {
            tee_tcb_svn,
            mrseam,
            mrsignerseam,
            seam_attributes,
            td_attributes,
            xfam,
            mrtd,
            mrconfigid,
            mrowner,
            mrownerconfig,
            rtmr,
            report_data,
            tee_tcb_svn2,
            mrservicetd,
            extension,
        })
    }

    /// Whether the TD runs in debug mode (`TDATTRIBUTES.DEBUG`): the host can read its memory.
    #[must_use]
    pub fn is_debuggable(&self) -> bool {
        self.td_attributes[0] & TD_ATTRIBUTE_DEBUG != 0
    }
}

/// The report body of a quote.
#[expect(
    clippy::large_enum_variant,
    reason = "built once per verification and moved into the result; boxing buys nothing"
)]
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ReportBody {
    /// An SGX enclave report.
    Sgx(SgxReportBody),
    /// A TDX TD report.
    Td(TdReport),
}

impl ReportBody {
    /// The 64 bytes the enclave or TD bound into its report.
    #[must_use]
    pub fn report_data(&self) -> &[u8; 64] {
        match self {
            Self::Sgx(b) => &b.report_data,
            Self::Td(b) => &b.report_data,
        }
    }

    /// Whether the enclave or TD runs in debug mode.
    #[must_use]
    pub fn is_debuggable(&self) -> bool {
        match self {
            Self::Sgx(b) => b.is_debuggable(),
            Self::Td(b) => b.is_debuggable(),
        }
    }

    /// The SGX report, if this is one.
    #[must_use]
    pub fn as_sgx(&self) -> Option<&SgxReportBody> {
        match self {
            Self::Sgx(b) => Some(b),
            Self::Td(_) => None,
        }
    }

    /// The TD report, if this is one.
    #[must_use]
    pub fn as_td(&self) -> Option<&TdReport> {
        match self {
            Self::Td(b) => Some(b),
            Self::Sgx(_) => None,
        }
    }
}
