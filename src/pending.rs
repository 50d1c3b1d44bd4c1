//! The gauge of logins in progress, shown by `ultraauthctl status`.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Counts logins that have started and not yet ended.
#[derive(Default)]
pub struct PendingLogins {
    count: AtomicUsize,
}

impl PendingLogins {
    /// Counts one login until the returned guard is dropped, on every path out of the
    /// login, a panic included.
    pub fn start(&self) -> PendingLogin<'_> {
        self.count.fetch_add(1, Ordering::Relaxed);
        PendingLogin { gauge: self }
    }

    /// Returns the number of logins in progress now.
    pub fn count(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }
}

/// One login counted by [`PendingLogins`].
pub struct PendingLogin<'a> {
    gauge: &'a PendingLogins,
}

impl Drop for PendingLogin<'_> {
    fn drop(&mut self) {
        self.gauge.count.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_counts_until_guard_drops() {
        let gauge = PendingLogins::default();
        let first = gauge.start();
        let second = gauge.start();
        assert_eq!(gauge.count(), 2);

        drop(first);
        assert_eq!(gauge.count(), 1);
        drop(second);
        assert_eq!(gauge.count(), 0);
    }

    #[test]
    fn pending_guard_drops_on_panic() {
        let gauge = PendingLogins::default();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _login = gauge.start();
            panic!("login task failed");
        }));
        assert!(result.is_err());
        assert_eq!(gauge.count(), 0);
    }
}
