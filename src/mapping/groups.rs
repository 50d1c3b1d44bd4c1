//! `mapping.allowed_groups`: only members of listed groups may log in.

use serde_json::{Map, Value};

/// Checks that the groups claim names at least one allowed group. The claim may be an
/// array of strings or, as some providers send a single group, one string.
pub fn check_groups(claims: &Map<String, Value>, groups_claim: &str, allowed: &[String]) -> Result<(), String> {
    let groups: Vec<&str> = match claims.get(groups_claim) {
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => items.iter().filter_map(Value::as_str).collect(),
        Some(Value::String(group)) => vec![group.as_str()],
        Some(_) => return Err(format!("claim {groups_claim} is not a list of group names")),
        None => return Err(format!("claim {groups_claim} is missing, but mapping.allowed_groups needs it")),
    };
    if groups.iter().any(|group| allowed.iter().any(|wanted| wanted == group)) {
        return Ok(());
    }
    let shown: Vec<&str> = groups.iter().take(20).copied().collect();
    Err(format!("none of the groups {shown:?} in claim {groups_claim} is in mapping.allowed_groups {allowed:?}"))
}

/// Checks one configured group name.
pub fn check_group_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 256 || name.chars().any(char::is_control) {
        return Err(format!("{name:?} is not a group name; use 1 to 256 printable characters"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(claims: Value) -> Result<(), String> {
        check_groups(claims.as_object().unwrap(), "groups", &["hpc-users".to_owned()])
    }

    #[test]
    fn groups_member_passes() {
        assert_eq!(check(json!({"groups": ["staff", "hpc-users"]})), Ok(()));
        assert_eq!(check(json!({"groups": "hpc-users"})), Ok(()));
    }

    #[test]
    fn groups_non_member_or_malformed_is_denied() {
        assert!(check(json!({"groups": ["staff"]})).unwrap_err().contains("none of the groups"));
        assert!(check(json!({})).unwrap_err().contains("missing"));
        assert!(check(json!({"groups": [1, "hpc-users"]})).unwrap_err().contains("not a list"));
        assert!(check(json!({"groups": {"hpc-users": true}})).unwrap_err().contains("not a list"));
    }
}
