//! The provider's JSON Web Key Set (RFC 7517), parsed key by key.
//!
//! One malformed or unsupported entry does not invalidate the set: it is skipped, and
//! so are keys marked for encryption (`"use": "enc"`).

use openidconnect::JsonWebKey;
use openidconnect::core::{CoreJsonWebKey, CoreJsonWebKeyUse};
use serde_json::{Map, Value};

/// Maximum keys taken from one JWKS document; real providers publish a handful.
const MAX_KEYS: usize = 64;

/// The signing keys of a JWKS document and how many entries were skipped.
#[derive(Clone, Debug, Default)]
pub struct KeySet {
    pub keys: Vec<CoreJsonWebKey>,
    pub skipped: usize,
}

/// Parses a JWKS document. It fails only when the document has no `keys` array at all.
pub fn parse_jwks(document: &Map<String, Value>) -> Result<KeySet, String> {
    let Some(Value::Array(entries)) = document.get("keys") else {
        return Err("JWKS document has no \"keys\" array".into());
    };

    let mut set = KeySet::default();
    for entry in entries.iter().take(MAX_KEYS) {
        match serde_json::from_value::<CoreJsonWebKey>(entry.clone()) {
            Ok(key) if !matches!(key.key_use(), Some(CoreJsonWebKeyUse::Encryption)) => set.keys.push(key),
            _ => set.skipped += 1,
        }
    }
    set.skipped += entries.len().saturating_sub(MAX_KEYS);
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn jwks_skips_broken_and_encryption_keys() {
        let document = json!({"keys": [
            {"kty": "RSA", "kid": "good", "n": "sXch", "e": "AQAB"},
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": "sXch", "e": "AQAB"},
            {"kid": "broken", "n": "AQAB"},
            "not an object"
        ]});
        let set = parse_jwks(document.as_object().unwrap()).unwrap();
        assert_eq!(set.keys.len(), 1);
        assert_eq!(set.keys[0].key_id().unwrap().as_str(), "good");
        assert_eq!(set.skipped, 3);
    }

    #[test]
    fn jwks_without_keys_is_error() {
        assert!(parse_jwks(json!({"key": []}).as_object().unwrap()).is_err());
    }
}
