//! ID tokens from a misbehaving or compromised provider, each through a real device login:
//! pamtester, the module, the daemon and tests/hostile/provider.js.

use crate::harness::{Extra, login_with};

/// Mapping by email, as the email cases need it.
const EMAIL_MAPPING: &str = "[mapping]\nclaim = \"email\"\nstrip_domain = \"example.test\"\n";

/// One `#[test]` per denied token: the scenario, extra daemon tables and the reason the
/// audit log must name.
macro_rules! denied {
    ($($name:ident: $scenario:expr, $tables:expr => $reason:expr;)*) => {$(
        #[test]
        fn $name() {
            let (_provider, result) = login_with($scenario, &Extra { tables: $tables, ..Default::default() });
            result.assert_denied(stringify!($name), $reason);
        }
    )*};
}

/// One `#[test]` per token that must be accepted.
macro_rules! accepted {
    ($($name:ident: $scenario:expr;)*) => {$(
        #[test]
        fn $name() {
            let (_provider, result) = login_with($scenario, &Extra::default());
            result.assert_approved(stringify!($name));
        }
    )*};
}

denied! {
    bad_signature_is_denied: r#"{"tamper": true}"#, "" => "signature does not verify";
    alg_none_is_denied: r#"{"alg": "none"}"#, "" => "alg none is never accepted";
    hs256_with_public_key_is_denied: r#"{"alg": "HS256-public-key"}"#, "" => "alg HS256 is not allowed";
    wrong_issuer_is_denied: r#"{"claims": {"iss": "http://127.0.0.1:9/op"}}"#, "" => "is not the configured issuer";
    issuer_trailing_slash_is_denied: r#"{"claims": {"iss": "$ISSUER/"}}"#, "" => "is not the configured issuer";
    audience_without_client_id_is_denied: r#"{"claims": {"aud": "other-client"}}"#, "" => "does not contain client_id";
    several_audiences_without_azp_is_denied: r#"{"claims": {"aud": ["ultraauth-test", "other-client"]}}"#, "" => "several audiences";
    several_audiences_wrong_azp_is_denied:
        r#"{"claims": {"aud": ["ultraauth-test", "other-client"], "azp": "other-client"}}"#, "" => "is not client_id";
    expired_token_is_denied: r#"{"exp_offset": -600}"#, "" => "token expired";
    iat_far_in_future_is_denied: r#"{"iat_offset": 3600}"#, "" => "issued in the future";
    userinfo_sub_mismatch_is_denied:
        r#"{"claims": {"preferred_username": null}, "userinfo": {"sub": "someone-else", "preferred_username": "alice"}}"#, ""
        => "userinfo sub does not match";
    mapped_claim_missing_is_denied:
        r#"{"claims": {"preferred_username": null}, "userinfo": {"sub": "hostile-sub-alice"}}"#, ""
        => "claim preferred_username is missing";
    mapped_claim_empty_is_denied: r#"{"claims": {"preferred_username": ""}}"#, "" => "claim preferred_username is empty";
    mapped_claim_array_is_denied: r#"{"claims": {"preferred_username": ["alice", "root"]}}"#, "" => "is an array";
    mapped_claim_bad_characters_is_denied:
        r#"{"claims": {"preferred_username": "alice;id"}}"#, "" => "characters a local username may not contain";
    email_unverified_is_denied:
        r#"{"claims": {"email": "alice@example.test", "email_verified": false}}"#, EMAIL_MAPPING => "email_verified is not true";
    email_verified_absent_is_denied: r#"{"claims": {"email": "alice@example.test"}}"#, EMAIL_MAPPING => "email_verified is not true";
}

accepted! {
    rs256_token_is_accepted: r#"{}"#;
    es256_token_is_accepted: r#"{"alg": "ES256"}"#;
    ps256_token_is_accepted: r#"{"alg": "PS256"}"#;
    eddsa_token_is_accepted: r#"{"alg": "EdDSA"}"#;
    messy_jwks_is_accepted: r#"{"alg": "ES256", "jwks": "messy"}"#;
    single_element_aud_array_is_accepted: r#"{"claims": {"aud": ["ultraauth-test"]}}"#;
    clock_skew_inside_leeway_is_accepted: r#"{"iat_offset": 30, "auth_time_offset": 30}"#;
}

#[test]
fn verified_email_is_accepted() {
    let scenario = r#"{"claims": {"email": "alice@example.test", "email_verified": true}}"#;
    let (_provider, result) = login_with(scenario, &Extra { tables: EMAIL_MAPPING, ..Default::default() });
    result.assert_approved("verified_email_is_accepted");
}

#[test]
fn unknown_kid_after_refetch_is_denied() {
    let (provider, result) = login_with(r#"{"token_kid": "never-published"}"#, &Extra::default());
    result.assert_denied("unknown_kid_after_refetch_is_denied", "no key in the provider's JWKS matches kid");
    assert_eq!(provider.log().count("GET /op/jwks"), 2, "{}", provider.log().text());
}

#[test]
fn rotated_key_is_accepted() {
    let (provider, result) = login_with(r#"{"rotate": true}"#, &Extra::default());
    result.assert_approved("rotated_key_is_accepted");
    assert_eq!(provider.log().count("GET /op/jwks"), 2, "{}", provider.log().text());
}
