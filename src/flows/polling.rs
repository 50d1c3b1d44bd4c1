//! Polling the token endpoint, shared by the device grant and CIBA.

use std::time::Duration;

use tokio::time::Instant;

use super::token::{PollStep, Tokens, classify_token_response, take_tokens};
use crate::provider::Provider;

/// RFC 8628 section 3.5: each slow_down adds 5 seconds to the interval.
pub const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);

/// Largest interval taken from the provider, so a bogus value cannot stall a login.
pub const MAX_INTERVAL: Duration = Duration::from_secs(60);

/// Consecutive polls without an OAuth response (timeouts, HTTP 5xx, HTML) before giving up.
const MAX_TRANSIENT_FAILURES: u32 = 3;

/// The result of polling for tokens.
pub enum PollOutcome {
    Issued(Tokens),
    Denied(String),
    Expired,
    TimedOut,
    Failed(String),
    Unavailable(String),
}

/// The polling state between two token requests (RFC 8628 section 3.5).
pub struct PollState {
    pub interval: Duration,
    transient_failures: u32,
}

impl PollState {
    pub fn new(interval: Duration) -> Self {
        PollState { interval, transient_failures: 0 }
    }

    /// Applies one poll's result: `None` means poll again after [`PollState::interval`],
    /// `Some` ends the login. [`PollStep::Issued`] is handled by the caller, which owns
    /// the tokens.
    pub fn apply(&mut self, step: PollStep) -> Option<PollOutcome> {
        match step {
            PollStep::Pending => {
                self.transient_failures = 0;
                None
            }
            PollStep::SlowDown => {
                self.transient_failures = 0;
                self.interval = (self.interval + SLOW_DOWN_STEP).min(MAX_INTERVAL);
                None
            }
            PollStep::Denied(reason) => Some(PollOutcome::Denied(reason)),
            PollStep::Expired => Some(PollOutcome::Expired),
            PollStep::Failed(reason) if is_configuration_error(&reason) => Some(PollOutcome::Unavailable(format!("token endpoint error: {reason}; check the client registration and provider settings"))),
            PollStep::Failed(reason) => Some(PollOutcome::Failed(reason)),
            PollStep::Transient(reason) => {
                self.transient_failures += 1;
                (self.transient_failures >= MAX_TRANSIENT_FAILURES)
                    .then(|| PollOutcome::Unavailable(format!("{} polls in a row failed, last: {reason}", self.transient_failures)))
            }
            PollStep::Issued => Some(PollOutcome::Failed("token response has no id_token".into())),
        }
    }
}

/// Returns whether a token endpoint error means the client is misconfigured rather than
/// that this login was rejected (RFC 6749 section 5.2).
fn is_configuration_error(reason: &str) -> bool {
    let code = reason.split(':').next().unwrap_or_default();
    matches!(code, "invalid_client" | "unauthorized_client" | "unsupported_grant_type" | "invalid_scope" | "invalid_request")
}

/// Polls the token endpoint with `grant_form` until tokens, a terminal error, the
/// request's expiry or `deadline`, following RFC 8628 section 3.5 (CIBA section 7.3 uses
/// the same rules).
pub async fn poll_token_endpoint(provider: &Provider, grant_form: &[(&str, &str)], interval: Duration, expires_at: Instant, deadline: Instant) -> PollOutcome {
    let mut state = PollState::new(interval);

    let token_endpoint = match provider.metadata().await {
        Ok(metadata) => metadata.token_endpoint.clone(),
        Err(err) => return PollOutcome::Unavailable(err.to_string()),
    };

    loop {
        let next_poll = Instant::now() + state.interval;
        if next_poll >= expires_at {
            return PollOutcome::Expired;
        }
        if next_poll >= deadline {
            return PollOutcome::TimedOut;
        }
        tokio::time::sleep_until(next_poll).await;

        let step = match provider.http().post_form(&token_endpoint, &provider.client_auth(), grant_form).await {
            Ok(mut response) => {
                let step = classify_token_response(response.status.as_u16(), &response.body);
                if step == PollStep::Issued {
                    if let Some(tokens) = take_tokens(&mut response.body) {
                        return PollOutcome::Issued(tokens);
                    }
                }
                step
            }
            Err(err) => PollStep::Transient(err.to_string()),
        };

        if let Some(outcome) = state.apply(step) {
            return outcome;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIVE: Duration = Duration::from_secs(5);

    #[test]
    fn poll_state_slow_down_adds_five() {
        let mut state = PollState::new(FIVE);
        assert!(state.apply(PollStep::SlowDown).is_none());
        assert_eq!(state.interval, Duration::from_secs(10));
        assert!(state.apply(PollStep::Pending).is_none());
        assert_eq!(state.interval, Duration::from_secs(10));
        assert!(state.apply(PollStep::SlowDown).is_none());
        assert_eq!(state.interval, Duration::from_secs(15));
    }

    #[test]
    fn poll_state_terminal_steps_end_the_login() {
        let mut state = PollState::new(FIVE);
        assert!(matches!(state.apply(PollStep::Denied("access_denied".into())), Some(PollOutcome::Denied(_))));
        assert!(matches!(state.apply(PollStep::Expired), Some(PollOutcome::Expired)));
        assert!(matches!(state.apply(PollStep::Failed("invalid_grant".into())), Some(PollOutcome::Failed(_))));
    }

    #[test]
    fn poll_state_configuration_errors_are_unavailable() {
        let mut state = PollState::new(FIVE);
        assert!(matches!(state.apply(PollStep::Failed("invalid_client: bad secret".into())), Some(PollOutcome::Unavailable(_))));
        assert!(matches!(state.apply(PollStep::Failed("invalid_grant".into())), Some(PollOutcome::Failed(_))));
    }

    #[test]
    fn poll_state_gives_up_after_repeated_transient_failures() {
        let mut state = PollState::new(FIVE);
        assert!(state.apply(PollStep::Transient("HTTP 502".into())).is_none());
        assert!(state.apply(PollStep::Transient("HTTP 502".into())).is_none());
        assert!(state.apply(PollStep::Pending).is_none());
        assert!(state.apply(PollStep::Transient("HTTP 502".into())).is_none());
        assert!(state.apply(PollStep::Transient("HTTP 502".into())).is_none());
        assert!(matches!(state.apply(PollStep::Transient("HTTP 502".into())), Some(PollOutcome::Unavailable(_))));
    }
}
