//! Rate limiting of repeated log lines, so a local user cannot flood the audit log.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::clock::Clock;

/// Minimum time between two log lines for the same key.
pub const REJECTION_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// Keys tracked at once; the map is cleared when it grows past this.
const MAX_KEYS: usize = 10_000;

pub struct LogRateLimit {
    clock: Arc<dyn Clock>,
    entries: Mutex<HashMap<u32, (Instant, u64)>>,
}

impl LogRateLimit {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        LogRateLimit { clock, entries: Mutex::new(HashMap::new()) }
    }

    /// Records one event for `key`. Returns `Some(count of events not logged since the
    /// last line)` when a line is due, `None` when this one is suppressed.
    pub fn note(&self, key: u32) -> Option<u64> {
        let now = self.clock.now();
        let mut entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if entries.len() > MAX_KEYS {
            entries.clear();
        }

        match entries.get_mut(&key) {
            Some((last, suppressed)) if now.duration_since(*last) < REJECTION_LOG_INTERVAL => {
                *suppressed += 1;
                None
            }
            Some((last, suppressed)) => {
                let count = *suppressed;
                *last = now;
                *suppressed = 0;
                Some(count)
            }
            None => {
                entries.insert(key, (now, 0));
                Some(0)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SystemClock;

    #[test]
    fn rate_limit_logs_first_and_suppresses_repeats() {
        let limit = LogRateLimit::new(Arc::new(SystemClock));
        assert_eq!(limit.note(1000), Some(0));
        assert_eq!(limit.note(1000), None);
        assert_eq!(limit.note(1000), None);
        assert_eq!(limit.note(1001), Some(0));
    }
}
