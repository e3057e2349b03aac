//! Report bodies: the SGX enclave report (also the QE report) and the TDX TD reports.
//!
//! Layouts are Intel's (`sgx_report_body_t`, `sgx_report2_body_t` and the v1.5 / v1.5-Ex
//! extensions), all integers little-endian, reserved bytes zero.

use super::writer::Out;

/// Length of an SGX report body (and of the QE report).
pub const SGX_REPORT_BODY_LEN: usize = 384;
/// Length of a TDX 1.0 TD report body.
pub const TD_REPORT_10_LEN: usize = 584;
/// Length of a TDX 1.5 TD report body.
pub const TD_REPORT_15_LEN: usize = 648;
/// Length of a TDX 1.5-Ex TD report body.
pub const TD_REPORT_15_EX_LEN: usize = 885;

/// MRSIGNER of Intel's production Quoting Enclave (what Intel's QE Identity `QE` expects).
pub const INTEL_QE_MRSIGNER: [u8; 32] = [
    0x8C, 0x4F, 0x57, 0x75, 0xD7, 0x96, 0x50, 0x3E, 0x96, 0x13, 0x7F, 0x77, 0xC6, 0x8A, 0x82, 0x9A,
    0x00, 0x56, 0xAC, 0x8D, 0xED, 0x70, 0x14, 0x0B, 0x08, 0x1B, 0x09, 0x44, 0x90, 0xC5, 0x7B, 0xFF,
];
/// MRSIGNER of Intel's production TD Quoting Enclave (QE Identity `TD_QE`).
pub const INTEL_TD_QE_MRSIGNER: [u8; 32] = [
    0xDC, 0x9E, 0x2A, 0x7C, 0x6F, 0x94, 0x8F, 0x17, 0x47, 0x4E, 0x34, 0xA7, 0xFC, 0x43, 0xED, 0x03,
    0x0F, 0x7C, 0x15, 0x63, 0xF1, 0xBA, 0xBD, 0xDF, 0x63, 0x40, 0xC8, 0x2E, 0x0E, 0x54, 0xA8, 0xC5,
];

/// An SGX report body (384 bytes): the enclave in an SGX quote, and the QE report in every
/// quote.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SgxReportBody {
    /// CPUSVN @0 (16).
    pub cpusvn: [u8; 16],
    /// MISCSELECT @16.
    pub miscselect: u32,
    /// ISVEXTPRODID @32 (16).
    pub isvextprodid: [u8; 16],
    /// ATTRIBUTES @48 (16): flags u64 then XFRM u64. Flags bit 1 (0x02 in byte 0) is DEBUG.
    pub attributes: [u8; 16],
    /// MRENCLAVE @64 (32).
    pub mrenclave: [u8; 32],
    /// MRSIGNER @128 (32).
    pub mrsigner: [u8; 32],
    /// CONFIGID @192 (64).
    pub configid: [u8; 64],
    /// ISVPRODID @256.
    pub isvprodid: u16,
    /// ISVSVN @258.
    pub isvsvn: u16,
    /// CONFIGSVN @260.
    pub configsvn: u16,
    /// ISVFAMILYID @304 (16).
    pub isvfamilyid: [u8; 16],
    /// REPORTDATA @320 (64).
    pub report_data: [u8; 64],
}

/// The DEBUG flag in byte 0 of SGX ATTRIBUTES.
pub const SGX_ATTRIBUTE_DEBUG: u8 = 0x02;

impl Default for SgxReportBody {
    /// A production (non-debug) 64-bit application enclave with recognisable placeholder
    /// measurements.
    fn default() -> Self {
        Self {
            cpusvn: [11, 11, 2, 2, 255, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            miscselect: 0,
            isvextprodid: [0; 16],
            // INIT | MODE64BIT; XFRM = x87 | SSE.
            attributes: [0x05, 0, 0, 0, 0, 0, 0, 0, 0x03, 0, 0, 0, 0, 0, 0, 0],
            mrenclave: [0xE1; 32],
            mrsigner: [0x51; 32],
            configid: [0; 64],
            isvprodid: 1,
            isvsvn: 1,
            configsvn: 0,
            isvfamilyid: [0; 16],
            report_data: [0; 64],
        }
    }
}

impl SgxReportBody {
    /// The report of Intel's SGX Quoting Enclave as real v3 quotes carry it (MRSIGNER
    /// [`INTEL_QE_MRSIGNER`], ISVPRODID 1, ISVSVN 8, INIT|MODE64BIT|PROVISIONKEY). REPORTDATA
    /// is filled in by the quote builder.
    #[must_use]
    pub fn intel_qe() -> Self {
        Self {
            attributes: [0x15, 0, 0, 0, 0, 0, 0, 0, 0x1F, 0, 0, 0, 0, 0, 0, 0],
            mrenclave: [0xC3; 32],
            mrsigner: INTEL_QE_MRSIGNER,
            isvprodid: 1,
            isvsvn: 8,
            ..Self::default()
        }
    }

    /// The report of Intel's TD Quoting Enclave (MRSIGNER [`INTEL_TD_QE_MRSIGNER`],
    /// ISVPRODID 2, ISVSVN 4).
    #[must_use]
    pub fn intel_td_qe() -> Self {
        Self {
            mrenclave: [0xD7; 32],
            mrsigner: INTEL_TD_QE_MRSIGNER,
            isvprodid: 2,
            isvsvn: 4,
            cpusvn: [4, 4, 2, 2, 4, 1, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0],
            ..Self::intel_qe()
        }
    }

    /// The 384-byte encoding.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Out::with_capacity(SGX_REPORT_BODY_LEN);
        out.put(&self.cpusvn);
        out.u32(self.miscselect);
        out.zeros(12);
        out.put(&self.isvextprodid);
        out.put(&self.attributes);
        out.put(&self.mrenclave);
        out.zeros(32);
        out.put(&self.mrsigner);
        out.zeros(32);
        out.put(&self.configid);
        out.u16(self.isvprodid);
        out.u16(self.isvsvn);
        out.u16(self.configsvn);
        out.zeros(42);
        out.put(&self.isvfamilyid);
        out.put(&self.report_data);
        out.into_bytes()
    }
}

/// The fields a TDX 1.5-Ex report (v5 body type 4) adds after the TDX 1.5 report.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TdReportExtension {
    /// VMID @648 (1).
    pub vmid: u8,
    /// TD_ID @649 (32).
    pub td_id: [u8; 32],
    /// DEV_INFO hash @681 (48).
    pub dev_info: [u8; 48],
    /// INIT_SERVICE_TD_HASH @729 (48).
    pub init_service_td_hash: [u8; 48],
    /// INIT_SERVICE_TD_ATTRIBUTES @777 (8).
    pub init_service_td_attributes: [u8; 8],
    /// INIT_CPU_SVN @785 (16).
    pub init_cpu_svn: [u8; 16],
    /// INIT_TEE_TCB_SVN @801 (16).
    pub init_tee_tcb_svn: [u8; 16],
    /// INIT_TEE_FMSPC @817 (12).
    pub init_tee_fmspc: [u8; 12],
    /// CUR_SERVICE_TD_HASH @829 (48).
    pub cur_service_td_hash: [u8; 48],
    /// CUR_SERVICE_TD_ATTRIBUTES @877 (8).
    pub cur_service_td_attributes: [u8; 8],
}

impl Default for TdReportExtension {
    /// VM 0 (the TD itself), a placeholder TD_ID, no service TD bound.
    fn default() -> Self {
        Self {
            vmid: 0,
            td_id: [0x1D; 32],
            dev_info: [0; 48],
            init_service_td_hash: [0; 48],
            init_service_td_attributes: [0; 8],
            init_cpu_svn: [0; 16],
            init_tee_tcb_svn: [0; 16],
            init_tee_fmspc: [0; 12],
            cur_service_td_hash: [0; 48],
            cur_service_td_attributes: [0; 8],
        }
    }
}

/// A TDX TD report. Which fields are encoded depends on the [`ReportBody`] variant holding it:
/// TD 1.0 stops after `report_data`, TD 1.5 adds `tee_tcb_svn2` and `mrservicetd`, TD 1.5-Ex
/// adds `extension`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TdReport {
    /// TEE_TCB_SVN @0 (16). Byte 0 is the TDX module SVN, byte 1 its major version (selects the
    /// `TDX_%02X` module identity when non-zero).
    pub tee_tcb_svn: [u8; 16],
    /// MRSEAM @16 (48).
    pub mrseam: [u8; 48],
    /// MRSIGNERSEAM @64 (48); all zero for Intel's module.
    pub mrsignerseam: [u8; 48],
    /// SEAMATTRIBUTES @112 (8).
    pub seam_attributes: [u8; 8],
    /// TDATTRIBUTES @120 (8). Bit 0 of byte 0 is DEBUG.
    pub td_attributes: [u8; 8],
    /// XFAM @128 (8).
    pub xfam: [u8; 8],
    /// MRTD @136 (48).
    pub mrtd: [u8; 48],
    /// MRCONFIGID @184 (48).
    pub mrconfigid: [u8; 48],
    /// MROWNER @232 (48).
    pub mrowner: [u8; 48],
    /// MROWNERCONFIG @280 (48).
    pub mrownerconfig: [u8; 48],
    /// RTMR0..RTMR3 @328 (4 × 48).
    pub rtmr: [[u8; 48]; 4],
    /// REPORTDATA @520 (64).
    pub report_data: [u8; 64],
    /// TEE_TCB_SVN2 @584 (16), TD 1.5 and later.
    pub tee_tcb_svn2: [u8; 16],
    /// MRSERVICETD @600 (48), TD 1.5 and later.
    pub mrservicetd: [u8; 48],
    /// TD 1.5-Ex fields @648.
    pub extension: TdReportExtension,
}

impl Default for TdReport {
    /// A production (non-debug) TD on TDX module 1.x SVN 11 with placeholder measurements.
    fn default() -> Self {
        let tee_tcb_svn = [11, 1, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        Self {
            tee_tcb_svn,
            mrseam: [0x5E; 48],
            mrsignerseam: [0; 48],
            seam_attributes: [0; 8],
            // SEPT_VE_DISABLE (bit 28); DEBUG (bit 0) clear.
            td_attributes: [0, 0, 0, 0x10, 0, 0, 0, 0],
            xfam: [0xE7, 0x02, 0x06, 0, 0, 0, 0, 0],
            mrtd: [0x7D; 48],
            mrconfigid: [0; 48],
            mrowner: [0; 48],
            mrownerconfig: [0; 48],
            rtmr: [[0x40; 48], [0x41; 48], [0x42; 48], [0x43; 48]],
            report_data: [0; 64],
            tee_tcb_svn2: tee_tcb_svn,
            mrservicetd: [0; 48],
            extension: TdReportExtension::default(),
        }
    }
}

/// The DEBUG flag in byte 0 of TDATTRIBUTES.
pub const TD_ATTRIBUTE_DEBUG: u8 = 0x01;

/// The report body of a quote, which also fixes its layout and v5 body type.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ReportBody {
    /// SGX enclave report, 384 bytes (v5 body type 1).
    Sgx(SgxReportBody),
    /// TDX 1.0 TD report, 584 bytes (v5 body type 2).
    Td10(TdReport),
    /// TDX 1.5 TD report, 648 bytes (v5 body type 3).
    Td15(TdReport),
    /// TDX 1.5-Ex TD report, 885 bytes (v5 body type 4).
    Td15Ex(TdReport),
}

impl ReportBody {
    /// The body type a v5 quote declares for it.
    #[must_use]
    pub fn v5_body_type(&self) -> u16 {
        match self {
            Self::Sgx(_) => 1,
            Self::Td10(_) => 2,
            Self::Td15(_) => 3,
            Self::Td15Ex(_) => 4,
        }
    }

    /// Whether this is a TDX report.
    #[must_use]
    pub fn is_tdx(&self) -> bool {
        !matches!(self, Self::Sgx(_))
    }

    /// The SGX report, if this is one.
    #[must_use]
    pub fn as_sgx(&self) -> Option<&SgxReportBody> {
        match self {
            Self::Sgx(body) => Some(body),
            _ => None,
        }
    }

    /// The TD report, if this is one.
    #[must_use]
    pub fn as_td(&self) -> Option<&TdReport> {
        match self {
            Self::Sgx(_) => None,
            Self::Td10(td) | Self::Td15(td) | Self::Td15Ex(td) => Some(td),
        }
    }

    /// A short name for messages: `SGX`, `TD 1.0`, `TD 1.5`, `TD 1.5-Ex`.
    #[must_use]
    pub fn kind_name(&self) -> &'static str {
        match self {
            Self::Sgx(_) => "SGX",
            Self::Td10(_) => "TD 1.0",
            Self::Td15(_) => "TD 1.5",
            Self::Td15Ex(_) => "TD 1.5-Ex",
        }
    }

    /// The encoding (384, 584, 648 or 885 bytes).
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Self::Sgx(body) => body.to_bytes(),
            Self::Td10(td) => td_bytes(td, TD_REPORT_10_LEN),
            Self::Td15(td) => td_bytes(td, TD_REPORT_15_LEN),
            Self::Td15Ex(td) => td_bytes(td, TD_REPORT_15_EX_LEN),
        }
    }
}

fn td_bytes(td: &TdReport, len: usize) -> Vec<u8> {
    let mut out = Out::with_capacity(len);
    out.put(&td.tee_tcb_svn);
    out.put(&td.mrseam);
    out.put(&td.mrsignerseam);
    out.put(&td.seam_attributes);
    out.put(&td.td_attributes);
    out.put(&td.xfam);
    out.put(&td.mrtd);
    out.put(&td.mrconfigid);
    out.put(&td.mrowner);
    out.put(&td.mrownerconfig);
    for rtmr in &td.rtmr {
        out.put(rtmr);
    }
    out.put(&td.report_data);
    if len >= TD_REPORT_15_LEN {
        out.put(&td.tee_tcb_svn2);
        out.put(&td.mrservicetd);
    }
    if len >= TD_REPORT_15_EX_LEN {
        let ext = &td.extension;
        out.put(&[ext.vmid]);
        out.put(&ext.td_id);
        out.put(&ext.dev_info);
        out.put(&ext.init_service_td_hash);
        out.put(&ext.init_service_td_attributes);
        out.put(&ext.init_cpu_svn);
        out.put(&ext.init_tee_tcb_svn);
        out.put(&ext.init_tee_fmspc);
        out.put(&ext.cur_service_td_hash);
        out.put(&ext.cur_service_td_attributes);
    }
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_have_intel_lengths() {
        let td = TdReport::default();
        assert_eq!(
            SgxReportBody::default().to_bytes().len(),
            SGX_REPORT_BODY_LEN
        );
        assert_eq!(
            ReportBody::Td10(td.clone()).to_bytes().len(),
            TD_REPORT_10_LEN
        );
        assert_eq!(
            ReportBody::Td15(td.clone()).to_bytes().len(),
            TD_REPORT_15_LEN
        );
        assert_eq!(ReportBody::Td15Ex(td).to_bytes().len(), TD_REPORT_15_EX_LEN);
    }

    #[test]
    fn sgx_fields_land_at_their_offsets() {
        let body = SgxReportBody {
            miscselect: 0x0403_0201,
            mrenclave: [0xAA; 32],
            mrsigner: [0xBB; 32],
            isvprodid: 0x1234,
            isvsvn: 0x5678,
            configsvn: 0x9ABC,
            isvfamilyid: [0xCC; 16],
            report_data: [0xDD; 64],
            ..SgxReportBody::default()
        };
        let b = body.to_bytes();
        assert_eq!(&b[16..20], &[1, 2, 3, 4]);
        assert_eq!(&b[64..96], &[0xAA; 32]);
        assert_eq!(&b[128..160], &[0xBB; 32]);
        assert_eq!(&b[256..262], &[0x34, 0x12, 0x78, 0x56, 0xBC, 0x9A]);
        assert_eq!(&b[304..320], &[0xCC; 16]);
        assert_eq!(&b[320..384], &[0xDD; 64]);
    }

    #[test]
    fn td_fields_land_at_their_offsets() {
        let td = TdReport {
            mrtd: [0xAA; 48],
            report_data: [0xBB; 64],
            mrservicetd: [0xCC; 48],
            extension: TdReportExtension {
                vmid: 3,
                cur_service_td_attributes: [0xDD; 8],
                ..TdReportExtension::default()
            },
            ..TdReport::default()
        };
        let b = ReportBody::Td15Ex(td).to_bytes();
        assert_eq!(&b[136..184], &[0xAA; 48]);
        assert_eq!(&b[520..584], &[0xBB; 64]);
        assert_eq!(&b[600..648], &[0xCC; 48]);
        assert_eq!(b[648], 3);
        assert_eq!(&b[877..885], &[0xDD; 8]);
    }
}
