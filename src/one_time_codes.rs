//! One-time codes: issued after a browser verification, redeemed by one PAM login.
//!
//! A code has 8 characters from a 32-character alphabet (40 bits). It is bound to one
//! local user, valid for a short time, used once, stored only as a SHA-256 digest and
//! compared in constant time. After `max_attempts` wrong codes for a user, all of that
//! user's codes are void until a new browser verification.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::clock::Clock;
use crate::random::{CODE_ALPHABET, random_code};

/// Characters in a code.
pub const CODE_LEN: usize = 8;

/// Live codes kept per user; a new code beyond it replaces the oldest.
const MAX_CODES_PER_USER: usize = 3;

/// Users tracked at once; entries without live codes are dropped first.
const MAX_USERS: usize = 50_000;

#[derive(Debug, PartialEq, Eq)]
pub enum RedeemError {
    /// Wrong, expired, already used, or issued to another user.
    Invalid,
    /// The user reached the limit of wrong attempts: every code of the user is void
    /// until the next browser verification issues a new one.
    TooManyAttempts,
}

struct IssuedCode {
    digest: [u8; 32],
    expires_at: Instant,
}

#[derive(Default)]
struct UserCodes {
    codes: Vec<IssuedCode>,
    failures: u32,
}

pub struct OneTimeCodes {
    lifetime: Duration,
    max_attempts: u32,
    clock: Arc<dyn Clock>,
    users: Mutex<HashMap<String, UserCodes>>,
}

impl OneTimeCodes {
    pub fn new(lifetime: Duration, max_attempts: u32, clock: Arc<dyn Clock>) -> Self {
        OneTimeCodes { lifetime, max_attempts, clock, users: Mutex::new(HashMap::new()) }
    }

    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    /// Issues a code for `user` and returns it as `XXXX-XXXX`. A new verification also
    /// clears the count of wrong attempts.
    pub fn issue(&self, user: &str) -> Zeroizing<String> {
        let code = Zeroizing::new(random_code(CODE_LEN));
        let now = self.clock.now();
        let mut users = self.users.lock().unwrap_or_else(|poisoned| poisoned.into_inner());

        if users.len() >= MAX_USERS {
            users.retain(|_, entry| entry.codes.iter().any(|issued| now < issued.expires_at));
        }
        let entry = users.entry(user.to_owned()).or_default();
        entry.codes.retain(|issued| now < issued.expires_at);
        if entry.codes.len() >= MAX_CODES_PER_USER {
            entry.codes.remove(0);
        }
        entry.codes.push(IssuedCode { digest: digest(&code), expires_at: now + self.lifetime });
        entry.failures = 0;

        Zeroizing::new(format!("{}-{}", &code[..4], &code[4..]))
    }

    /// Redeems `input` for `user`: a match is removed so it cannot be used again.
    pub fn redeem(&self, user: &str, input: &str) -> Result<(), RedeemError> {
        let normalized = normalize(input);
        let input_digest = digest(&normalized);
        let now = self.clock.now();
        let mut users = self.users.lock().unwrap_or_else(|poisoned| poisoned.into_inner());

        let Some(entry) = users.get_mut(user) else {
            return Err(RedeemError::Invalid);
        };

        // Compare with every live code without stopping early, so timing shows nothing.
        let mut matched = None;
        for (index, issued) in entry.codes.iter().enumerate() {
            let equal: bool = issued.digest.ct_eq(&input_digest).into();
            if equal && now < issued.expires_at {
                matched = Some(index);
            }
        }

        if let Some(index) = matched {
            entry.codes.remove(index);
            entry.failures = 0;
            return Ok(());
        }

        entry.failures += 1;
        if entry.failures >= self.max_attempts {
            entry.codes.clear();
            return Err(RedeemError::TooManyAttempts);
        }
        Err(RedeemError::Invalid)
    }
}

/// Upper-cases and drops `-` and white space, so `abcd-efgh` and `ABCD EFGH` match.
pub(crate) fn normalize(input: &str) -> Zeroizing<String> {
    let kept: String = input.chars().filter(|c| *c != '-' && !c.is_whitespace()).map(|c| c.to_ascii_uppercase()).collect();
    let valid = kept.len() == CODE_LEN && kept.bytes().all(|byte| CODE_ALPHABET.contains(&byte));
    // An input that cannot be a code still goes through the same digest and comparison.
    Zeroizing::new(if valid { kept } else { String::new() })
}

fn digest(code: &str) -> [u8; 32] {
    Sha256::digest(code.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex as StdMutex;

    struct ManualClock(StdMutex<Instant>);

    impl Clock for ManualClock {
        fn now(&self) -> Instant {
            *self.0.lock().unwrap()
        }
        fn unix_now(&self) -> u64 {
            0
        }
    }

    fn setup() -> (Arc<ManualClock>, OneTimeCodes) {
        let clock = Arc::new(ManualClock(StdMutex::new(Instant::now())));
        (clock.clone(), OneTimeCodes::new(Duration::from_secs(120), 3, clock))
    }

    #[test]
    fn code_redeems_once() {
        let (_clock, codes) = setup();
        let code = codes.issue("alice");
        assert_eq!(code.len(), 9);
        assert_eq!(codes.redeem("alice", &code), Ok(()));
        assert_eq!(codes.redeem("alice", &code), Err(RedeemError::Invalid));
    }

    #[test]
    fn code_input_is_normalized() {
        let (_clock, codes) = setup();
        let code = codes.issue("alice");
        let typed = format!(" {} ", code.replace('-', " ").to_lowercase());
        assert_eq!(codes.redeem("alice", &typed), Ok(()));
    }

    #[test]
    fn code_bound_to_user() {
        let (_clock, codes) = setup();
        let code = codes.issue("alice");
        codes.issue("bob");
        assert_eq!(codes.redeem("bob", &code), Err(RedeemError::Invalid));
        assert_eq!(codes.redeem("mallory", &code), Err(RedeemError::Invalid));
        assert_eq!(codes.redeem("alice", &code), Ok(()));
    }

    #[test]
    fn code_expires() {
        let (clock, codes) = setup();
        let code = codes.issue("alice");
        *clock.0.lock().unwrap() += Duration::from_secs(120);
        assert_eq!(codes.redeem("alice", &code), Err(RedeemError::Invalid));
    }

    #[test]
    fn code_attempt_cap_voids_codes() {
        let (_clock, codes) = setup();
        let code = codes.issue("alice");
        assert_eq!(codes.redeem("alice", "2222-2222"), Err(RedeemError::Invalid));
        assert_eq!(codes.redeem("alice", "not a code"), Err(RedeemError::Invalid));
        assert_eq!(codes.redeem("alice", "3333-3333"), Err(RedeemError::TooManyAttempts));
        assert_eq!(codes.redeem("alice", &code), Err(RedeemError::TooManyAttempts));

        let fresh = codes.issue("alice");
        assert_eq!(codes.redeem("alice", &fresh), Ok(()));
    }

    #[test]
    fn empty_input_never_matches() {
        let (_clock, codes) = setup();
        codes.issue("alice");
        assert_eq!(codes.redeem("alice", ""), Err(RedeemError::Invalid));
    }
}
