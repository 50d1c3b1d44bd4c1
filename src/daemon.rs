//! The daemon's shared state: configuration, provider, verified sessions, audit log.

use std::sync::Arc;

use crate::audit::AuditLog;
use crate::clock::Clock;
use crate::config::{Config, MappingConfig, ServicePolicies};
use crate::provider::Provider;
use crate::sessions::VerifiedSessions;

pub struct Daemon {
    pub provider: Provider,
    pub sessions: VerifiedSessions,
    pub audit: AuditLog,
    pub clock: Arc<dyn Clock>,
    pub mapping: MappingConfig,
    pub allowed_uids: Vec<u32>,
    pub policies: ServicePolicies,
    /// This machine's name, shown in prompts so users can tell whose login they approve.
    pub hostname: String,
}

impl Daemon {
    pub fn new(config: Config, audit: AuditLog, clock: Arc<dyn Clock>) -> Result<Self, String> {
        let hostname = nix::unistd::gethostname()
            .ok()
            .and_then(|name| name.into_string().ok())
            .unwrap_or_else(|| "this host".into());
        let sessions = VerifiedSessions::new(clock.clone());
        let provider = Provider::new(config.provider, clock.clone())?;

        Ok(Daemon {
            provider,
            sessions,
            audit,
            clock,
            mapping: config.mapping,
            allowed_uids: config.allowed_uids,
            policies: config.policies,
            hostname,
        })
    }
}
