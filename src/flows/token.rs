//! Token endpoint responses shared by the polling flows (RFC 6749 section 5).

use serde_json::{Map, Value};

use crate::secret::Secret;

/// The tokens of a successful token response. Both are wiped from memory on drop and
/// print as `[redacted]`.
#[derive(Debug)]
pub struct Tokens {
    pub id_token: Secret,
    pub access_token: Option<Secret>,
}

/// The meaning of one token endpoint response for a pending login.
#[derive(Debug, PartialEq, Eq)]
pub enum PollStep {
    /// The user has not finished yet: poll again after the interval.
    Pending,
    /// RFC 8628 slow_down: poll again after the interval grows by 5 seconds.
    SlowDown,
    /// The user or the provider refused the request (access_denied).
    Denied(String),
    /// The device code expired (expired_token).
    Expired,
    /// Another error the provider named; the login cannot succeed.
    Failed(String),
    /// The provider returned something other than an OAuth response; polling again may help.
    Transient(String),
    /// Tokens were issued.
    Issued,
}

/// Classifies a token endpoint response. The body's `error` is read before the HTTP
/// status, because providers send OAuth errors under 400, 401, 403 or even 200.
pub fn classify_token_response(status: u16, body: &Map<String, Value>) -> PollStep {
    if let Some(error) = body.get("error") {
        let code = error.as_str().unwrap_or("(not a string)");
        let description = body.get("error_description").and_then(Value::as_str).map(|text| format!(": {}", truncate(text, 200))).unwrap_or_default();
        return match code {
            "authorization_pending" => PollStep::Pending,
            "slow_down" => PollStep::SlowDown,
            "access_denied" => PollStep::Denied(format!("access_denied{description}")),
            "expired_token" => PollStep::Expired,
            other => PollStep::Failed(format!("{}{description}", truncate(other, 64))),
        };
    }

    if (200..300).contains(&status) {
        return match body.get("id_token") {
            Some(Value::String(_)) => PollStep::Issued,
            _ => PollStep::Failed("token response has no id_token; is the openid scope granted?".into()),
        };
    }
    PollStep::Transient(format!("token endpoint answered HTTP {status} without an OAuth error"))
}

/// Takes the tokens out of a successful response.
pub fn take_tokens(body: &mut Map<String, Value>) -> Option<Tokens> {
    let Some(Value::String(id_token)) = body.remove("id_token") else { return None };
    let access_token = match body.remove("access_token") {
        Some(Value::String(token)) => Some(Secret::new(token)),
        _ => None,
    };
    Some(Tokens { id_token: Secret::new(id_token), access_token })
}

fn truncate(text: &str, max: usize) -> String {
    text.chars().take(max).filter(|c| !c.is_control()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn classify(status: u16, body: Value) -> PollStep {
        classify_token_response(status, body.as_object().unwrap())
    }

    #[test]
    fn token_error_is_read_before_status() {
        assert_eq!(classify(400, json!({"error": "authorization_pending"})), PollStep::Pending);
        assert_eq!(classify(200, json!({"error": "authorization_pending"})), PollStep::Pending);
        assert_eq!(classify(401, json!({"error": "slow_down"})), PollStep::SlowDown);
    }

    #[test]
    fn token_terminal_errors() {
        assert_eq!(classify(400, json!({"error": "access_denied"})), PollStep::Denied("access_denied".into()));
        assert_eq!(classify(400, json!({"error": "expired_token"})), PollStep::Expired);
        assert!(matches!(classify(400, json!({"error": "invalid_grant"})), PollStep::Failed(_)));
        assert!(matches!(classify(400, json!({"error": 17})), PollStep::Failed(_)));
    }

    #[test]
    fn token_success_needs_id_token() {
        assert_eq!(classify(200, json!({"id_token": "a.b.c", "access_token": "x"})), PollStep::Issued);
        assert!(matches!(classify(200, json!({"access_token": "x"})), PollStep::Failed(_)));
    }

    #[test]
    fn token_server_error_is_transient() {
        assert!(matches!(classify(503, json!({"message": "busy"})), PollStep::Transient(_)));
    }

    #[test]
    fn take_tokens_moves_them_out() {
        let mut body = json!({"id_token": "a.b.c", "access_token": "at"}).as_object().unwrap().clone();
        let tokens = take_tokens(&mut body).unwrap();
        assert_eq!(tokens.id_token.as_str(), "a.b.c");
        assert_eq!(tokens.access_token.as_deref(), Some("at"));
        assert!(body.get("id_token").is_none());
    }
}
