use super::*;
use ed25519_dalek::{Signer, SigningKey};
use serde_json::json;

const ISSUER: &str = "https://srv.qryp.to/op";
const CLIENT_ID: &str = "ultraauth-test";
const NOW: u64 = 1_800_000_000;

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn signing_key() -> SigningKey {
    SigningKey::from_bytes(&[7u8; 32])
}

fn ed25519_jwk(kid: &str) -> CoreJsonWebKey {
    let x = b64(signing_key().verifying_key().as_bytes());
    serde_json::from_value(json!({"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid})).unwrap()
}

fn sign(header: Value, claims: &Value) -> String {
    let input = format!("{}.{}", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()));
    let signature = signing_key().sign(input.as_bytes());
    format!("{input}.{}", b64(&signature.to_bytes()))
}

fn good_claims() -> Value {
    json!({"iss": ISSUER, "aud": CLIENT_ID, "sub": "a1b2", "exp": NOW + 300, "iat": NOW - 5, "amr": ["fpt"]})
}

fn algs() -> Vec<String> {
    vec!["EdDSA".into(), "RS256".into()]
}

fn expectations<'a>(algs: &'a [String], nonce: Option<&'a str>) -> Expectations<'a> {
    Expectations { issuer: ISSUER, client_id: CLIENT_ID, allowed_algs: algs, client_secret: None, leeway_secs: 60, now: NOW, nonce }
}

fn check(token: &str, keys: &[CoreJsonWebKey]) -> Result<(), IdTokenError> {
    let algs = algs();
    let expect = expectations(&algs, None);
    let decoded = decode(token)?;
    verify_signature(&decoded, keys, &expect)?;
    validate_claims(&decoded.claims, &expect)
}

fn claims_error(claims: Value) -> String {
    let algs = algs();
    match validate_claims(claims.as_object().unwrap(), &expectations(&algs, None)) {
        Err(IdTokenError::Invalid(reason)) => reason,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[test]
fn eddsa_token_verifies() {
    let token = sign(json!({"alg": "EdDSA", "kid": "k1"}), &good_claims());
    assert_eq!(check(&token, &[ed25519_jwk("k1")]), Ok(()));
}

#[test]
fn tampered_payload_fails_signature() {
    let token = sign(json!({"alg": "EdDSA", "kid": "k1"}), &good_claims());
    let mut parts: Vec<String> = token.split('.').map(String::from).collect();
    let mut forged = good_claims();
    forged["sub"] = json!("root");
    parts[1] = b64(forged.to_string().as_bytes());
    let err = check(&parts.join("."), &[ed25519_jwk("k1")]).unwrap_err();
    assert!(err.to_string().contains("signature does not verify"), "{err}");
}

#[test]
fn unknown_kid_asks_for_refetch() {
    let token = sign(json!({"alg": "EdDSA", "kid": "rotated"}), &good_claims());
    let err = check(&token, &[ed25519_jwk("k1")]).unwrap_err();
    assert!(matches!(err, IdTokenError::NoMatchingKey { .. }), "{err}");
}

#[test]
fn alg_none_is_rejected() {
    let input = format!("{}.{}", b64(br#"{"alg":"none"}"#), b64(good_claims().to_string().as_bytes()));
    let err = check(&format!("{input}."), &[ed25519_jwk("k1")]).unwrap_err();
    assert!(err.to_string().contains("none"), "{err}");
}

#[test]
fn hs256_is_rejected_unless_allowed() {
    let token = sign(json!({"alg": "HS256", "kid": "k1"}), &good_claims());
    let err = check(&token, &[ed25519_jwk("k1")]).unwrap_err();
    assert!(err.to_string().contains("not allowed"), "{err}");
}

#[test]
fn crit_header_is_rejected() {
    let token = sign(json!({"alg": "EdDSA", "crit": ["exp"]}), &good_claims());
    assert!(decode(&token).is_err());
}

#[test]
fn encrypted_token_is_rejected() {
    assert!(decode("a.b.c.d.e").is_err());
}

#[test]
fn claims_accept_single_aud_array() {
    let algs = algs();
    let mut claims = good_claims();
    assert_eq!(validate_claims(claims.as_object().unwrap(), &expectations(&algs, None)), Ok(()));
    claims["aud"] = json!([CLIENT_ID]);
    assert_eq!(validate_claims(claims.as_object().unwrap(), &expectations(&algs, None)), Ok(()));
}

#[test]
fn claims_reject_wrong_issuer_and_trailing_slash() {
    let mut claims = good_claims();
    claims["iss"] = json!("https://evil.example/op");
    assert!(claims_error(claims.clone()).contains("issuer"));
    claims["iss"] = json!(format!("{ISSUER}/"));
    assert!(claims_error(claims).contains("issuer"));
}

#[test]
fn claims_reject_audience_without_client_id() {
    let mut claims = good_claims();
    claims["aud"] = json!("other-client");
    assert!(claims_error(claims).contains("audience"));
}

#[test]
fn claims_several_audiences_need_matching_azp() {
    let algs = algs();
    let mut claims = good_claims();
    claims["aud"] = json!([CLIENT_ID, "other-client"]);
    assert!(claims_error(claims.clone()).contains("no azp"));

    claims["azp"] = json!("other-client");
    assert!(claims_error(claims.clone()).contains("azp"));

    claims["azp"] = json!(CLIENT_ID);
    assert_eq!(validate_claims(claims.as_object().unwrap(), &expectations(&algs, None)), Ok(()));
}

#[test]
fn claims_expiry_respects_leeway() {
    let algs = algs();
    let mut claims = good_claims();
    claims["exp"] = json!(NOW - 30);
    assert_eq!(validate_claims(claims.as_object().unwrap(), &expectations(&algs, None)), Ok(()));
    claims["exp"] = json!(NOW - 60);
    assert!(claims_error(claims).contains("expired"));
}

#[test]
fn claims_iat_in_future_beyond_leeway() {
    let algs = algs();
    let mut claims = good_claims();
    claims["iat"] = json!(NOW + 30);
    assert_eq!(validate_claims(claims.as_object().unwrap(), &expectations(&algs, None)), Ok(()));
    claims["iat"] = json!(NOW + 3600);
    assert!(claims_error(claims).contains("future"));
}

#[test]
fn claims_reject_missing_or_malformed_times() {
    let mut claims = good_claims();
    claims.as_object_mut().unwrap().remove("exp");
    assert!(claims_error(claims.clone()).contains("exp"));
    claims["exp"] = json!("tomorrow");
    assert!(claims_error(claims).contains("exp"));
}

#[test]
fn claims_reject_missing_sub() {
    let mut claims = good_claims();
    claims["sub"] = json!("");
    assert!(claims_error(claims).contains("sub"));
}

#[test]
fn claims_nonce_must_match() {
    let algs = algs();
    let mut claims = good_claims();
    claims["nonce"] = json!("n-1");
    assert_eq!(validate_claims(claims.as_object().unwrap(), &expectations(&algs, Some("n-1"))), Ok(()));
    assert!(validate_claims(claims.as_object().unwrap(), &expectations(&algs, Some("n-2"))).is_err());
}

#[test]
fn claims_unrelated_odd_claims_are_ignored() {
    let algs = algs();
    let mut claims = good_claims();
    claims["email_verified"] = json!("yes");
    claims["groups"] = json!({"nested": [1, 2]});
    claims["preferred_username"] = json!(["a", "b"]);
    assert_eq!(validate_claims(claims.as_object().unwrap(), &expectations(&algs, None)), Ok(()));
}
