//! Authorization code flow with PKCE (RFC 6749 section 4.1, RFC 7636, OpenID Connect Core
//! section 3.1) for the browser callback.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use super::token::{PollStep, Tokens, classify_token_response, take_tokens};
use crate::clock::Clock;
use crate::provider::{Provider, ProviderError};
use crate::random::random_token;
use crate::secret::Secret;

/// Time a user has from /start to the callback.
const PENDING_LIFETIME: Duration = Duration::from_secs(600);

/// Authorizations in flight at once; beyond it /start is rejected until some finish.
const MAX_PENDING: usize = 10_000;

/// State kept between /start and /callback, keyed by `state`.
#[derive(Debug)]
pub struct PendingAuthorization {
    pub code_verifier: Secret,
    pub nonce: String,
    created: Instant,
}

/// The parameters of one authorization request.
pub struct AuthorizationRequest {
    pub state: String,
    pub nonce: String,
    pub code_challenge: String,
}

pub struct PendingAuthorizations {
    clock: Arc<dyn Clock>,
    entries: Mutex<HashMap<String, PendingAuthorization>>,
}

impl PendingAuthorizations {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        PendingAuthorizations { clock, entries: Mutex::new(HashMap::new()) }
    }

    /// Creates state, nonce and PKCE verifier; `None` when too many are in flight.
    pub fn begin(&self) -> Option<AuthorizationRequest> {
        let now = self.clock.now();
        let mut entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        entries.retain(|_, pending| now.duration_since(pending.created) < PENDING_LIFETIME);
        if entries.len() >= MAX_PENDING {
            return None;
        }

        let state = random_token(24);
        let nonce = random_token(24);
        let code_verifier = Secret::new(random_token(32));
        let code_challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(code_verifier.as_bytes()));

        entries.insert(state.clone(), PendingAuthorization { code_verifier, nonce: nonce.clone(), created: now });
        Some(AuthorizationRequest { state, nonce, code_challenge })
    }

    /// Takes the authorization for `state` out, so a callback works once.
    pub fn take(&self, state: &str) -> Option<PendingAuthorization> {
        let now = self.clock.now();
        let mut entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let pending = entries.remove(state)?;
        (now.duration_since(pending.created) < PENDING_LIFETIME).then_some(pending)
    }
}

/// Builds the authorization URL. `prompt=login` makes the provider verify the user again
/// even when it still has a session, because every login needs a fresh verification.
/// `extra` adds parameters such as `acr_values` and `max_age`.
pub fn authorization_url(
    endpoint: &str,
    client_id: &str,
    redirect_uri: &str,
    scopes: &[String],
    request: &AuthorizationRequest,
    extra: &[(&'static str, String)],
) -> Result<String, String> {
    let mut url = url::Url::parse(endpoint).map_err(|err| format!("authorization_endpoint {endpoint:?} is invalid: {err}"))?;
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("scope", &scopes.join(" "))
        .append_pair("state", &request.state)
        .append_pair("nonce", &request.nonce)
        .append_pair("code_challenge", &request.code_challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("prompt", "login");
    for (key, value) in extra {
        url.query_pairs_mut().append_pair(key, value);
    }
    Ok(url.into())
}

/// Exchanges an authorization code for tokens.
pub async fn exchange_code(provider: &Provider, code: &str, pending: &PendingAuthorization, redirect_uri: &str) -> Result<Tokens, ProviderError> {
    let metadata = provider.metadata().await?;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri),
        ("code_verifier", pending.code_verifier.as_str()),
    ];
    let mut response = provider.http().post_form(&metadata.token_endpoint, &provider.client_auth(), &form).await?;

    match classify_token_response(response.status.as_u16(), &response.body) {
        PollStep::Issued => take_tokens(&mut response.body).ok_or_else(|| ProviderError::Rejected("token response has no id_token".into())),
        PollStep::Transient(reason) => Err(ProviderError::Unavailable(reason)),
        PollStep::Denied(reason) | PollStep::Failed(reason) => Err(ProviderError::Rejected(format!("code exchange failed: {reason}"))),
        other => Err(ProviderError::Rejected(format!("code exchange failed: unexpected {other:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SystemClock;

    #[test]
    fn pending_state_works_once() {
        let pending = PendingAuthorizations::new(Arc::new(SystemClock));
        let request = pending.begin().unwrap();
        let taken = pending.take(&request.state).unwrap();
        assert_eq!(taken.nonce, request.nonce);
        assert!(pending.take(&request.state).is_none());
        assert!(pending.take("forged-state").is_none());
    }

    #[test]
    fn pkce_challenge_is_s256_of_verifier() {
        let pending = PendingAuthorizations::new(Arc::new(SystemClock));
        let request = pending.begin().unwrap();
        let taken = pending.take(&request.state).unwrap();
        let expected = URL_SAFE_NO_PAD.encode(Sha256::digest(taken.code_verifier.as_bytes()));
        assert_eq!(request.code_challenge, expected);
    }

    #[test]
    fn authorization_url_has_pkce_state_nonce_and_prompt() {
        let request = AuthorizationRequest { state: "s1".into(), nonce: "n1".into(), code_challenge: "c1".into() };
        let scopes = vec!["openid".to_owned(), "email".to_owned()];
        let url = authorization_url("https://srv.qryp.to/op/auth", "hub", "https://hub.example.org/ultraauth/callback", &scopes, &request, &[("max_age", "0".into())]).unwrap();
        assert!(url.starts_with("https://srv.qryp.to/op/auth?response_type=code&client_id=hub"), "{url}");
        for part in ["state=s1", "nonce=n1", "code_challenge=c1", "code_challenge_method=S256", "prompt=login", "max_age=0", "scope=openid+email", "redirect_uri=https%3A%2F%2Fhub.example.org%2Fultraauth%2Fcallback"] {
            assert!(url.contains(part), "{part} missing in {url}");
        }
    }
}
