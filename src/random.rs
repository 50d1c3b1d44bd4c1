//! Random values from the operating system's generator (getrandom(2)).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Characters of one-time codes: digits 2 to 9 and upper-case letters without I and O,
/// which read like 1 and 0. 32 characters give 5 bits each.
pub const CODE_ALPHABET: &[u8; 32] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";

/// Fills `buffer` with random bytes; the daemon cannot run safely without them.
fn fill(buffer: &mut [u8]) {
    getrandom::getrandom(buffer).expect("the operating system's random generator failed");
}

/// Returns `len` random bytes as base64url without padding (state, nonce, PKCE verifier).
pub fn random_token(len: usize) -> String {
    let mut bytes = vec![0u8; len];
    fill(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Returns `len` random characters from [`CODE_ALPHABET`]. 256 is a multiple of 32, so
/// taking the low 5 bits of each byte gives every character the same chance.
pub fn random_code(len: usize) -> String {
    let mut bytes = vec![0u8; len];
    fill(&mut bytes);
    bytes.iter().map(|byte| CODE_ALPHABET[usize::from(byte & 31)] as char).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_code_uses_alphabet() {
        let code = random_code(64);
        assert_eq!(code.len(), 64);
        assert!(code.bytes().all(|byte| CODE_ALPHABET.contains(&byte)), "{code}");
    }

    #[test]
    fn random_token_differs() {
        assert_ne!(random_token(16), random_token(16));
        assert_eq!(random_token(32).len(), 43);
    }
}
