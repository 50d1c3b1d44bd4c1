//! Per-service security settings: the `[assurance]` defaults, and `require_amr`,
//! `acr_values`, `max_age_secs` and `failure_mode` in `[services.NAME]`.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;

use super::RawServicePolicy;
use super::validate::Checker;
use super::ConfigError;
use crate::assurance::{AssurancePolicy, MAX_MAX_AGE_SECS, check_acr_value, check_amr_value};

/// The `[assurance]` table: defaults for every service.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAssurance {
    #[serde(default)]
    pub require_amr: Vec<String>,
    #[serde(default)]
    pub acr_values: Vec<String>,
    pub max_age_secs: Option<u64>,
}

/// The verdict policy for logins while the provider cannot be reached.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FailureMode {
    /// The login fails (PAM_AUTHINFO_UNAVAIL).
    #[default]
    Secure,
    /// The login passes without verification, logged at error level as
    /// `login_failed_open`. Only for services where an admin opted in.
    Open,
}

/// The security settings of one PAM service.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SecurityPolicy {
    pub assurance: AssurancePolicy,
    pub failure_mode: FailureMode,
}

/// The security settings of all services.
#[derive(Clone, Debug, Default)]
pub struct SecurityPolicies {
    /// The `[assurance]` table alone, for the browser flow, which serves no one service.
    pub global: SecurityPolicy,
    /// `[services.other]` merged over `[assurance]`, for services without a table.
    pub fallback: SecurityPolicy,
    pub by_service: HashMap<String, SecurityPolicy>,
}

impl SecurityPolicies {
    pub fn policy_for(&self, service: &str) -> &SecurityPolicy {
        self.by_service.get(service).unwrap_or(&self.fallback)
    }
}

/// Builds the policies; call before the service tables are consumed.
pub(super) fn validate_security(check: &Checker, raw: &RawAssurance, services: &BTreeMap<String, RawServicePolicy>) -> Result<SecurityPolicies, ConfigError> {
    let global = SecurityPolicy {
        assurance: AssurancePolicy {
            require_amr: amr_list(check, "assurance", &raw.require_amr)?,
            acr_values: acr_list(check, "assurance", &raw.acr_values)?,
            max_age_secs: raw.max_age_secs.map(|secs| check.range("assurance", "max_age_secs", secs, 0, MAX_MAX_AGE_SECS)).transpose()?,
        },
        failure_mode: FailureMode::Secure,
    };

    let mut by_service = HashMap::new();
    for (service, table) in services {
        let name = format!("services.{service}");
        let mut policy = global.clone();
        if let Some(list) = &table.require_amr {
            policy.assurance.require_amr = amr_list(check, &name, list)?;
        }
        if let Some(list) = &table.acr_values {
            policy.assurance.acr_values = acr_list(check, &name, list)?;
        }
        if let Some(secs) = table.max_age_secs {
            policy.assurance.max_age_secs = Some(check.range(&name, "max_age_secs", secs, 0, MAX_MAX_AGE_SECS)?);
        }
        if let Some(mode) = &table.failure_mode {
            policy.failure_mode = match mode.as_str() {
                "secure" => FailureMode::Secure,
                "open" => FailureMode::Open,
                other => return Err(check.error(&name, "failure_mode", format!("{other:?} is not a failure mode; use \"secure\" (deny when the provider is unreachable) or \"open\""))),
            };
        }
        by_service.insert(service.clone(), policy);
    }

    let fallback = by_service.get("other").cloned().unwrap_or_else(|| global.clone());
    Ok(SecurityPolicies { global, fallback, by_service })
}

fn amr_list(check: &Checker, table: &str, values: &[String]) -> Result<Vec<String>, ConfigError> {
    for value in values {
        check_amr_value(value).map_err(|reason| check.error(table, "require_amr", reason))?;
    }
    Ok(values.to_vec())
}

fn acr_list(check: &Checker, table: &str, values: &[String]) -> Result<Vec<String>, ConfigError> {
    for value in values {
        check_acr_value(value).map_err(|reason| check.error(table, "acr_values", reason))?;
    }
    Ok(values.to_vec())
}
