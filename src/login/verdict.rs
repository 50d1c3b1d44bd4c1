//! Turning a flow's result into a verdict: token checks, identity mapping, messages.

use serde_json::Value;
use ultraauth_proto::Outcome;

use crate::audit::Level;
use crate::daemon::Daemon;
use crate::flows::device::DeviceOutcome;
use crate::flows::token::Tokens;
use crate::mapping::map_username;
use crate::provider::ProviderError;

const MSG_DENIED: &str = "The verification was denied at the provider.";
const MSG_EXPIRED: &str = "The code expired before it was approved. Start a new login.";
const MSG_UNAVAILABLE: &str = "The verification service is not reachable. Try again later.";
const MSG_INVALID: &str = "The provider's answer failed verification. The system log has the reason.";

/// A verdict with its audit event and the message shown to the user.
pub struct Verdict {
    pub outcome: Outcome,
    pub level: Level,
    pub event: &'static str,
    /// Why, for the audit log; never a token or code.
    pub reason: String,
    pub user_message: Option<String>,
}

impl Verdict {
    pub fn unavailable(reason: String) -> Self {
        Verdict { outcome: Outcome::Unavailable, level: Level::Error, event: "login_unavailable", reason, user_message: Some(MSG_UNAVAILABLE.into()) }
    }

    /// The PAM application returned no reply to the prompt (pamela does this), so the user
    /// never saw the code.
    pub fn prompt_not_shown() -> Self {
        Verdict {
            outcome: Outcome::Unavailable,
            level: Level::Error,
            event: "login_unavailable",
            reason: "the PAM application returned no reply to the device prompt, so the user cannot see it; use a flow this application can show".into(),
            user_message: Some("This login program cannot show the verification link. Ask the administrator which login method to use.".into()),
        }
    }

    fn denied(reason: String, message: &str) -> Self {
        Verdict { outcome: Outcome::Denied, level: Level::Warning, event: "login_denied", reason, user_message: Some(message.into()) }
    }

    fn from_provider_error(err: ProviderError) -> Self {
        match err {
            ProviderError::Unavailable(reason) => Verdict::unavailable(reason),
            ProviderError::Rejected(reason) => Verdict::denied(reason, MSG_INVALID),
        }
    }
}

pub async fn verdict_for_device(daemon: &Daemon, pam_user: &str, outcome: DeviceOutcome) -> Verdict {
    match outcome {
        DeviceOutcome::Issued(tokens) => verdict_for_tokens(daemon, pam_user, tokens).await,
        DeviceOutcome::Denied(reason) => Verdict::denied(reason, MSG_DENIED),
        DeviceOutcome::Expired => Verdict::denied("expired_token: the device code expired".into(), MSG_EXPIRED),
        DeviceOutcome::TimedOut => Verdict {
                outcome: Outcome::TimedOut,
                level: Level::Warning,
                event: "login_timed_out",
                reason: "no approval within the service's wait_secs or the module's timeout".into(),
                user_message: Some("The approval timed out. Start a new login.".into()),
            },
        DeviceOutcome::Failed(reason) => Verdict::denied(format!("token endpoint error: {reason}"), MSG_INVALID),
        DeviceOutcome::Unavailable(reason) => Verdict::unavailable(reason),
    }
}

/// Verifies the ID token, maps the identity and compares it with the PAM user.
async fn verdict_for_tokens(daemon: &Daemon, pam_user: &str, tokens: Tokens) -> Verdict {
    let mut claims = match daemon.provider.verify_id_token(&tokens.id_token, None).await {
        Ok(claims) => claims,
        Err(err) => return Verdict::from_provider_error(err),
    };
    let sub = claims.get("sub").and_then(Value::as_str).unwrap_or_default().to_owned();

    // The mapped claim may be left out of the ID token; then ask the userinfo endpoint.
    if !claims.contains_key(&daemon.mapping.claim) {
        if let Some(access_token) = &tokens.access_token {
            match daemon.provider.userinfo(access_token, &sub).await {
                Ok(userinfo) => {
                    for (key, value) in userinfo {
                        claims.entry(key).or_insert(value);
                    }
                }
                Err(err) => return Verdict::from_provider_error(err),
            }
        }
    }

    let mapped = match map_username(&claims, &daemon.mapping) {
        Ok(name) => name,
        Err(reason) => return Verdict::denied(format!("identity mapping failed for sub {sub:?}: {reason}"), MSG_INVALID),
    };

    if mapped != pam_user {
        return Verdict::denied(
            format!("identity mismatch: provider sub {sub:?} maps to local user {mapped:?}, but the PAM user is {pam_user:?}"),
            &format!("The account verified at the provider may not log in as {pam_user}."),
        );
    }

    Verdict { outcome: Outcome::Approved, level: Level::Notice, event: "login_approved", reason: format!("ID token verified for sub {sub:?}"), user_message: None }
}
