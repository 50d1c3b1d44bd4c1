//! OAuth 2.0 Device Authorization Grant (RFC 8628).

use std::time::Duration;

use serde_json::{Map, Value};
use tokio::time::Instant;
use zeroize::Zeroizing;

use super::polling::{MAX_INTERVAL, PollOutcome, poll_token_endpoint};
use crate::provider::{Provider, ProviderError};


/// Lifetime assumed when the provider sends no usable `expires_in`.
const DEFAULT_EXPIRES_IN: Duration = Duration::from_secs(300);

/// Largest `expires_in` taken from the provider (device or CIBA), so a bogus value cannot
/// overflow a deadline. Logins end at their wait limit long before it.
pub const MAX_EXPIRES_IN: Duration = Duration::from_secs(3600);


/// The device authorization response (RFC 8628 section 3.2), checked for display.
pub struct DeviceAuthorization {
    pub device_code: Zeroizing<String>,
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: Option<String>,
    pub expires_in: Duration,
    pub interval: Duration,
}

/// Prints every field but the device code, which is a bearer secret until it expires.
impl std::fmt::Debug for DeviceAuthorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceAuthorization")
            .field("device_code", &"[redacted]")
            .field("user_code", &self.user_code)
            .field("verification_uri", &self.verification_uri)
            .field("verification_uri_complete", &self.verification_uri_complete)
            .field("expires_in", &self.expires_in)
            .field("interval", &self.interval)
            .finish()
    }
}

/// Asks the provider for a device code and user code; `extra` adds request parameters
/// such as `acr_values` and `max_age`.
pub async fn request_device_authorization(provider: &Provider, default_interval: Duration, extra: &[(&'static str, String)]) -> Result<DeviceAuthorization, ProviderError> {
    let metadata = provider.metadata().await?;
    let Some(endpoint) = &metadata.device_authorization_endpoint else {
        return Err(ProviderError::Unavailable(
            "the provider advertises no device_authorization_endpoint; set provider.device_authorization_endpoint or use another flow".into(),
        ));
    };

    let scope = provider.config().scopes.join(" ");
    let mut form = vec![("scope", scope.as_str())];
    form.extend(extra.iter().map(|(key, value)| (*key, value.as_str())));
    let response = provider.http().post_form(endpoint, &provider.client_auth(), &form).await?;
    if let Some(error) = response.body.get("error") {
        return Err(ProviderError::Unavailable(format!("device authorization request failed: error {error}")));
    }
    if !response.status.is_success() {
        return Err(ProviderError::Unavailable(format!("device authorization endpoint returned HTTP {}", response.status.as_u16())));
    }
    parse_device_authorization(&response.body, default_interval).map_err(ProviderError::Unavailable)
}

/// Parses a device authorization response. Strict on what is shown to the user and
/// sent back (device_code, user_code, verification_uri), lenient on the rest.
pub fn parse_device_authorization(body: &Map<String, Value>, default_interval: Duration) -> Result<DeviceAuthorization, String> {
    let device_code = match body.get("device_code") {
        Some(Value::String(code)) if !code.is_empty() && code.len() <= 2048 => Zeroizing::new(code.clone()),
        _ => return Err("device authorization response has no usable device_code".into()),
    };
    let user_code = displayable(body.get("user_code"), 64).ok_or("device authorization response has no usable user_code")?;

    // Some providers (Google among them) send the draft name verification_url.
    let verification_uri = displayable(body.get("verification_uri"), 512)
        .or_else(|| displayable(body.get("verification_url"), 512))
        .filter(|uri| is_web_url(uri))
        .ok_or("device authorization response has no usable verification_uri")?;
    let verification_uri_complete = displayable(body.get("verification_uri_complete"), 1024).filter(|uri| is_web_url(uri));

    Ok(DeviceAuthorization {
        device_code,
        user_code,
        verification_uri,
        verification_uri_complete,
        expires_in: seconds(body.get("expires_in")).unwrap_or(DEFAULT_EXPIRES_IN).min(MAX_EXPIRES_IN),
        interval: poll_interval(body.get("interval"), default_interval),
    })
}

/// RFC 8628 section 3.2: `interval` defaults to 5 seconds (CIBA section 7.3 likewise). An absent, zero or
/// non-numeric value gets the configured default; a huge one is capped.
pub fn poll_interval(value: Option<&Value>, default_interval: Duration) -> Duration {
    match seconds(value) {
        Some(interval) if !interval.is_zero() => interval.min(MAX_INTERVAL),
        _ => default_interval,
    }
}

/// Reads a whole number of seconds from a JSON number or numeric string.
pub fn seconds(value: Option<&Value>) -> Option<Duration> {
    let secs = match value? {
        Value::Number(number) => number.as_u64().or_else(|| number.as_f64().filter(|f| f.is_finite() && *f >= 0.0).map(|f| f.min(u32::MAX as f64) as u64))?,
        Value::String(text) => text.trim().parse::<u64>().ok()?,
        _ => return None,
    };
    Some(Duration::from_secs(secs.min(u64::from(u32::MAX))))
}

/// Returns the string if it is safe to show in a prompt: not empty and at most `max`
/// bytes. Control characters could drive the user's terminal, and Unicode direction and
/// line-separator marks could reorder what the user reads, so both are refused.
pub fn displayable(value: Option<&Value>, max: usize) -> Option<String> {
    let Value::String(text) = value? else { return None };
    let ok = !text.is_empty() && text.len() <= max && !text.chars().any(|c| c.is_control() || is_format_mark(c));
    ok.then(|| text.clone())
}

pub use ultraauth_proto::logfmt::is_format_mark;

fn is_web_url(text: &str) -> bool {
    url::Url::parse(text).is_ok_and(|url| matches!(url.scheme(), "https" | "http"))
}

/// Polls the token endpoint with the device_code until the login ends.
pub async fn poll_for_tokens(provider: &Provider, authorization: &DeviceAuthorization, started: Instant, deadline: Instant) -> PollOutcome {
    let form = [("grant_type", "urn:ietf:params:oauth:grant-type:device_code"), ("device_code", authorization.device_code.as_str())];
    poll_token_endpoint(provider, &form, authorization.interval, started + authorization.expires_in, deadline).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const FIVE: Duration = Duration::from_secs(5);

    fn parse(value: Value) -> Result<DeviceAuthorization, String> {
        parse_device_authorization(value.as_object().unwrap(), FIVE)
    }

    #[test]
    fn interval_defaults_when_absent_zero_or_not_number() {
        assert_eq!(poll_interval(None, FIVE), FIVE);
        assert_eq!(poll_interval(Some(&json!(0)), FIVE), FIVE);
        assert_eq!(poll_interval(Some(&json!("soon")), FIVE), FIVE);
        assert_eq!(poll_interval(Some(&json!(null)), FIVE), FIVE);
        assert_eq!(poll_interval(Some(&json!(-3)), FIVE), FIVE);
    }

    #[test]
    fn interval_taken_from_number_or_string() {
        assert_eq!(poll_interval(Some(&json!(7)), FIVE), Duration::from_secs(7));
        assert_eq!(poll_interval(Some(&json!("8")), FIVE), Duration::from_secs(8));
        assert_eq!(poll_interval(Some(&json!(86400)), FIVE), MAX_INTERVAL);
    }

    #[test]
    fn device_response_accepts_verification_url() {
        let auth = parse(json!({
            "device_code": "dc", "user_code": "ABCD-EFGH",
            "verification_url": "https://idp.example/device", "expires_in": "600"
        }))
        .unwrap();
        assert_eq!(auth.verification_uri, "https://idp.example/device");
        assert_eq!(auth.expires_in, Duration::from_secs(600));
        assert_eq!(auth.interval, FIVE);
    }

    #[test]
    fn device_response_rejects_control_characters() {
        let result = parse(json!({
            "device_code": "dc", "user_code": "AB\u{1b}[2J",
            "verification_uri": "https://idp.example/device", "expires_in": 600
        }));
        assert!(result.is_err());
    }

    #[test]
    fn device_response_rejects_bidi_marks() {
        let result = parse(json!({
            "device_code": "dc", "user_code": "AB\u{202e}CD",
            "verification_uri": "https://idp.example/device", "expires_in": 600
        }));
        assert!(result.is_err());
    }

    #[test]
    fn device_response_rejects_non_web_uri() {
        let result = parse(json!({
            "device_code": "dc", "user_code": "ABCD",
            "verification_uri": "javascript:alert(1)", "expires_in": 600
        }));
        assert!(result.is_err());
    }

    #[test]
    fn device_response_drops_bad_complete_uri() {
        let auth = parse(json!({
            "device_code": "dc", "user_code": "ABCD", "verification_uri": "https://idp.example/device",
            "verification_uri_complete": 12, "expires_in": 600
        }))
        .unwrap();
        assert_eq!(auth.verification_uri_complete, None);
    }

    #[test]
    fn device_response_caps_huge_expires_in() {
        let auth = parse(json!({
            "device_code": "dc", "user_code": "ABCD", "verification_uri": "https://idp.example/device", "expires_in": 1e30
        }))
        .unwrap();
        assert_eq!(auth.expires_in, MAX_EXPIRES_IN);
    }

    #[test]
    fn device_response_requires_device_code() {
        assert!(parse(json!({"user_code": "ABCD", "verification_uri": "https://idp.example/device"})).is_err());
    }
}
