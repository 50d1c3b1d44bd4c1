//! The daemon's shared state: configuration, provider, verified sessions, audit log.

use std::sync::Arc;
use std::time::Duration;

use crate::admin::AdminState;
use crate::assurance::codes::CodeAssurance;
use crate::audit::AuditLog;
use crate::clock::Clock;
use crate::config::{Config, MappingConfig, PushConfig, SecurityPolicies, ServicePolicies, WebConfig};
use crate::flows::code::PendingAuthorizations;
use crate::login::shared::SharedFlows;
use crate::mapping::bindings::SubBindings;
use crate::one_time_codes::OneTimeCodes;
use crate::rate_limit::LogRateLimit;
use crate::pending::PendingLogins;
use crate::provider::Provider;
use crate::reload::Swappable;
use crate::sessions::VerifiedSessions;

pub struct Daemon {
    pub provider: Provider,
    pub sessions: VerifiedSessions,
    pub audit: AuditLog,
    pub clock: Arc<dyn Clock>,
    /// Replaced on SIGHUP, like `allowed_uids` and `policies` (src/reload.rs).
    pub mapping: Swappable<MappingConfig>,
    pub allowed_uids: Swappable<Vec<u32>>,
    pub policies: Swappable<ServicePolicies>,
    /// The browser-callback listener's settings; `None` turns the code flow off.
    pub web: Option<WebConfig>,
    pub push: PushConfig,
    pub pending_authorizations: PendingAuthorizations,
    pub one_time_codes: OneTimeCodes,
    /// Device and push flows in progress, shared by logins of the same user, service and host.
    pub shared_flows: Arc<SharedFlows>,
    /// Limits `peer_rejected` lines per uid.
    pub rejections: LogRateLimit,
    /// Logins in progress, for `ultraauthctl status`.
    pub pending: PendingLogins,
    pub admin: AdminState,
    /// This machine's name, shown in prompts so users can tell whose login they approve.
    pub hostname: String,
    /// Assurance and failure mode per PAM service; replaced on SIGHUP.
    pub security: Swappable<SecurityPolicies>,
    /// Local user to provider `sub`, recorded at first use.
    pub bindings: SubBindings,
    /// The assurance claims behind each live one-time code.
    pub code_assurance: CodeAssurance,
}

impl Daemon {
    pub fn new(config: Config, audit: AuditLog, clock: Arc<dyn Clock>) -> Result<Self, String> {
        let hostname = nix::unistd::gethostname()
            .ok()
            .and_then(|name| name.into_string().ok())
            .unwrap_or_else(|| "this host".into());
        let sessions = VerifiedSessions::new(clock.clone());
        let provider = Provider::new(config.provider, clock.clone())?;
        let (code_lifetime, max_attempts) = match &config.web {
            Some(web) => (Duration::from_secs(web.code_lifetime_secs), web.max_code_attempts),
            None => (Duration::from_secs(120), 5),
        };
        let one_time_codes = OneTimeCodes::new(code_lifetime, max_attempts, clock.clone());
        let pending_authorizations = PendingAuthorizations::new(clock.clone());
        let rejections = LogRateLimit::new(clock.clone());
        let bindings = SubBindings::load(config.mapping.bindings_file.clone()).map_err(|reason| format!("mapping.bindings_file: {reason}"))?;
        let code_assurance = CodeAssurance::new(code_lifetime, clock.clone());

        Ok(Daemon {
            provider,
            sessions,
            audit,
            clock,
            mapping: Swappable::new(config.mapping),
            allowed_uids: Swappable::new(config.allowed_uids),
            policies: Swappable::new(config.policies),
            web: config.web,
            push: config.push,
            pending_authorizations,
            one_time_codes,
            shared_flows: Arc::new(SharedFlows::default()),
            rejections,
            pending: PendingLogins::default(),
            admin: AdminState::new(config.admin_uids, config.socket_path),
            hostname,
            security: Swappable::new(config.security),
            bindings,
            code_assurance,
        })
    }
}
