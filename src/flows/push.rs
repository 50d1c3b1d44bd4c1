//! OpenID Connect Client-Initiated Backchannel Authentication (CIBA 1.0) in poll mode:
//! the provider pushes the login to the user's device, and the daemon polls for tokens.

use std::time::Duration;

use serde_json::{Map, Value};
use tokio::time::Instant;

use super::device::{MAX_EXPIRES_IN, poll_interval, seconds};
use super::polling::{PollOutcome, poll_token_endpoint};
use crate::provider::{Provider, ProviderError};
use crate::secret::Secret;

/// Lifetime assumed when the provider sends no usable `expires_in`.
const DEFAULT_EXPIRES_IN: Duration = Duration::from_secs(300);

/// Maximum binding_message length sent; providers commonly accept short messages only.
const MAX_BINDING_MESSAGE_LEN: usize = 64;

/// The authentication request acknowledgement (CIBA section 7.3).
#[derive(Debug)]
pub struct BackchannelRequest {
    pub auth_req_id: Secret,
    pub expires_in: Duration,
    pub interval: Duration,
}

/// Builds the login_hint from the configured template.
pub fn login_hint(template: &str, user: &str) -> String {
    template.replace("{user}", user)
}

/// Builds a binding_message naming host and service. CIBA section 7.1 asks for a short
/// plain-text message, so only letters, digits, spaces and `.:_()-` are kept.
pub fn binding_message(host: &str, service: &str) -> String {
    let text = format!("Login to {host} ({service})");
    text.chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '.' | ':' | '_' | '(' | ')' | '-'))
        .take(MAX_BINDING_MESSAGE_LEN)
        .collect()
}

/// Sends the backchannel authentication request; `extra` adds request parameters such
/// as `acr_values` and `max_age`.
pub async fn request_backchannel(
    provider: &Provider,
    hint: &str,
    message: &str,
    default_interval: Duration,
    extra: &[(&'static str, String)],
) -> Result<BackchannelRequest, ProviderError> {
    let metadata = provider.metadata().await?;
    let Some(endpoint) = metadata.ciba_poll_endpoint() else {
        return Err(ProviderError::Unavailable("the provider advertises no backchannel_authentication_endpoint with poll mode; use another flow".into()));
    };

    let scope = provider.config().scopes.join(" ");
    let mut form = vec![("scope", scope.as_str()), ("login_hint", hint), ("binding_message", message)];
    form.extend(extra.iter().map(|(key, value)| (*key, value.as_str())));
    let response = provider.http().post_form(endpoint, &provider.client_auth(), &form).await?;

    if let Some(error) = response.body.get("error") {
        let code = error.as_str().unwrap_or("(not a string)");
        // unknown_user_id and access_denied are verdicts about this user, not outages.
        return match code {
            "unknown_user_id" | "access_denied" => Err(ProviderError::Rejected(format!("backchannel authentication request rejected: {code}"))),
            _ => Err(ProviderError::Unavailable(format!("backchannel authentication request failed: error {code}"))),
        };
    }
    if !response.status.is_success() {
        return Err(ProviderError::Unavailable(format!("backchannel authentication endpoint returned HTTP {}", response.status.as_u16())));
    }
    parse_backchannel_response(&response.body, default_interval).map_err(ProviderError::Unavailable)
}

pub fn parse_backchannel_response(body: &Map<String, Value>, default_interval: Duration) -> Result<BackchannelRequest, String> {
    let auth_req_id = match body.get("auth_req_id") {
        Some(Value::String(id)) if !id.is_empty() && id.len() <= 2048 => Secret::new(id.clone()),
        _ => return Err("backchannel authentication response has no usable auth_req_id".into()),
    };
    Ok(BackchannelRequest {
        auth_req_id,
        expires_in: seconds(body.get("expires_in")).filter(|secs| !secs.is_zero()).unwrap_or(DEFAULT_EXPIRES_IN).min(MAX_EXPIRES_IN),
        interval: poll_interval(body.get("interval"), default_interval),
    })
}

/// Polls the token endpoint with the auth_req_id until the login ends.
pub async fn poll_for_tokens(provider: &Provider, request: &BackchannelRequest, started: Instant, deadline: Instant) -> PollOutcome {
    let form = [("grant_type", "urn:openid:params:grant-type:ciba"), ("auth_req_id", request.auth_req_id.as_str())];
    poll_token_endpoint(provider, &form, request.interval, started + request.expires_in, deadline).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const FIVE: Duration = Duration::from_secs(5);

    #[test]
    fn binding_message_keeps_plain_text_only() {
        assert_eq!(binding_message("login1.example.org", "sshd"), "Login to login1.example.org (sshd)");
        assert_eq!(binding_message("evil\u{202e}host<script>", "su"), "Login to evilhostscript (su)");
        assert!(binding_message(&"h".repeat(200), "sshd").len() <= MAX_BINDING_MESSAGE_LEN);
    }

    #[test]
    fn login_hint_fills_template() {
        assert_eq!(login_hint("{user}@example.org", "alice"), "alice@example.org");
    }

    #[test]
    fn backchannel_response_defaults() {
        let request = parse_backchannel_response(json!({"auth_req_id": "r1"}).as_object().unwrap(), FIVE).unwrap();
        assert_eq!(request.interval, FIVE);
        assert_eq!(request.expires_in, DEFAULT_EXPIRES_IN);
    }

    #[test]
    fn backchannel_response_needs_auth_req_id() {
        assert!(parse_backchannel_response(json!({"expires_in": 60}).as_object().unwrap(), FIVE).is_err());
    }
}
