//! Time, injected so that sessions and token checks can be tested without sleeping.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

pub trait Clock: Send + Sync {
    /// Monotonic time, for timeouts and session lifetimes.
    fn now(&self) -> Instant;

    /// Wall-clock seconds since the Unix epoch, for token claims.
    fn unix_now(&self) -> u64;
}

/// The system's clocks.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn unix_now(&self) -> u64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map(|elapsed| elapsed.as_secs()).unwrap_or(0)
    }
}
