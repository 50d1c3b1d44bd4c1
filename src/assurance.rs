//! Authentication assurance: which methods (`amr`), which level (`acr`) and how recent a
//! verification (`auth_time`) a service accepts.
//!
//! The policy is sent to the provider (`acr_values`, `max_age`) and checked again on the
//! ID token, because a provider may ignore the request. An `auth_time` check stops an old
//! single sign-on session at the provider from standing in for a fresh biometric check.

pub mod codes;

use serde_json::{Map, Value};

/// Longest `max_age_secs` accepted in the configuration: 30 days.
pub const MAX_MAX_AGE_SECS: u64 = 30 * 86_400;

/// The assurance one service requires. An empty list or `None` requires nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AssurancePolicy {
    /// The token's `amr` must contain at least one of these (RFC 8176 values such as
    /// `fpt`, `face`, `hwk`).
    pub require_amr: Vec<String>,
    /// Sent as `acr_values`; the token's `acr` must be one of them.
    pub acr_values: Vec<String>,
    /// Sent as `max_age`; `auth_time` must be present and at most this many seconds old
    /// (plus the clock leeway).
    pub max_age_secs: Option<u64>,
}

/// The assurance claims of a verified ID token, kept as sent so a later check (a
/// one-time code redeemed in a PAM login) can apply another service's policy.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AssuranceClaims {
    pub amr: Option<Value>,
    pub acr: Option<Value>,
    pub auth_time: Option<Value>,
}

impl AssuranceClaims {
    pub fn from_claims(claims: &Map<String, Value>) -> Self {
        AssuranceClaims { amr: claims.get("amr").cloned(), acr: claims.get("acr").cloned(), auth_time: claims.get("auth_time").cloned() }
    }

    /// Formats `amr` for the audit log as `fpt,user`, or `-` when it is missing or not a
    /// list of strings. At most 8 values of 32 characters each are shown.
    pub fn amr_for_log(&self) -> String {
        let Some(Value::Array(items)) = &self.amr else { return "-".into() };
        let methods: Vec<String> = items.iter().filter_map(Value::as_str).take(8).map(|method| method.chars().take(32).collect()).collect();
        if methods.is_empty() { "-".into() } else { methods.join(",") }
    }

    /// Formats `acr` for the audit log, or `-` when it is missing or not a string.
    pub fn acr_for_log(&self) -> String {
        match &self.acr {
            Some(Value::String(acr)) => acr.chars().take(128).collect(),
            _ => "-".into(),
        }
    }
}

impl AssurancePolicy {
    /// Returns the request parameters for authorization, device authorization and CIBA
    /// requests (OpenID Connect Core section 3.1.2.1; CIBA section 7.1 takes the same).
    pub fn request_params(&self) -> Vec<(&'static str, String)> {
        let mut params = Vec::new();
        if !self.acr_values.is_empty() {
            params.push(("acr_values", self.acr_values.join(" ")));
        }
        if let Some(max_age) = self.max_age_secs {
            params.push(("max_age", max_age.to_string()));
        }
        params
    }

    /// Checks the token's assurance claims at Unix time `now`. The error names the
    /// missing method, level or freshness, for the audit log.
    pub fn check(&self, claims: &AssuranceClaims, now: u64, leeway_secs: u64) -> Result<(), String> {
        self.check_amr(claims.amr.as_ref())?;
        self.check_acr(claims.acr.as_ref())?;
        self.check_auth_time(claims.auth_time.as_ref(), now, leeway_secs)
    }

    fn check_amr(&self, amr: Option<&Value>) -> Result<(), String> {
        if self.require_amr.is_empty() {
            return Ok(());
        }
        let required = self.require_amr.join(", ");
        let methods: Vec<&str> = match amr {
            Some(Value::Array(items)) if items.iter().all(Value::is_string) => items.iter().filter_map(Value::as_str).collect(),
            Some(_) => return Err(format!("amr is not an array of strings; require_amr needs one of {required}")),
            None => return Err(format!("amr is missing; require_amr needs one of {required}")),
        };
        if methods.iter().any(|method| self.require_amr.iter().any(|wanted| wanted == method)) {
            return Ok(());
        }
        Err(format!("amr {methods:?} has none of the required methods {required} (require_amr)"))
    }

    fn check_acr(&self, acr: Option<&Value>) -> Result<(), String> {
        if self.acr_values.is_empty() {
            return Ok(());
        }
        match acr {
            Some(Value::String(acr)) if self.acr_values.contains(acr) => Ok(()),
            Some(Value::String(acr)) => Err(format!("acr {acr:?} is not one of the requested acr_values {:?}", self.acr_values)),
            Some(_) => Err(format!("acr is not a string; acr_values requires one of {:?}", self.acr_values)),
            None => Err(format!("acr is missing; acr_values requires one of {:?}", self.acr_values)),
        }
    }

    fn check_auth_time(&self, auth_time: Option<&Value>, now: u64, leeway_secs: u64) -> Result<(), String> {
        let Some(max_age) = self.max_age_secs else { return Ok(()) };
        let auth_time = match auth_time {
            Some(Value::Number(number)) => number.as_f64().ok_or("auth_time is not a usable number")?,
            Some(_) => return Err("auth_time is not a number; max_age_secs needs it".into()),
            None => return Err(format!("auth_time is missing; max_age_secs = {max_age} needs it")),
        };

        let now = now as f64;
        let leeway = leeway_secs as f64;
        if auth_time > now + leeway {
            return Err(format!("auth_time {auth_time} is in the future (now {now}, leeway {leeway} s)"));
        }
        let age = now - auth_time;
        if age > max_age as f64 + leeway {
            return Err(format!(
                "auth_time is {age:.0} s ago, older than max_age_secs = {max_age} (leeway {leeway} s): the provider reused an earlier sign-in"
            ));
        }
        Ok(())
    }
}

/// Checks one `amr` value from the configuration: a short token such as `fpt`.
pub fn check_amr_value(value: &str) -> Result<(), String> {
    let valid = !value.is_empty() && value.len() <= 32 && value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'));
    if valid { Ok(()) } else { Err(format!("{value:?} is not an amr value; use RFC 8176 values such as \"fpt\", \"face\" or \"hwk\"")) }
}

/// Checks one `acr` value: printable ASCII without spaces, because acr_values is
/// space-separated.
pub fn check_acr_value(value: &str) -> Result<(), String> {
    let valid = !value.is_empty() && value.len() <= 256 && value.bytes().all(|byte| byte.is_ascii_graphic());
    if valid { Ok(()) } else { Err(format!("{value:?} is not an acr value; use printable ASCII without spaces, for example \"urn:ultraauth:acr:biometric\"")) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: u64 = 1_800_000_000;

    fn claims(value: Value) -> AssuranceClaims {
        AssuranceClaims::from_claims(value.as_object().unwrap())
    }

    fn biometric() -> AssurancePolicy {
        AssurancePolicy { require_amr: vec!["fpt".into(), "face".into()], ..Default::default() }
    }

    #[test]
    fn amr_needs_one_required_method() {
        let policy = biometric();
        assert_eq!(policy.check(&claims(json!({"amr": ["pwd", "face"]})), NOW, 60), Ok(()));
        let err = policy.check(&claims(json!({"amr": ["pwd"]})), NOW, 60).unwrap_err();
        assert!(err.contains("none of the required methods fpt, face"), "{err}");
    }

    #[test]
    fn amr_missing_or_malformed_is_denied() {
        let policy = biometric();
        assert!(policy.check(&claims(json!({})), NOW, 60).unwrap_err().contains("amr is missing"));
        assert!(policy.check(&claims(json!({"amr": "fpt"})), NOW, 60).unwrap_err().contains("not an array"));
        assert!(policy.check(&claims(json!({"amr": ["fpt", 7]})), NOW, 60).unwrap_err().contains("not an array"));
    }

    #[test]
    fn acr_must_be_requested_value() {
        let policy = AssurancePolicy { acr_values: vec!["urn:ultraauth:acr:biometric".into()], ..Default::default() };
        assert_eq!(policy.check(&claims(json!({"acr": "urn:ultraauth:acr:biometric"})), NOW, 60), Ok(()));
        assert!(policy.check(&claims(json!({"acr": "urn:ultraauth:acr:password"})), NOW, 60).unwrap_err().contains("not one of"));
        assert!(policy.check(&claims(json!({})), NOW, 60).unwrap_err().contains("acr is missing"));
        assert!(policy.check(&claims(json!({"acr": ["x"]})), NOW, 60).unwrap_err().contains("not a string"));
    }

    #[test]
    fn auth_time_within_max_age_and_leeway() {
        let policy = AssurancePolicy { max_age_secs: Some(300), ..Default::default() };
        assert_eq!(policy.check(&claims(json!({"auth_time": NOW - 350})), NOW, 60), Ok(()));
        assert!(policy.check(&claims(json!({"auth_time": NOW - 361})), NOW, 60).unwrap_err().contains("older than max_age_secs"));
        assert!(policy.check(&claims(json!({})), NOW, 60).unwrap_err().contains("auth_time is missing"));
        assert!(policy.check(&claims(json!({"auth_time": "recent"})), NOW, 60).unwrap_err().contains("not a number"));
        assert!(policy.check(&claims(json!({"auth_time": NOW + 3600})), NOW, 60).unwrap_err().contains("future"));
    }

    #[test]
    fn empty_policy_accepts_anything() {
        assert_eq!(AssurancePolicy::default().check(&claims(json!({})), NOW, 0), Ok(()));
        assert!(AssurancePolicy::default().request_params().is_empty());
    }

    #[test]
    fn request_params_join_acr_values() {
        let policy = AssurancePolicy { acr_values: vec!["a".into(), "b".into()], max_age_secs: Some(0), ..Default::default() };
        assert_eq!(policy.request_params(), vec![("acr_values", "a b".to_owned()), ("max_age", "0".to_owned())]);
    }

    #[test]
    fn claims_format_for_log() {
        let assurance = claims(json!({"amr": ["hwk", "user", 7], "acr": "urn:x"}));
        assert_eq!(assurance.amr_for_log(), "hwk,user");
        assert_eq!(assurance.acr_for_log(), "urn:x");
        let empty = claims(json!({"amr": "fpt"}));
        assert_eq!(empty.amr_for_log(), "-");
        assert_eq!(empty.acr_for_log(), "-");
    }

    #[test]
    fn config_values_are_checked() {
        assert!(check_amr_value("fpt").is_ok());
        assert!(check_amr_value("f p").is_err());
        assert!(check_amr_value("").is_err());
        assert!(check_acr_value("urn:ultraauth:acr:biometric").is_ok());
        assert!(check_acr_value("two words").is_err());
    }
}
