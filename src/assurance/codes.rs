//! The assurance claims behind each one-time code.
//!
//! The browser flow verifies the user before any PAM service is known, so it checks the
//! `[assurance]` defaults only. The claims are kept here, keyed by user and a digest of
//! the code, and the PAM login that redeems the code checks its own service's policy.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::AssuranceClaims;
use crate::clock::Clock;
use crate::one_time_codes::normalize;

/// Entries kept at most; beyond it the oldest is dropped, and its code then fails the
/// assurance check (closed, not open).
const MAX_ENTRIES: usize = 150_000;

struct Entry {
    claims: AssuranceClaims,
    expires_at: Instant,
}

pub struct CodeAssurance {
    lifetime: Duration,
    clock: Arc<dyn Clock>,
    entries: Mutex<HashMap<(String, [u8; 32]), Entry>>,
}

impl CodeAssurance {
    pub fn new(lifetime: Duration, clock: Arc<dyn Clock>) -> Self {
        CodeAssurance { lifetime, clock, entries: Mutex::new(HashMap::new()) }
    }

    /// Keeps `claims` for the code issued to `user`.
    pub fn record(&self, user: &str, code: &str, claims: AssuranceClaims) {
        let now = self.clock.now();
        let mut entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        entries.retain(|_, entry| now < entry.expires_at);
        if entries.len() >= MAX_ENTRIES {
            if let Some(oldest) = entries.iter().min_by_key(|(_, entry)| entry.expires_at).map(|(key, _)| key.clone()) {
                entries.remove(&oldest);
            }
        }
        entries.insert((user.to_owned(), digest(code)), Entry { claims, expires_at: now + self.lifetime });
    }

    /// Takes the claims of the code `input` redeemed by `user`.
    pub fn take(&self, user: &str, input: &str) -> Option<AssuranceClaims> {
        let now = self.clock.now();
        let mut entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let entry = entries.remove(&(user.to_owned(), digest(input)))?;
        (now < entry.expires_at).then_some(entry.claims)
    }
}

fn digest(code: &str) -> [u8; 32] {
    Sha256::digest(normalize(code).as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SystemClock;
    use serde_json::json;

    #[test]
    fn claims_follow_code_and_user() {
        let store = CodeAssurance::new(Duration::from_secs(60), Arc::new(SystemClock));
        let claims = AssuranceClaims { amr: Some(json!(["fpt"])), ..Default::default() };
        store.record("alice", "ABCD-EFGH", claims.clone());

        assert_eq!(store.take("bob", "ABCD-EFGH"), None);
        assert_eq!(store.take("alice", "abcd efgh"), Some(claims));
        assert_eq!(store.take("alice", "ABCD-EFGH"), None);
    }
}
