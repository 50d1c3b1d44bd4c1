//! Verified sessions: after an approved login, later logins of the same user through
//! the same PAM service from the same remote host pass without a new flow until the
//! session's lifetime ends.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::clock::Clock;

/// Maximum sessions kept at once; beyond it the session closest to expiry is dropped.
const MAX_SESSIONS: usize = 100_000;

/// The scope a verified session is bound to. Local logins (no remote host) are also bound to
/// their terminal, so a verification on one tty does not cover another.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SessionKey {
    pub user: String,
    pub service: String,
    /// The remote host; empty for a local login (PAM_RHOST unset or empty).
    pub rhost: String,
    /// PAM_TTY for a local login; empty for a remote one.
    pub tty: String,
    /// The uid of the process that asked (SO_PEERCRED), so a second allowed client
    /// cannot use sessions that sshd created.
    pub caller_uid: u32,
}

pub struct VerifiedSessions {
    clock: Arc<dyn Clock>,
    entries: Mutex<HashMap<SessionKey, Instant>>,
}

impl VerifiedSessions {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        VerifiedSessions { clock, entries: Mutex::new(HashMap::new()) }
    }

    /// Returns whether a live session covers `key`.
    pub fn is_verified(&self, key: &SessionKey) -> bool {
        let now = self.clock.now();
        let entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        entries.get(key).is_some_and(|expires_at| now < *expires_at)
    }

    /// Starts (or renews) a session for `key`; a zero `lifetime` (sessions off) does nothing.
    pub fn record(&self, key: SessionKey, lifetime: Duration) {
        if lifetime.is_zero() {
            return;
        }
        let now = self.clock.now();
        let mut entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());

        entries.retain(|_, expires_at| now < *expires_at);
        if entries.len() >= MAX_SESSIONS {
            if let Some(oldest) = entries.iter().min_by_key(|(_, expires_at)| **expires_at).map(|(key, _)| key.clone()) {
                entries.remove(&oldest);
            }
        }
        entries.insert(key, now + lifetime);
    }

    /// Returns how many sessions are live now.
    pub fn live_count(&self) -> usize {
        let now = self.clock.now();
        let entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        entries.values().filter(|expires_at| now < **expires_at).count()
    }

    /// Returns the live sessions with the time each has left, sorted by user, service
    /// and remote host.
    pub fn list(&self) -> Vec<(SessionKey, Duration)> {
        let now = self.clock.now();
        let entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut live: Vec<(SessionKey, Duration)> = entries
            .iter()
            .filter(|(_, expires_at)| now < **expires_at)
            .map(|(key, expires_at)| (key.clone(), expires_at.duration_since(now)))
            .collect();
        live.sort_by(|(a, _), (b, _)| (&a.user, &a.service, &a.rhost, &a.tty).cmp(&(&b.user, &b.service, &b.rhost, &b.tty)));
        live
    }

    /// Ends every live session of `user` and returns how many ended.
    pub fn revoke_user(&self, user: &str) -> usize {
        let now = self.clock.now();
        let mut entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut revoked = 0;
        entries.retain(|key, expires_at| {
            let live = now < *expires_at;
            if live && key.user == user {
                revoked += 1;
            }
            live && key.user != user
        });
        revoked
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex as StdMutex;

    struct ManualClock {
        now: StdMutex<Instant>,
    }

    impl ManualClock {
        fn advance(&self, by: Duration) {
            *self.now.lock().unwrap() += by;
        }
    }

    impl Clock for ManualClock {
        fn now(&self) -> Instant {
            *self.now.lock().unwrap()
        }
        fn unix_now(&self) -> u64 {
            0
        }
    }

    fn key(user: &str, rhost: &str) -> SessionKey {
        SessionKey { user: user.into(), service: "sshd".into(), rhost: rhost.into(), tty: String::new(), caller_uid: 0 }
    }

    fn setup() -> (Arc<ManualClock>, VerifiedSessions) {
        let clock = Arc::new(ManualClock { now: StdMutex::new(Instant::now()) });
        let sessions = VerifiedSessions::new(clock.clone());
        (clock, sessions)
    }

    const LIFETIME: Duration = Duration::from_secs(300);

    #[test]
    fn session_covers_until_lifetime_ends() {
        let (clock, sessions) = setup();
        sessions.record(key("alice", "192.0.2.1"), LIFETIME);
        assert!(sessions.is_verified(&key("alice", "192.0.2.1")));

        clock.advance(Duration::from_secs(299));
        assert!(sessions.is_verified(&key("alice", "192.0.2.1")));

        clock.advance(Duration::from_secs(1));
        assert!(!sessions.is_verified(&key("alice", "192.0.2.1")));
    }

    #[test]
    fn session_is_per_user_service_and_host() {
        let (_clock, sessions) = setup();
        sessions.record(key("alice", "192.0.2.1"), LIFETIME);
        assert!(!sessions.is_verified(&key("alice", "192.0.2.2")));
        assert!(!sessions.is_verified(&key("bob", "192.0.2.1")));
        let other_service = SessionKey { service: "su".into(), ..key("alice", "192.0.2.1") };
        assert!(!sessions.is_verified(&other_service));
        let other_caller = SessionKey { caller_uid: 1000, ..key("alice", "192.0.2.1") };
        assert!(!sessions.is_verified(&other_caller));
    }

    #[test]
    fn session_list_skips_expired() {
        let (clock, sessions) = setup();
        sessions.record(key("bob", ""), Duration::from_secs(10));
        sessions.record(key("alice", "192.0.2.1"), LIFETIME);
        clock.advance(Duration::from_secs(10));

        let live = sessions.list();
        assert_eq!(live.len(), 1);
        assert_eq!(live[0].0, key("alice", "192.0.2.1"));
        assert_eq!(live[0].1, Duration::from_secs(290));
    }

    #[test]
    fn session_revoke_ends_only_that_user() {
        let (clock, sessions) = setup();
        sessions.record(key("alice", "192.0.2.1"), LIFETIME);
        sessions.record(key("alice", "192.0.2.2"), LIFETIME);
        sessions.record(key("alice", ""), Duration::from_secs(1));
        sessions.record(key("bob", "192.0.2.1"), LIFETIME);
        clock.advance(Duration::from_secs(1));

        assert_eq!(sessions.revoke_user("alice"), 2);
        assert!(!sessions.is_verified(&key("alice", "192.0.2.1")));
        assert!(sessions.is_verified(&key("bob", "192.0.2.1")));
        assert_eq!(sessions.revoke_user("alice"), 0);
    }

    #[test]
    fn session_lifetime_zero_turns_off() {
        let (_clock, sessions) = setup();
        sessions.record(key("alice", ""), Duration::ZERO);
        assert!(!sessions.is_verified(&key("alice", "")));
        assert_eq!(sessions.live_count(), 0);
    }
}
