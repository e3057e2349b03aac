//! Conversions between the time formats of quotes, certificates and collateral and
//! [`UnixTime`], the one time type of this crate.

use core::fmt;
use core::time::Duration;

use rustls_pki_types::UnixTime;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Unix seconds of a time, for comparisons.
pub(crate) fn secs(t: UnixTime) -> u64 {
    t.as_secs()
}

/// A [`UnixTime`] from non-negative Unix seconds; `None` for times before 1970.
pub(crate) fn from_unix(secs: i64) -> Option<UnixTime> {
    u64::try_from(secs)
        .ok()
        .map(|s| UnixTime::since_unix_epoch(Duration::from_secs(s)))
}

/// Parses an RFC 3339 timestamp such as Intel's `2025-06-19T10:56:11Z`.
pub(crate) fn parse_rfc3339(text: &str) -> Option<UnixTime> {
    let parsed = OffsetDateTime::parse(text, &Rfc3339).ok()?;
    from_unix(parsed.unix_timestamp())
}

/// Formats a time as RFC 3339 in UTC, for messages and JSON output.
#[must_use]
pub fn format_rfc3339(t: UnixTime) -> String {
    i64::try_from(t.as_secs())
        .ok()
        .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
        .and_then(|dt| dt.format(&Rfc3339).ok())
        .unwrap_or_else(|| format!("@{}", t.as_secs()))
}

/// Displays a [`UnixTime`] as RFC 3339 (used in error messages).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rfc3339Time(pub UnixTime);

impl fmt::Display for Rfc3339Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_rfc3339(self.0))
    }
}

/// Serde helper: a [`UnixTime`] as an RFC 3339 string.
pub(crate) mod rfc3339_serde {
    use rustls_pki_types::UnixTime;
    use serde::Serializer;

    pub(crate) fn serialize<S: Serializer>(t: &UnixTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format_rfc3339(*t))
    }
}

/// A validity window `not_before ..= not_after` of a certificate, CRL or collateral document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Window {
    pub(crate) not_before: UnixTime,
    pub(crate) not_after: UnixTime,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trip() {
        let t = parse_rfc3339("2025-06-19T10:56:11Z");
        assert_eq!(t.map(|t| t.as_secs()), Some(1_750_330_571));
        assert_eq!(
            t.map(format_rfc3339).as_deref(),
            Some("2025-06-19T10:56:11Z")
        );
        assert_eq!(parse_rfc3339("1969-12-31T23:59:59Z"), None);
        assert_eq!(parse_rfc3339("yesterday"), None);
    }
}
