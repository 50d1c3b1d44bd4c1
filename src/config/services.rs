//! Per-PAM-service policies: `[services.sshd]`, `[services.jupyterhub]`, `[services.other]`.

use std::collections::HashMap;

use ultraauth_proto::Flow;

use super::NoConversation;

/// The first line of the device prompt; `{user}`, `{host}` and `{service}` are filled in.
pub const DEFAULT_PROMPT_HEADER: &str = "UltraAuth verification for {user} on {host} ({service})";

/// What the daemon does for logins through one PAM service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServicePolicy {
    /// Whether the module acts on this service at all; a disabled service gets PAM_IGNORE.
    pub enabled: bool,
    /// The flow to run; `None` means auto (the module's `flow=` argument, else the first
    /// flow the provider and the configuration can serve).
    pub flow: Option<Flow>,
    /// Seconds a verified session covers later logins of the same user, service and
    /// remote host; 0 turns verified sessions off.
    pub session_lifetime_secs: u64,
    /// Maximum time one login waits for the user, in seconds.
    pub wait_secs: u64,
    /// Whether the device prompt also draws the URL as a QR code.
    pub qr: bool,
    /// First line of the device prompt, with `{user}`, `{host}` and `{service}`.
    pub prompt_header: String,
    pub no_conversation: NoConversation,
}

/// The policies of all services, with the fallback for services not listed.
#[derive(Clone, Debug)]
pub struct ServicePolicies {
    pub fallback: ServicePolicy,
    pub by_service: HashMap<String, ServicePolicy>,
}

impl ServicePolicies {
    /// Returns the policy of `service`: its own table, else `[services.other]`, else the
    /// global settings.
    pub fn policy_for(&self, service: &str) -> &ServicePolicy {
        self.by_service.get(service).unwrap_or(&self.fallback)
    }
}

/// Parses a `flow` value; `auto` is `None`.
pub fn parse_flow(name: &str) -> Result<Option<Flow>, String> {
    match name {
        "auto" => Ok(None),
        "device" => Ok(Some(Flow::Device)),
        "code" => Ok(Some(Flow::Code)),
        "push" => Ok(Some(Flow::Push)),
        other => Err(format!("{other:?} is not a flow; use \"device\", \"code\", \"push\" or \"auto\"")),
    }
}
