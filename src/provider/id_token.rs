//! ID-token verification (OpenID Connect Core 1.0 section 3.1.3.7).
//!
//! The signature is checked with openidconnect's JSON Web Key types. The claims are read
//! from a plain JSON object, so a claim the daemon does not use can never fail a login
//! by its shape, while the claims it relies on are checked strictly here.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::core::{CoreJsonWebKey, CoreJwsSigningAlgorithm};
use openidconnect::{JsonWebKey, JsonWebKeyAlgorithm};
use serde_json::{Map, Value};

/// Largest ID token accepted, in bytes.
pub const MAX_ID_TOKEN_LEN: usize = 64 * 1024;

/// Expected values one verification checks the token against.
pub struct Expectations<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    /// Algorithms accepted in the token header; never contains `none`.
    pub allowed_algs: &'a [String],
    /// The HMAC key for HS* algorithms, present only when the admin allowed them.
    pub client_secret: Option<&'a str>,
    pub leeway_secs: u64,
    /// The current time in seconds since the Unix epoch.
    pub now: u64,
    /// The nonce sent in the authorization request, for flows that send one.
    pub nonce: Option<&'a str>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum IdTokenError {
    /// No key in the JWKS matches the token's `kid` and algorithm; a refetch may help.
    NoMatchingKey { kid: Option<String>, alg: String },
    /// Any other failure; the text is safe to log and names the check.
    Invalid(String),
}

impl fmt::Display for IdTokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdTokenError::NoMatchingKey { kid, alg } => {
                write!(f, "ID token: no key in the provider's JWKS matches kid {:?} and alg {alg}", kid.as_deref().unwrap_or("(none)"))
            }
            IdTokenError::Invalid(reason) => write!(f, "ID token: {reason}"),
        }
    }
}

fn invalid(reason: impl Into<String>) -> IdTokenError {
    IdTokenError::Invalid(reason.into())
}

/// The three parts of a compact JWS, decoded.
pub struct DecodedToken {
    pub alg: String,
    pub kid: Option<String>,
    pub claims: Map<String, Value>,
    signing_input: String,
    signature: Vec<u8>,
}

/// Splits and decodes a compact JWS without checking anything but its form.
pub fn decode(token: &str) -> Result<DecodedToken, IdTokenError> {
    if token.len() > MAX_ID_TOKEN_LEN {
        return Err(invalid(format!("token is larger than {MAX_ID_TOKEN_LEN} bytes")));
    }
    let parts: Vec<&str> = token.split('.').collect();
    let [header_b64, payload_b64, signature_b64] = parts[..] else {
        return Err(invalid(format!("token has {} parts; a signed JWT has 3 (encrypted ID tokens are not supported)", parts.len())));
    };

    let header = decode_json_object(header_b64, "header")?;
    let claims = decode_json_object(payload_b64, "payload")?;
    let signature = URL_SAFE_NO_PAD.decode(signature_b64).map_err(|_| invalid("signature is not base64url"))?;

    let Some(Value::String(alg)) = header.get("alg") else {
        return Err(invalid("header has no alg"));
    };
    if header.contains_key("crit") {
        return Err(invalid("header lists critical extensions (crit), which are not supported"));
    }
    let kid = match header.get("kid") {
        Some(Value::String(kid)) => Some(kid.clone()),
        None | Some(Value::Null) => None,
        Some(_) => return Err(invalid("header kid is not a string")),
    };

    Ok(DecodedToken { alg: alg.clone(), kid, claims, signing_input: format!("{header_b64}.{payload_b64}"), signature })
}

fn decode_json_object(part: &str, name: &str) -> Result<Map<String, Value>, IdTokenError> {
    let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|_| invalid(format!("{name} is not base64url")))?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(invalid(format!("{name} is not a JSON object"))),
    }
}

/// Checks the signature against `keys` (or the client secret for an allowed HS* alg).
pub fn verify_signature(token: &DecodedToken, keys: &[CoreJsonWebKey], expect: &Expectations) -> Result<(), IdTokenError> {
    if token.alg.eq_ignore_ascii_case("none") {
        return Err(invalid("alg none is never accepted"));
    }
    if !expect.allowed_algs.iter().any(|allowed| allowed == &token.alg) {
        return Err(invalid(format!("alg {} is not allowed; accepted are {:?}", token.alg, expect.allowed_algs)));
    }
    let alg: CoreJwsSigningAlgorithm = serde_json::from_value(Value::String(token.alg.clone()))
        .map_err(|_| invalid(format!("alg {} is not supported", token.alg)))?;

    if token.alg.starts_with("HS") {
        let Some(secret) = expect.client_secret else {
            return Err(invalid(format!("alg {} needs a client secret, and none is configured", token.alg)));
        };
        let key = CoreJsonWebKey::new_symmetric(secret.as_bytes().to_vec());
        return key
            .verify_signature(&alg, token.signing_input.as_bytes(), &token.signature)
            .map_err(|_| invalid("signature does not verify"));
    }

    let candidates: Vec<&CoreJsonWebKey> = keys.iter().filter(|key| key_fits(key, token, &alg)).collect();
    if candidates.is_empty() {
        return Err(IdTokenError::NoMatchingKey { kid: token.kid.clone(), alg: token.alg.clone() });
    }

    let verified = candidates
        .iter()
        .any(|key| key.verify_signature(&alg, token.signing_input.as_bytes(), &token.signature).is_ok());
    if verified { Ok(()) } else { Err(invalid(format!("signature does not verify with the provider's key {:?}", token.kid.as_deref().unwrap_or("(no kid)")))) }
}

/// A key fits when its kid (if both have one) and its alg (if it names one) match.
/// The key type is checked by verify_signature itself.
fn key_fits(key: &CoreJsonWebKey, token: &DecodedToken, alg: &CoreJwsSigningAlgorithm) -> bool {
    let kid_fits = match (&token.kid, key.key_id()) {
        (Some(token_kid), Some(key_kid)) => key_kid.as_str() == token_kid,
        (Some(_), None) => true,
        (None, _) => true,
    };
    let alg_fits = match key.signing_alg() {
        JsonWebKeyAlgorithm::Algorithm(key_alg) => key_alg == alg,
        JsonWebKeyAlgorithm::Unspecified => true,
        _ => false,
    };
    kid_fits && alg_fits
}

/// Checks iss, aud, azp, exp, iat, nbf, sub and nonce.
pub fn validate_claims(claims: &Map<String, Value>, expect: &Expectations) -> Result<(), IdTokenError> {
    match claims.get("iss") {
        Some(Value::String(iss)) if iss == expect.issuer => {}
        Some(Value::String(iss)) => return Err(invalid(format!("issuer {iss:?} is not the configured issuer {:?}", expect.issuer))),
        _ => return Err(invalid("iss is missing or not a string")),
    }

    validate_audience(claims, expect.client_id)?;

    let now = expect.now as f64;
    let leeway = expect.leeway_secs as f64;
    let exp = numeric_claim(claims, "exp")?.ok_or_else(|| invalid("exp is missing"))?;
    if now >= exp + leeway {
        return Err(invalid(format!("token expired at {exp}, now is {now}, leeway {leeway} s")));
    }
    let iat = numeric_claim(claims, "iat")?.ok_or_else(|| invalid("iat is missing"))?;
    if iat > now + leeway {
        return Err(invalid(format!("token issued in the future (iat {iat}, now {now}, leeway {leeway} s)")));
    }
    if let Some(nbf) = numeric_claim(claims, "nbf")? {
        if nbf > now + leeway {
            return Err(invalid(format!("token not valid before {nbf}, now is {now}")));
        }
    }

    match claims.get("sub") {
        Some(Value::String(sub)) if !sub.is_empty() && sub.len() <= 255 => {}
        _ => return Err(invalid("sub is missing, empty, longer than 255 characters or not a string")),
    }

    if let Some(expected) = expect.nonce {
        match claims.get("nonce") {
            Some(Value::String(nonce)) if nonce == expected => {}
            _ => return Err(invalid("nonce does not match the one sent")),
        }
    }
    Ok(())
}

fn validate_audience(claims: &Map<String, Value>, client_id: &str) -> Result<(), IdTokenError> {
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(aud)) => vec![aud.as_str()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => return Err(invalid("aud is missing or not a string or array")),
    };
    if !audiences.contains(&client_id) {
        return Err(invalid(format!("audience {audiences:?} does not contain client_id {client_id:?}")));
    }

    let other_audiences = audiences.iter().any(|aud| *aud != client_id);
    match claims.get("azp") {
        Some(Value::String(azp)) if azp == client_id => Ok(()),
        Some(azp) => Err(invalid(format!("azp {azp} is not client_id {client_id:?}"))),
        None if other_audiences => Err(invalid(format!("token has several audiences {audiences:?} and no azp"))),
        None => Ok(()),
    }
}

/// Reads a NumericDate claim; integers and floats are accepted, anything else is an error.
fn numeric_claim(claims: &Map<String, Value>, name: &str) -> Result<Option<f64>, IdTokenError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(number)) => number.as_f64().map(Some).ok_or_else(|| invalid(format!("{name} is not a usable number"))),
        Some(_) => Err(invalid(format!("{name} is not a number"))),
    }
}

#[cfg(test)]
mod tests;
