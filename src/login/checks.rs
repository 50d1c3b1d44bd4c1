//! Checks on a verified identity beyond the ID token: the local user's bound `sub` and
//! the service's assurance policy.

use super::verdict::{MSG_INVALID, Verdict};
use crate::assurance::{AssuranceClaims, AssurancePolicy};
use crate::audit::Level;
use crate::daemon::Daemon;
use crate::mapping::bindings::Binding;

/// Message shown when the token lacks the required methods, level or freshness.
pub const MSG_ASSURANCE: &str = "The verification did not use a method this login requires (for example a fingerprint or face check). Verify again with that method.";

/// Denies a `sub` that maps to a local user already bound to another `sub`, and records
/// the first binding.
pub fn check_binding(daemon: &Daemon, local_user: &str, sub: &str) -> Result<(), Verdict> {
    match daemon.bindings.bind(local_user, sub) {
        Binding::Known => Ok(()),
        Binding::Recorded { saved: Ok(()) } => {
            daemon.audit.event(Level::Notice, "identity_bound", &[("user", local_user), ("sub", sub)]);
            Ok(())
        }
        Binding::Recorded { saved: Err(reason) } => {
            daemon.audit.event(Level::Error, "identity_bound", &[("user", local_user), ("sub", sub), ("reason", &format!("kept in memory only: {reason}"))]);
            Ok(())
        }
        Binding::NotRecorded => {
            daemon.audit.event(Level::Warning, "identity_not_bound", &[("user", local_user), ("sub", sub), ("reason", "the bindings table is full")]);
            Ok(())
        }
        Binding::Conflict { bound_sub } => {
            let reason = format!(
                "identity conflict: sub {sub:?} maps to local user {local_user:?}, which is bound to sub {bound_sub:?}; two provider identities may not share one local user"
            );
            daemon.audit.event(Level::Error, "identity_conflict", &[("user", local_user), ("sub", sub), ("bound_sub", &bound_sub)]);
            let mut verdict = Verdict::denied(reason, MSG_INVALID);
            verdict.level = Level::Error;
            Err(verdict)
        }
    }
}

/// Checks the token's amr, acr and auth_time against `policy`.
pub fn check_assurance(daemon: &Daemon, policy: &AssurancePolicy, claims: &AssuranceClaims) -> Result<(), Verdict> {
    let config = daemon.provider.config();
    policy
        .check(claims, daemon.clock.unix_now(), config.clock_leeway_secs)
        .map_err(|reason| Verdict::denied(format!("assurance policy not met: {reason}"), MSG_ASSURANCE))
}

impl super::Login<'_> {
    /// Checks the service's assurance policy against the claims of the browser
    /// verification behind a redeemed one-time code.
    pub(super) fn verdict_for_redeemed_code(&self, claims: Option<AssuranceClaims>) -> Verdict {
        let Some(claims) = claims else {
            return Verdict::denied("the one-time code has no recorded assurance claims".into(), MSG_ASSURANCE);
        };
        match check_assurance(self.daemon, &self.security().assurance, &claims) {
            Ok(()) => Verdict::approved("one-time code from a browser verification redeemed".into()),
            Err(verdict) => verdict,
        }
    }
}
