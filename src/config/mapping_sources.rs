//! Checks of the mapping keys that name files or lists: `map_file`, `groups_claim`,
//! `allowed_groups` and `bindings_file`.

use std::sync::Arc;

use super::validate::Checker;
use super::{CasePolicy, ConfigError, MappingConfig, RawMapping};
use crate::mapping::groups::check_group_name;
use crate::mapping::map_file::load_map_file;

/// Builds the mapping configuration from the already checked claim, domain and case.
pub(super) fn finish_mapping(check: &Checker, raw: RawMapping, strip_domain: Option<String>, case: CasePolicy) -> Result<MappingConfig, ConfigError> {
    let map_file = match &raw.map_file {
        Some(path) => Some(Arc::new(load_map_file(path).map_err(|reason| check.error("mapping", "map_file", reason))?)),
        None => None,
    };

    if raw.groups_claim.is_empty() || raw.groups_claim.len() > 128 || raw.groups_claim.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(check.error("mapping", "groups_claim", format!("{:?} is not a claim name; use for example \"groups\"", raw.groups_claim)));
    }
    if let Some(groups) = &raw.allowed_groups {
        if groups.is_empty() {
            return Err(check.error("mapping", "allowed_groups", "is empty, so nobody could log in; remove the key to allow every group".into()));
        }
        for group in groups {
            check_group_name(group).map_err(|reason| check.error("mapping", "allowed_groups", reason))?;
        }
    }
    if let Some(path) = &raw.bindings_file {
        if !path.is_absolute() {
            return Err(check.error("mapping", "bindings_file", format!("{path:?} is not an absolute path; use for example \"/var/lib/ultraauth/bindings\"")));
        }
    }

    Ok(MappingConfig {
        claim: raw.claim,
        strip_domain,
        case,
        map_file,
        groups_claim: raw.groups_claim,
        allowed_groups: raw.allowed_groups,
        bindings_file: raw.bindings_file,
    })
}
