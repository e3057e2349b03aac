//! TCB appraisal: the platform level from the PCK values (and TEE_TCB_SVN for TDX), the TDX
//! module identity and level, the QE level, convergence and TD 1.5 relaunch advice.

use rustls_pki_types::UnixTime;

use crate::collateral::{IsvLevel, QeIdentity, TcbInfo, TdxModule};
use crate::error::{Artifact, Error, TcbSource};
use crate::outcome::TdxModuleStatus;
use crate::pck::PckFacts;
use crate::quote::{ReportBody, SgxReportBody, TdReport};
use crate::tcb::{
    PLATFORM_STATUSES, QE_STATUSES, TDX_MODULE_STATUSES, TcbStatus, check_for_relaunch, converge,
    union_advisories,
};

/// The appraisal result.
#[derive(Debug)]
pub(crate) struct Appraisal {
    pub(crate) status: TcbStatus,
    pub(crate) platform_status: TcbStatus,
    pub(crate) qe_status: TcbStatus,
    pub(crate) tdx_module: Option<TdxModuleStatus>,
    pub(crate) td_current_status: Option<TcbStatus>,
    pub(crate) advisory_ids: Vec<String>,
    pub(crate) tcb_date: UnixTime,
}

/// Platform level for one set of SVNs, converged with its TDX module level.
struct PlatformEvaluation<'a> {
    level_status: TcbStatus,
    module: Option<(String, &'a IsvLevel)>,
    converged: TcbStatus,
    advisory_ids: Vec<String>,
    tcb_date: UnixTime,
}

fn evaluate_platform<'a>(
    tcb_info: &'a TcbInfo,
    pck: &PckFacts,
    tee_tcb_svn: Option<&[u8; 16]>,
) -> Result<PlatformEvaluation<'a>, Error> {
    let level = tcb_info
        .match_level(&pck.tcb_components, pck.pcesvn, tee_tcb_svn)
        .ok_or(Error::NoMatchingTcbLevel {
            sgx_components: pck.tcb_components,
            pcesvn: pck.pcesvn,
            tee_tcb_svn: tee_tcb_svn.copied(),
        })?;
    allowed(level.status, PLATFORM_STATUSES, Artifact::TcbInfo)?;
    let mut evaluation = PlatformEvaluation {
        level_status: level.status,
        module: None,
        converged: level.status,
        advisory_ids: level.advisory_ids.clone(),
        tcb_date: level.tcb_date,
    };
    let Some(svn) = tee_tcb_svn else {
        return Ok(evaluation);
    };
    let [module_svn, module_version, ..] = *svn;
    if module_version == 0 {
        return Ok(evaluation);
    }
    let id = format!("TDX_{module_version:02X}");
    let identity = tcb_info
        .module_identity(&id)
        .ok_or_else(|| Error::NoTdxModuleIdentity { id: id.clone() })?;
    let module_level = identity
        .levels
        .iter()
        .find(|l| u16::from(module_svn) >= l.isvsvn)
        .ok_or(Error::NoMatchingTdxModuleLevel { isvsvn: module_svn })?;
    allowed(module_level.status, TDX_MODULE_STATUSES, Artifact::TcbInfo)?;
    evaluation.converged = converge(level.status, module_level.status);
    union_advisories(&mut evaluation.advisory_ids, &module_level.advisory_ids);
    if module_level.tcb_date.as_secs() < evaluation.tcb_date.as_secs() {
        evaluation.tcb_date = module_level.tcb_date;
    }
    evaluation.module = Some((id, module_level));
    Ok(evaluation)
}

fn allowed(status: TcbStatus, valid: &[TcbStatus], artifact: Artifact) -> Result<(), Error> {
    if valid.contains(&status) {
        Ok(())
    } else {
        Err(Error::InvalidTcbStatus { artifact, status })
    }
}

/// MRSIGNERSEAM and SEAM attributes against the module identity (or the base `tdxModule`).
fn check_tdx_module(tcb_info: &TcbInfo, report: &TdReport) -> Result<(), Error> {
    let module: &TdxModule = match report.tee_tcb_svn[1] {
        0 => tcb_info
            .tdx_module
            .as_ref()
            .ok_or_else(|| Error::collateral("tcbInfo.tdxModule", "missing in a TDX TCB info"))?,
        version => {
            let id = format!("TDX_{version:02X}");
            &tcb_info
                .module_identity(&id)
                .ok_or(Error::NoTdxModuleIdentity { id })?
                .module
        }
    };
    if report.mrsignerseam != module.mrsigner {
        return Err(Error::TdxModuleMismatch { field: "mrsigner" });
    }
    let attributes_match = report
        .seam_attributes
        .iter()
        .zip(&module.attributes)
        .zip(&module.attributes_mask)
        .all(|((have, want), mask)| have & mask == want & mask);
    if !attributes_match {
        return Err(Error::TdxModuleMismatch {
            field: "attributes",
        });
    }
    Ok(())
}

/// Checks the QE report against the QE identity and returns the QE TCB level.
pub(crate) fn check_qe_identity<'a>(
    qe_identity: &'a QeIdentity,
    qe_report: &SgxReportBody,
) -> Result<&'a IsvLevel, Error> {
    if qe_report.mrsigner != qe_identity.mrsigner {
        return Err(Error::QeIdentityMismatch { field: "mrsigner" });
    }
    if qe_report.isvprodid != qe_identity.isvprodid {
        return Err(Error::QeIdentityMismatch { field: "isvprodid" });
    }
    let miscselect = qe_report.miscselect.to_le_bytes();
    let misc_ok = miscselect
        .iter()
        .zip(&qe_identity.miscselect)
        .zip(&qe_identity.miscselect_mask)
        .all(|((have, want), mask)| have & mask == want & mask);
    if !misc_ok {
        return Err(Error::QeIdentityMismatch {
            field: "miscselect",
        });
    }
    if qe_report.is_debuggable() {
        return Err(Error::QeDebug);
    }
    let attributes_ok = qe_report
        .attributes
        .iter()
        .zip(&qe_identity.attributes)
        .zip(&qe_identity.attributes_mask)
        .all(|((have, want), mask)| have & mask == want & mask);
    if !attributes_ok {
        return Err(Error::QeIdentityMismatch {
            field: "attributes",
        });
    }
    let level = qe_identity
        .match_level(qe_report.isvsvn)
        .ok_or(Error::NoMatchingQeTcbLevel {
            isvsvn: qe_report.isvsvn,
        })?;
    allowed(level.status, QE_STATUSES, Artifact::QeIdentity)?;
    Ok(level)
}

/// Appraises the platform, TDX module and QE levels and converges them. Revoked anywhere is an
/// error, never a status.
pub(crate) fn appraise(
    tcb_info: &TcbInfo,
    pck: &PckFacts,
    body: &ReportBody,
    qe_level: &IsvLevel,
) -> Result<Appraisal, Error> {
    let td = body.as_td();
    let launch = evaluate_platform(tcb_info, pck, td.map(|t| &t.tee_tcb_svn))?;
    if let Some(report) = td {
        check_tdx_module(tcb_info, report)?;
    }
    let current = match td.and_then(|t| t.tee_tcb_svn2.as_ref()) {
        Some(svn2) => Some(evaluate_platform(tcb_info, pck, Some(svn2))?),
        None => None,
    };

    if launch.level_status == TcbStatus::Revoked {
        return Err(Error::TcbRevoked {
            origin: TcbSource::Platform,
        });
    }
    if launch.module.as_ref().map(|(_, l)| l.status) == Some(TcbStatus::Revoked) {
        return Err(Error::TcbRevoked {
            origin: TcbSource::TdxModule,
        });
    }
    if qe_level.status == TcbStatus::Revoked {
        return Err(Error::TcbRevoked {
            origin: TcbSource::QuotingEnclave,
        });
    }
    let td_current_status = current
        .as_ref()
        .map(|c| converge(c.converged, qe_level.status));
    if td_current_status == Some(TcbStatus::Revoked) {
        return Err(Error::TcbRevoked {
            origin: TcbSource::TdCurrent,
        });
    }

    let mut status = converge(launch.converged, qe_level.status);
    if let Some(current) = td_current_status {
        status = check_for_relaunch(status, current);
    }
    let mut advisory_ids = launch.advisory_ids;
    union_advisories(&mut advisory_ids, &qe_level.advisory_ids);
    let tdx_module = td.map(|_| TdxModuleStatus {
        id: launch.module.as_ref().map(|(id, _)| id.clone()),
        status: launch.module.as_ref().map(|(_, l)| l.status),
    });
    Ok(Appraisal {
        status,
        platform_status: launch.level_status,
        qe_status: qe_level.status,
        tdx_module,
        td_current_status,
        advisory_ids,
        tcb_date: launch.tcb_date,
    })
}
