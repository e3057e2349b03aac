//! Times and validity windows.
//!
//! Every time is a [`UnixTime`] passed in by the caller: this crate never reads a clock, so the
//! same inputs always give data with the same windows. [`REFERENCE_TIME`] is the instant the
//! defaults are built around.

use std::time::Duration;

use rustls_pki_types::UnixTime;
use time::OffsetDateTime;
use time::macros::format_description;

use crate::Error;

/// The instant every default window contains: 2026-01-01T00:00:00Z.
///
/// Verify data minted with default options at this time. Call
/// [`CollateralBuilder::at`](crate::CollateralBuilder::at) to build collateral around another
/// instant (for example "now", in a simulator).
pub const REFERENCE_TIME: UnixTime = unix(1_767_225_600);

/// One day, the unit of most default windows.
pub const DAY: Duration = Duration::from_secs(86_400);

/// A [`UnixTime`] from seconds since the epoch (a `const` shorthand).
#[must_use]
pub const fn unix(secs: u64) -> UnixTime {
    UnixTime::since_unix_epoch(Duration::from_secs(secs))
}

/// `t + d`, saturating at the largest representable time.
#[must_use]
pub fn add(t: UnixTime, d: Duration) -> UnixTime {
    unix(t.as_secs().saturating_add(d.as_secs()))
}

/// `t - d`, saturating at the epoch.
#[must_use]
pub fn sub(t: UnixTime, d: Duration) -> UnixTime {
    unix(t.as_secs().saturating_sub(d.as_secs()))
}

/// A closed time window: `not_before..=not_after` of a certificate, `thisUpdate..=nextUpdate`
/// of a CRL, `issueDate..=nextUpdate` of a TCB Info or QE Identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Validity {
    /// First instant of the window.
    pub not_before: UnixTime,
    /// Last instant of the window.
    pub not_after: UnixTime,
}

impl Validity {
    /// The window `not_before..=not_after`.
    #[must_use]
    pub const fn new(not_before: UnixTime, not_after: UnixTime) -> Self {
        Self {
            not_before,
            not_after,
        }
    }

    /// The window from `before` ahead of `t` to `after` past it. Handy for "valid around now"
    /// (`around(now, DAY, 29 * DAY)`) and for windows entirely in the past or future.
    #[must_use]
    pub fn around(t: UnixTime, before: Duration, after: Duration) -> Self {
        Self::new(sub(t, before), add(t, after))
    }

    /// Whether `t` is inside the window (both ends included).
    #[must_use]
    pub fn contains(&self, t: UnixTime) -> bool {
        self.not_before.as_secs() <= t.as_secs() && t.as_secs() <= self.not_after.as_secs()
    }
}

/// The window the CRLs, TCB Info and QE Identity use by default around `t`: issued a day
/// before, next update 29 days after (PCS publishes roughly monthly).
#[must_use]
pub fn collateral_window(t: UnixTime) -> Validity {
    Validity::around(t, DAY, DAY.saturating_mul(29))
}

pub(crate) fn to_offset(t: UnixTime, field: &'static str) -> Result<OffsetDateTime, Error> {
    let secs = t.as_secs();
    i64::try_from(secs)
        .ok()
        .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
        .ok_or(Error::TimeOutOfRange { field, secs })
}

/// Intel's collateral date format, `2025-06-19T10:56:11Z` (UTC, whole seconds).
pub(crate) fn json_date(t: UnixTime, field: &'static str) -> Result<String, Error> {
    let format = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    to_offset(t, field)?
        .format(&format)
        .map_err(|_| Error::TimeOutOfRange {
            field,
            secs: t.as_secs(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_date_matches_intel_format() {
        assert_eq!(
            json_date(REFERENCE_TIME, "t").ok().as_deref(),
            Some("2026-01-01T00:00:00Z")
        );
        assert_eq!(
            json_date(unix(1_750_330_571), "t").ok().as_deref(),
            Some("2025-06-19T10:56:11Z")
        );
    }

    #[test]
    fn window_contains_its_ends_only() {
        let w = collateral_window(REFERENCE_TIME);
        assert!(w.contains(w.not_before) && w.contains(w.not_after));
        assert!(!w.contains(sub(w.not_before, Duration::from_secs(1))));
        assert!(!w.contains(add(w.not_after, Duration::from_secs(1))));
    }
}
