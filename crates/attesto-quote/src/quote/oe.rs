//! Open Enclave reports: a 16-byte header `{u32 version = 1, u32 type = 2, u64 size}` before an
//! SGX quote. MAA's `attest/OpenEnclave` endpoint receives these.

use crate::error::Error;

/// Length of the Open Enclave report header.
pub const OE_HEADER_LEN: usize = 16;
const OE_REPORT_VERSION: u32 = 1;
/// `OE_REPORT_TYPE_SGX_REMOTE`.
const OE_REPORT_TYPE_SGX_REMOTE: u32 = 2;

/// Whether the bytes start like an Open Enclave report rather than a quote. Unambiguous: a
/// quote starts with version 3..=5 and key type 2, never with the u32 value 1.
#[must_use]
pub fn is_oe_report(bytes: &[u8]) -> bool {
    bytes.get(..4) == Some(&OE_REPORT_VERSION.to_le_bytes()[..])
}

/// Strips the Open Enclave header and returns the SGX quote it wraps (`size` bytes).
///
/// # Errors
/// [`Error::OeReportMalformed`] if the header is short, has another version or type, or
/// declares more bytes than follow.
pub fn parse_oe_report(bytes: &[u8]) -> Result<&[u8], Error> {
    let header = bytes.get(..OE_HEADER_LEN).ok_or(Error::OeReportMalformed {
        reason: "shorter than the 16-byte header",
    })?;
    let (version, rest) = header.split_at(4);
    let (report_type, size) = rest.split_at(4);
    let word = |b: &[u8]| b.try_into().map(u32::from_le_bytes).unwrap_or(u32::MAX);
    if word(version) != OE_REPORT_VERSION {
        return Err(Error::OeReportMalformed {
            reason: "header version is not 1",
        });
    }
    if word(report_type) != OE_REPORT_TYPE_SGX_REMOTE {
        return Err(Error::OeReportMalformed {
            reason: "report type is not SGX remote (2)",
        });
    }
    let size = size.try_into().map(u64::from_le_bytes).unwrap_or(u64::MAX);
    let size = usize::try_from(size).unwrap_or(usize::MAX);
    OE_HEADER_LEN
        .checked_add(size)
        .and_then(|end| bytes.get(OE_HEADER_LEN..end))
        .ok_or(Error::OeReportMalformed {
            reason: "declared size exceeds the data",
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_header() {
        let mut report = vec![1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0];
        report.extend_from_slice(&[7, 8, 9, 0]);
        assert!(is_oe_report(&report));
        assert_eq!(parse_oe_report(&report).ok(), Some(&[7u8, 8, 9][..]));
        report[8] = 5;
        assert!(parse_oe_report(&report).is_err());
        report[8] = 3;
        report[4] = 1;
        assert!(parse_oe_report(&report).is_err());
        assert!(parse_oe_report(&report[..10]).is_err());
        assert!(!is_oe_report(&[3, 0, 2, 0]));
    }
}
