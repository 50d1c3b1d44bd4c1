//! Turning a flow's result into a verdict: token checks, identity mapping, messages.

use serde_json::Value;
use ultraauth_proto::Outcome;

use crate::audit::Level;
use crate::daemon::Daemon;
use crate::flows::polling::PollOutcome;
use crate::flows::token::Tokens;
use super::checks::{check_assurance, check_binding};
use crate::assurance::{AssuranceClaims, AssurancePolicy};
use crate::mapping::{map_username, needs_userinfo};
use crate::provider::ProviderError;

const MSG_DENIED: &str = "The verification was denied at the provider.";
const MSG_EXPIRED: &str = "The code expired before it was approved. Start a new login.";
pub const MSG_INVALID_CODE: &str = "The one-time code is not valid. Get a new one and try again.";
const MSG_UNAVAILABLE: &str = "The verification service is not reachable. Try again later.";
pub const MSG_INVALID: &str = "The provider's answer failed verification. The system log has the reason.";

/// A verdict with its audit event and the message shown to the user.
#[derive(Clone, Debug)]
pub struct Verdict {
    pub outcome: Outcome,
    pub level: Level,
    pub event: &'static str,
    /// Why, for the audit log; never a token or code.
    pub reason: String,
    pub user_message: Option<String>,
    /// The provider could not be reached, so `failure_mode = "open"` may apply.
    pub provider_unreachable: bool,
}

impl Verdict {
    pub fn unavailable(reason: String) -> Self {
        Verdict { outcome: Outcome::Unavailable, level: Level::Error, event: "login_unavailable", reason, user_message: Some(MSG_UNAVAILABLE.into()), provider_unreachable: false }
    }

    /// Builds the verdict for a prompt the PAM application returned no reply to (pamela
    /// does this), which means the user never saw the code.
    pub fn prompt_not_shown() -> Self {
        Verdict {
            outcome: Outcome::Unavailable,
            level: Level::Error,
            event: "login_unavailable",
            reason: "the PAM application returned no reply to the device prompt, so the user cannot see it; use a flow this application can show".into(),
            user_message: Some("This login program cannot show the verification link. Ask the administrator which login method to use.".into()),
            provider_unreachable: false,
        }
    }

    /// Builds the verdict for a provider that did not respond before the login's deadline.
    pub fn provider_too_slow() -> Self {
        Verdict { provider_unreachable: true, ..Verdict::unavailable("the provider did not answer before the login's wait limit".into()) }
    }

    pub fn timed_out() -> Self {
        Verdict {
            outcome: Outcome::TimedOut,
            level: Level::Warning,
            event: "login_timed_out",
            reason: "no approval within the service's wait_secs or the module's timeout".into(),
            user_message: Some("The approval timed out. Start a new login.".into()),
            provider_unreachable: false,
        }
    }

    pub fn approved(reason: String) -> Self {
        Verdict { outcome: Outcome::Approved, level: Level::Notice, event: "login_approved", reason, user_message: None, provider_unreachable: false }
    }

    pub fn denied(reason: String, message: &str) -> Self {
        Verdict { outcome: Outcome::Denied, level: Level::Warning, event: "login_denied", reason, user_message: Some(message.into()), provider_unreachable: false }
    }

    pub fn from_provider_error(err: ProviderError) -> Self {
        match err {
            ProviderError::Unavailable(reason) => Verdict { provider_unreachable: true, ..Verdict::unavailable(reason) },
            ProviderError::Rejected(reason) => Verdict::denied(reason, MSG_INVALID),
        }
    }
}

/// Turns the end of a polling flow (device grant or CIBA) into a verdict.
pub async fn verdict_for_poll(daemon: &Daemon, pam_user: &str, outcome: PollOutcome, assurance: &AssurancePolicy) -> Verdict {
    match outcome {
        PollOutcome::Issued(tokens) => verdict_for_tokens(daemon, pam_user, tokens, assurance).await,
        PollOutcome::Denied(reason) => Verdict::denied(reason, MSG_DENIED),
        PollOutcome::Expired => Verdict::denied("expired_token: the request expired before approval".into(), MSG_EXPIRED),
        PollOutcome::TimedOut => Verdict::timed_out(),
        PollOutcome::Failed(reason) => Verdict::denied(format!("token endpoint error: {reason}"), MSG_INVALID),
        PollOutcome::Unavailable(reason) => Verdict { provider_unreachable: true, ..Verdict::unavailable(reason) },
    }
}

/// The local user a verified ID token maps to.
pub struct VerifiedIdentity {
    pub local_user: String,
    pub sub: String,
    pub assurance: AssuranceClaims,
}

/// Verifies the ID token (with `nonce` for the code flow) and maps the identity to a
/// local username. A failure is returned as the verdict to send.
pub async fn verify_identity(daemon: &Daemon, tokens: &Tokens, nonce: Option<&str>) -> Result<VerifiedIdentity, Verdict> {
    let mut claims = daemon.provider.verify_id_token(&tokens.id_token, nonce).await.map_err(Verdict::from_provider_error)?;
    let sub = claims.get("sub").and_then(Value::as_str).unwrap_or_default().to_owned();
    let mapping = daemon.mapping.load();

    // The mapped claim may be left out of the ID token; then ask the userinfo endpoint.
    if needs_userinfo(&claims, &mapping) {
        if let Some(access_token) = &tokens.access_token {
            let userinfo = daemon.provider.userinfo(access_token, &sub).await.map_err(Verdict::from_provider_error)?;
            for (key, value) in userinfo {
                claims.entry(key).or_insert(value);
            }
        }
    }

    let local_user = match map_username(&claims, &mapping) {
        Ok(local_user) => local_user,
        Err(reason) => return Err(Verdict::denied(format!("identity mapping failed for sub {sub:?}: {reason}"), MSG_INVALID)),
    };
    check_binding(daemon, &local_user, &sub)?;
    Ok(VerifiedIdentity { local_user, sub, assurance: AssuranceClaims::from_claims(&claims) })
}

/// Verifies the tokens and compares the mapped identity with the PAM user.
async fn verdict_for_tokens(daemon: &Daemon, pam_user: &str, tokens: Tokens, assurance: &AssurancePolicy) -> Verdict {
    let identity = match verify_identity(daemon, &tokens, None).await {
        Ok(identity) => identity,
        Err(verdict) => return verdict,
    };
    if let Err(verdict) = check_assurance(daemon, assurance, &identity.assurance) {
        return verdict;
    }
    let VerifiedIdentity { local_user, sub, assurance: claims } = identity;

    if local_user != pam_user {
        return Verdict::denied(
            format!("identity mismatch: provider sub {sub:?} maps to local user {local_user:?}, but the PAM user is {pam_user:?}"),
            &format!("The account verified at the provider may not log in as {pam_user}."),
        );
    }

    Verdict::approved(format!("ID token verified for sub {sub:?}, amr {}, acr {}", claims.amr_for_log(), claims.acr_for_log()))
}
