//! Time conversions: certificates carry signed seconds, the API takes [`UnixTime`].

use core::time::Duration;

use rustls_pki_types::UnixTime;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A [`UnixTime`] from Unix seconds; `None` before 1970.
pub(crate) fn from_unix(secs: i64) -> Option<UnixTime> {
    u64::try_from(secs)
        .ok()
        .map(|s| UnixTime::since_unix_epoch(Duration::from_secs(s)))
}

/// RFC 3339 in UTC, for messages.
pub(crate) fn format_rfc3339(t: UnixTime) -> String {
    i64::try_from(t.as_secs())
        .ok()
        .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
        .and_then(|dt| dt.format(&Rfc3339).ok())
        .unwrap_or_else(|| format!("@{}", t.as_secs()))
}
