//! Mapping a verified identity to a local username.

pub mod bindings;
pub mod groups;
pub mod map_file;

use serde_json::{Map, Value};

use crate::config::{CasePolicy, MappingConfig};

/// Maximum local username length accepted, in bytes (32 is also the usual useradd limit).
pub const MAX_USERNAME_LEN: usize = 32;

/// Returns the local username the claims map to, or why they map to none. With a map
/// file the `sub` alone decides; `mapping.allowed_groups` applies either way.
pub fn map_username(claims: &Map<String, Value>, config: &MappingConfig) -> Result<String, String> {
    if let Some(allowed) = &config.allowed_groups {
        groups::check_groups(claims, &config.groups_claim, allowed)?;
    }
    if let Some(map) = &config.map_file {
        let sub = claims.get("sub").and_then(Value::as_str).unwrap_or_default();
        return match map.local_user(sub) {
            Some(local) => Ok(local.to_owned()),
            None => Err(format!("sub {sub:?} is not listed in mapping.map_file")),
        };
    }
    map_claim(claims, config)
}

/// Returns whether the ID token lacks a claim the mapping needs, so that the userinfo
/// endpoint should be asked.
pub fn needs_userinfo(claims: &Map<String, Value>, config: &MappingConfig) -> bool {
    let name_missing = config.map_file.is_none() && !claims.contains_key(&config.claim);
    let groups_missing = config.allowed_groups.is_some() && !claims.contains_key(&config.groups_claim);
    name_missing || groups_missing
}

fn map_claim(claims: &Map<String, Value>, config: &MappingConfig) -> Result<String, String> {
    let claim = &config.claim;
    let value = match claims.get(claim) {
        Some(Value::String(value)) if !value.is_empty() => value.as_str(),
        Some(Value::String(_)) => return Err(format!("claim {claim} is empty")),
        Some(Value::Array(_)) => return Err(format!("claim {claim} is an array, not a single name")),
        Some(_) => return Err(format!("claim {claim} is not a string")),
        None => return Err(format!("claim {claim} is missing from the ID token and userinfo")),
    };

    if claim == "email" && !is_verified_email(claims) {
        return Err("claim email is used for mapping, but email_verified is not true".into());
    }

    let local = match &config.strip_domain {
        Some(domain) => strip_domain(value, domain)?,
        None => value,
    };
    let local = match config.case {
        CasePolicy::Exact => local.to_owned(),
        CasePolicy::Lower => local.to_lowercase(),
    };

    check_local_username(&local)?;
    Ok(local)
}

/// email_verified as a JSON boolean, or the string "true" that some providers send.
fn is_verified_email(claims: &Map<String, Value>) -> bool {
    match claims.get("email_verified") {
        Some(Value::Bool(verified)) => *verified,
        Some(Value::String(text)) => text.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// Strips `@domain`. A name in another domain, or without a domain, is rejected: with
/// strip_domain set, names are expected to be user@domain, and a bare name might be one
/// the user chose at the provider.
fn strip_domain<'a>(value: &'a str, domain: &str) -> Result<&'a str, String> {
    match value.rsplit_once('@') {
        Some((local, found)) if found.eq_ignore_ascii_case(domain) => Ok(local),
        Some((_, found)) => Err(format!("name is in domain {found:?}, not the configured mapping.strip_domain {domain:?}")),
        None => Err(format!("name has no @{domain} although mapping.strip_domain is set")),
    }
}

/// Checks the characters and length a local username may have: ASCII letters, digits,
/// `.`, `_` and `-`, not starting with `-`, not only digits (it would read as a uid).
pub fn check_local_username(name: &str) -> Result<(), String> {
    let shown: String = name.chars().take(40).map(|c| if c.is_control() { '?' } else { c }).collect();
    if name.is_empty() || name.len() > MAX_USERNAME_LEN {
        return Err(format!("mapped name {shown:?} must have 1 to {MAX_USERNAME_LEN} characters"));
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')) {
        return Err(format!("mapped name {shown:?} has characters a local username may not contain"));
    }
    if name.starts_with('-') || name == "." || name == ".." || name.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!("mapped name {shown:?} is not a valid local username"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config(claim: &str, strip_domain: Option<&str>, case: CasePolicy) -> MappingConfig {
        MappingConfig { claim: claim.into(), strip_domain: strip_domain.map(String::from), case, groups_claim: "groups".into(), ..Default::default() }
    }

    fn map(claims: Value, config: &MappingConfig) -> Result<String, String> {
        map_username(claims.as_object().unwrap(), config)
    }

    #[test]
    fn mapping_plain_preferred_username() {
        let cfg = config("preferred_username", None, CasePolicy::Exact);
        assert_eq!(map(json!({"preferred_username": "alice"}), &cfg).unwrap(), "alice");
    }

    #[test]
    fn mapping_strips_configured_domain_and_lowers() {
        let cfg = config("preferred_username", Some("example.test"), CasePolicy::Lower);
        assert_eq!(map(json!({"preferred_username": "Carol@Example.Test"}), &cfg).unwrap(), "carol");
    }

    #[test]
    fn mapping_rejects_other_domain() {
        let cfg = config("preferred_username", Some("example.test"), CasePolicy::Exact);
        let err = map(json!({"preferred_username": "alice@evil.test"}), &cfg).unwrap_err();
        assert!(err.contains("evil.test"), "{err}");
    }

    #[test]
    fn mapping_strip_domain_rejects_bare_name() {
        let cfg = config("preferred_username", Some("example.test"), CasePolicy::Exact);
        assert!(map(json!({"preferred_username": "root"}), &cfg).is_err());
    }

    #[test]
    fn mapping_exact_case_keeps_upper_case() {
        let cfg = config("preferred_username", None, CasePolicy::Exact);
        assert_eq!(map(json!({"preferred_username": "Alice"}), &cfg).unwrap(), "Alice");
    }

    #[test]
    fn mapping_rejects_missing_empty_array_and_number() {
        let cfg = config("preferred_username", None, CasePolicy::Exact);
        assert!(map(json!({}), &cfg).unwrap_err().contains("missing"));
        assert!(map(json!({"preferred_username": ""}), &cfg).unwrap_err().contains("empty"));
        assert!(map(json!({"preferred_username": ["alice"]}), &cfg).unwrap_err().contains("array"));
        assert!(map(json!({"preferred_username": 7}), &cfg).unwrap_err().contains("not a string"));
    }

    #[test]
    fn mapping_rejects_bad_characters() {
        let cfg = config("preferred_username", None, CasePolicy::Exact);
        for bad in ["root;id", "a b", "../etc", "-rf", "1000", "alice\n", "élise", &"a".repeat(33)] {
            assert!(map(json!({"preferred_username": bad}), &cfg).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn mapping_email_needs_verified() {
        let cfg = config("email", Some("example.test"), CasePolicy::Exact);
        assert!(map(json!({"email": "alice@example.test"}), &cfg).is_err());
        assert!(map(json!({"email": "alice@example.test", "email_verified": false}), &cfg).is_err());
        assert_eq!(map(json!({"email": "alice@example.test", "email_verified": true}), &cfg).unwrap(), "alice");
        assert_eq!(map(json!({"email": "alice@example.test", "email_verified": "true"}), &cfg).unwrap(), "alice");
    }

    #[test]
    fn mapping_map_file_uses_sub_only() {
        let mut cfg = config("preferred_username", None, CasePolicy::Exact);
        cfg.map_file = Some(std::sync::Arc::new(map_file::parse_map("a1b2 alice\n").unwrap()));
        assert_eq!(map(json!({"sub": "a1b2", "preferred_username": "root"}), &cfg).unwrap(), "alice");
        let err = map(json!({"sub": "other", "preferred_username": "alice"}), &cfg).unwrap_err();
        assert!(err.contains("not listed in mapping.map_file"), "{err}");
        assert!(!needs_userinfo(json!({"sub": "a1b2"}).as_object().unwrap(), &cfg));
    }

    #[test]
    fn mapping_allowed_groups_apply() {
        let mut cfg = config("preferred_username", None, CasePolicy::Exact);
        cfg.allowed_groups = Some(vec!["hpc-users".into()]);
        assert_eq!(map(json!({"preferred_username": "alice", "groups": ["hpc-users"]}), &cfg).unwrap(), "alice");
        assert!(map(json!({"preferred_username": "bob", "groups": ["staff"]}), &cfg).is_err());
        assert!(needs_userinfo(json!({"preferred_username": "alice"}).as_object().unwrap(), &cfg));
    }
}
