//! `failure_mode = "open"`: a service may let logins through while the provider is
//! unreachable. Only an admin's explicit setting turns it on, and every such login is
//! logged at error level as `login_failed_open`.
//!
//! It applies only after discovery has succeeded once since the daemon started. A wrong
//! `provider.issuer` or a provider that never answered therefore fails secure, instead
//! of letting every login through from the first one on.

use ultraauth_proto::Outcome;

use super::Login;
use super::verdict::Verdict;
use crate::audit::Level;
use crate::config::{FailureMode, SecurityPolicy};

impl Login<'_> {
    /// Returns the service's assurance and failure mode, as configured now.
    pub(super) fn security(&self) -> SecurityPolicy {
        self.daemon.security.load().policy_for(&self.request.service).clone()
    }

    /// Turns an unreachable-provider verdict into an approval when the service fails open.
    /// Every other verdict, and every service that fails secure, is returned unchanged.
    pub(super) fn apply_failure_mode(&self, mut verdict: Verdict) -> Verdict {
        if !verdict.provider_unreachable || verdict.outcome != Outcome::Unavailable || self.security().failure_mode != FailureMode::Open {
            return verdict;
        }
        if self.daemon.provider.cached_metadata().is_none() {
            verdict.reason.push_str(
                "; failure_mode = \"open\" is not applied because discovery has not succeeded since the daemon started (check provider.issuer)",
            );
            return verdict;
        }
        Verdict {
            outcome: Outcome::Approved,
            level: Level::Error,
            event: "login_failed_open",
            reason: format!(
                "the provider is unreachable and services.{}.failure_mode is \"open\", so the login passes WITHOUT verification: {}",
                self.request.service, verdict.reason
            ),
            user_message: Some("The verification service is not reachable; this login was let through without it.".into()),
            provider_unreachable: true,
        }
    }
}
