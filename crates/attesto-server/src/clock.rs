//! The service's only clock. Production reads the system time; integration tests (and only
//! they, through the `test-clock` feature) pin it so real evidence with old collateral verifies.

use std::time::{Duration, SystemTime};

use rustls_pki_types::UnixTime;

/// Source of "now" for verification and token timestamps.
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> UnixTime;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> UnixTime {
        UnixTime::since_unix_epoch(
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or(Duration::ZERO),
        )
    }
}

/// A clock stuck at one instant. Compiled only with the `test-clock` feature, which only this
/// crate's own tests enable.
#[cfg(feature = "test-clock")]
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub UnixTime);

#[cfg(feature = "test-clock")]
impl FixedClock {
    /// At `secs` after the Unix epoch.
    #[must_use]
    pub fn at(secs: u64) -> Self {
        FixedClock(UnixTime::since_unix_epoch(Duration::from_secs(secs)))
    }
}

#[cfg(feature = "test-clock")]
impl Clock for FixedClock {
    fn now(&self) -> UnixTime {
        self.0
    }
}

/// Seconds since the epoch, saturating into `i64` for JWT claims.
#[must_use]
pub fn unix_seconds(time: UnixTime) -> i64 {
    i64::try_from(time.as_secs()).unwrap_or(i64::MAX)
}
