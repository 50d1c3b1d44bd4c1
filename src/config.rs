//! The daemon's configuration file, /etc/ultraauth/ultraauthd.toml by default.
//!
//! Unknown keys and invalid values stop the start. Every error names the file, the line,
//! the key, the value and what to write instead.

mod load;
mod mapping_sources;
mod security;
mod services;
pub mod validate;


use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use crate::secret::Secret;

pub use load::{ConfigError, load_config, parse_config};
pub use security::{FailureMode, RawAssurance, SecurityPolicies, SecurityPolicy};
pub use services::{DEFAULT_PROMPT_HEADER, ServicePolicies, ServicePolicy};

/// Path used when `--config` is not given.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/ultraauth/ultraauthd.toml";

/// The file as written, before validation.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub provider: RawProvider,
    #[serde(default)]
    pub socket: RawSocket,
    #[serde(default)]
    pub mapping: RawMapping,
    #[serde(default)]
    pub sessions: RawSessions,
    #[serde(default)]
    pub login: RawLogin,
    /// Per-PAM-service policies, keyed by PAM_SERVICE; `other` covers unlisted services.
    #[serde(default)]
    pub services: BTreeMap<String, RawServicePolicy>,
    /// The browser-callback listener; absent turns the code flow off.
    pub web: Option<RawWeb>,
    #[serde(default)]
    pub push: RawPush,
    /// Assurance defaults for every service: require_amr, acr_values, max_age_secs.
    #[serde(default)]
    pub assurance: RawAssurance,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWeb {
    #[serde(default = "default_web_listen")]
    pub listen: String,
    pub public_url: String,
    pub return_url: Option<String>,
    #[serde(default = "default_code_lifetime")]
    pub code_lifetime_secs: u64,
    #[serde(default = "default_code_attempts")]
    pub max_code_attempts: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPush {
    #[serde(default = "default_login_hint")]
    pub login_hint: String,
}

impl Default for RawPush {
    fn default() -> Self {
        RawPush { login_hint: default_login_hint() }
    }
}

/// One `[services.NAME]` table; unset keys take the global value.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServicePolicy {
    pub enabled: Option<bool>,
    pub flow: Option<String>,
    pub session_lifetime_secs: Option<u64>,
    pub wait_secs: Option<u64>,
    pub qr: Option<bool>,
    pub prompt_header: Option<String>,
    pub no_conversation: Option<NoConversation>,
    pub require_amr: Option<Vec<String>>,
    pub acr_values: Option<Vec<String>>,
    pub max_age_secs: Option<u64>,
    pub failure_mode: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProvider {
    pub issuer: String,
    pub client_id: String,
    pub client_secret_file: Option<PathBuf>,
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    pub authorization_endpoint: Option<String>,
    pub token_endpoint: Option<String>,
    pub userinfo_endpoint: Option<String>,
    pub jwks_uri: Option<String>,
    pub device_authorization_endpoint: Option<String>,
    pub id_token_algs: Option<Vec<String>>,
    #[serde(default = "default_leeway")]
    pub clock_leeway_secs: u64,
    #[serde(default = "default_request_timeout")]
    pub request_timeout_secs: u64,
    #[serde(default = "default_interval")]
    pub default_interval_secs: u64,
    #[serde(default = "default_jwks_refetch")]
    pub jwks_refetch_min_secs: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSocket {
    #[serde(default = "default_socket_path")]
    pub path: PathBuf,
    #[serde(default = "default_allowed_users")]
    pub allowed_users: Vec<String>,
    /// Local users whose `ultraauthctl` may send admin requests (status, sessions).
    #[serde(default = "default_allowed_users")]
    pub admin_users: Vec<String>,
}

impl Default for RawSocket {
    fn default() -> Self {
        RawSocket { path: default_socket_path(), allowed_users: default_allowed_users(), admin_users: default_allowed_users() }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMapping {
    #[serde(default = "default_claim")]
    pub claim: String,
    pub strip_domain: Option<String>,
    #[serde(default)]
    pub case: CasePolicy,
    pub map_file: Option<PathBuf>,
    #[serde(default = "default_groups_claim")]
    pub groups_claim: String,
    pub allowed_groups: Option<Vec<String>>,
    pub bindings_file: Option<PathBuf>,
}

impl Default for RawMapping {
    fn default() -> Self {
        RawMapping {
            claim: default_claim(),
            strip_domain: None,
            case: CasePolicy::default(),
            map_file: None,
            groups_claim: default_groups_claim(),
            allowed_groups: None,
            bindings_file: None,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSessions {
    #[serde(default = "default_session_lifetime")]
    pub lifetime_secs: u64,
}

impl Default for RawSessions {
    fn default() -> Self {
        RawSessions { lifetime_secs: default_session_lifetime() }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLogin {
    #[serde(default = "default_wait")]
    pub wait_secs: u64,
    #[serde(default)]
    pub qr: bool,
    pub prompt_header: Option<String>,
    #[serde(default)]
    pub no_conversation: NoConversation,
}

impl Default for RawLogin {
    fn default() -> Self {
        RawLogin { wait_secs: default_wait(), qr: false, prompt_header: None, no_conversation: NoConversation::default() }
    }
}

/// The result for a login whose PAM application has no conversation (cron, some
/// daemons) when the flow would need one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NoConversation {
    /// PAM_AUTHINFO_UNAVAIL: the stack fails unless another module decides.
    #[default]
    Unavailable,
    /// PAM_IGNORE: the module steps aside and the rest of the stack decides.
    Ignore,
}

/// Letter-case policy applied to the mapped claim before comparing with the PAM user.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CasePolicy {
    /// The claim must match the PAM user exactly.
    #[default]
    Exact,
    /// The claim is lower-cased first, for providers that keep the case users typed.
    Lower,
}

/// The validated configuration the daemon runs with.
#[derive(Debug)]
pub struct Config {
    pub provider: ProviderConfig,
    pub socket_path: PathBuf,
    /// Uids allowed to connect, resolved from `socket.allowed_users` at start.
    pub allowed_uids: Vec<u32>,
    /// Uids allowed to send admin requests, resolved from `socket.admin_users` at start.
    pub admin_uids: Vec<u32>,
    pub mapping: MappingConfig,
    /// The policy of each PAM service: flow, session lifetime, wait limit.
    pub policies: ServicePolicies,
    pub web: Option<WebConfig>,
    pub push: PushConfig,
    /// Assurance and failure mode of each PAM service.
    pub security: SecurityPolicies,
}

/// The browser-callback listener and its one-time codes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebConfig {
    pub listen: std::net::SocketAddr,
    /// Base URL as the browser reaches it, without a trailing slash; the redirect_uri is
    /// `{public_url}/callback`.
    pub public_url: String,
    /// Page the result page sends the user to, with the code in the URL fragment.
    pub return_url: Option<String>,
    pub code_lifetime_secs: u64,
    pub max_code_attempts: u32,
}

impl WebConfig {
    pub fn redirect_uri(&self) -> String {
        format!("{}/callback", self.public_url)
    }
}

/// CIBA settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushConfig {
    /// login_hint template; `{user}` is replaced by the PAM user.
    pub login_hint: String,
}

#[derive(Debug, PartialEq, Eq)]
pub struct ProviderConfig {
    pub issuer: String,
    pub client_id: String,
    /// `None` for a public client, which sends only its client_id.
    pub client_secret: Option<Secret>,
    pub scopes: Vec<String>,
    pub endpoints: EndpointOverrides,
    /// Algorithms the admin listed; `None` means those the provider advertises.
    pub id_token_algs: Option<Vec<String>>,
    pub clock_leeway_secs: u64,
    pub request_timeout_secs: u64,
    pub default_interval_secs: u64,
    pub jwks_refetch_min_secs: u64,
}

/// Endpoints the admin set by hand; each replaces the one from discovery.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EndpointOverrides {
    pub authorization_endpoint: Option<String>,
    pub token_endpoint: Option<String>,
    pub userinfo_endpoint: Option<String>,
    pub jwks_uri: Option<String>,
    pub device_authorization_endpoint: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub struct MappingConfig {
    pub claim: String,
    pub strip_domain: Option<String>,
    pub case: CasePolicy,
    /// `sub` to local user, from `mapping.map_file`; when set, it replaces `claim`.
    pub map_file: Option<std::sync::Arc<crate::mapping::map_file::SubMap>>,
    /// Claim that lists the user's groups.
    pub groups_claim: String,
    /// When set, the user must be in at least one of these groups.
    pub allowed_groups: Option<Vec<String>>,
    /// File that keeps the local user to `sub` bindings across restarts.
    pub bindings_file: Option<PathBuf>,
}

fn default_scopes() -> Vec<String> {
    ["openid", "email", "profile"].map(String::from).to_vec()
}

fn default_leeway() -> u64 {
    60
}

fn default_request_timeout() -> u64 {
    10
}

/// RFC 8628 section 3.2: clients poll every 5 seconds when the provider sets no interval.
fn default_interval() -> u64 {
    5
}

fn default_jwks_refetch() -> u64 {
    30
}

fn default_socket_path() -> PathBuf {
    PathBuf::from("/run/ultraauth/ultraauthd.sock")
}

fn default_allowed_users() -> Vec<String> {
    vec!["root".into()]
}

fn default_claim() -> String {
    "preferred_username".into()
}

fn default_groups_claim() -> String {
    "groups".into()
}

fn default_session_lifetime() -> u64 {
    300
}

/// Below OpenSSH's default LoginGraceTime of 120 seconds, with room for the prompt.
fn default_wait() -> u64 {
    100
}

#[cfg(test)]
mod tests;

fn default_web_listen() -> String {
    "127.0.0.1:8765".into()
}

fn default_code_lifetime() -> u64 {
    120
}

fn default_code_attempts() -> u32 {
    5
}

fn default_login_hint() -> String {
    "{user}".into()
}
