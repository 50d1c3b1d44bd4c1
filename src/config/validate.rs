//! Checks that turn a [`RawConfig`] into a [`Config`], or an error naming the fix.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use nix::unistd::User;
use reqwest::Url;
use zeroize::Zeroizing;

use super::load::line_of_key;
use super::services::parse_flow;
use super::{
    Config, ConfigError, EndpointOverrides, MappingConfig, ProviderConfig, PushConfig, RawConfig, RawPush, RawServicePolicy, RawWeb, ServicePolicies,
    ServicePolicy, WebConfig,
};
use super::services::DEFAULT_PROMPT_HEADER;

/// Largest client secret file accepted, in bytes.
const MAX_SECRET_LEN: u64 = 4096;

/// ID-token signature algorithms the daemon can verify.
pub const SUPPORTED_ALGS: &[&str] = &[
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA", "HS256", "HS384", "HS512",
];

pub(super) struct Checker<'a> {
    path: &'a Path,
    source: &'a str,
}

impl Checker<'_> {
    pub(super) fn error(&self, table: &str, key: &str, message: String) -> ConfigError {
        ConfigError {
            path: self.path.to_owned(),
            line: line_of_key(self.source, table, key),
            message: format!("{table}.{key}: {message}"),
        }
    }

    pub(super) fn range(&self, table: &str, key: &str, value: u64, min: u64, max: u64) -> Result<u64, ConfigError> {
        if (min..=max).contains(&value) {
            return Ok(value);
        }
        Err(self.error(table, key, format!("{value} is out of range; use a whole number from {min} to {max}")))
    }

    fn url(&self, table: &str, key: &str, value: &str) -> Result<String, ConfigError> {
        check_provider_url(value).map_err(|reason| self.error(table, key, format!("{value:?} is invalid: {reason}")))?;
        Ok(value.to_owned())
    }

    fn optional_url(&self, key: &str, value: &Option<String>) -> Result<Option<String>, ConfigError> {
        value.as_deref().map(|url| self.url("provider", key, url)).transpose()
    }
}

/// Checks a provider URL: https, or plain http only to a loopback host.
pub fn check_provider_url(value: &str) -> Result<Url, String> {
    let url = Url::parse(value).map_err(|err| format!("not an absolute URL ({err})"))?;
    if url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Err("a provider URL may not contain a fragment or user credentials".into());
    }

    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback_host(&url) => Ok(url),
        "http" => Err("plain http is allowed only for loopback hosts (127.0.0.1, ::1, localhost); use https://".into()),
        other => Err(format!("scheme {other:?} is not supported; use https://")),
    }
}

fn is_loopback_host(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

pub fn validate(raw: RawConfig, path: &Path, source: &str) -> Result<Config, ConfigError> {
    let check = Checker { path, source };
    let provider = validate_provider(&check, raw.provider)?;

    if !raw.socket.path.is_absolute() {
        return Err(check.error("socket", "path", format!("{:?} is not an absolute path; use for example \"/run/ultraauth/ultraauthd.sock\"", raw.socket.path)));
    }
    let allowed_uids = resolve_users(&check, "allowed_users", &raw.socket.allowed_users)?;
    let admin_uids = resolve_users(&check, "admin_users", &raw.socket.admin_users)?;

    let mapping = validate_mapping(&check, raw.mapping)?;
    let prompt_header = match raw.login.prompt_header {
        Some(header) => check_prompt_header(&check, "login", header)?,
        None => DEFAULT_PROMPT_HEADER.to_owned(),
    };
    let global = ServicePolicy {
        enabled: true,
        flow: None,
        session_lifetime_secs: check.range("sessions", "lifetime_secs", raw.sessions.lifetime_secs, 0, MAX_SESSION_LIFETIME)?,
        wait_secs: check.range("login", "wait_secs", raw.login.wait_secs, MIN_WAIT, MAX_WAIT)?,
        qr: raw.login.qr,
        prompt_header,
        no_conversation: raw.login.no_conversation,
    };
    let security = super::security::validate_security(&check, &raw.assurance, &raw.services)?;
    let policies = validate_services(&check, raw.services, global)?;
    let web = raw.web.map(|web| validate_web(&check, web)).transpose()?;
    let push = validate_push(&check, raw.push)?;

    Ok(Config { provider, socket_path: raw.socket.path, allowed_uids, admin_uids, mapping, policies, web, push, security })
}

/// Checks a prompt header: one line of printable text, at most 80 characters once
/// filled in with typical names, with no placeholders other than the known ones.
fn check_prompt_header(check: &Checker, table: &str, header: String) -> Result<String, ConfigError> {
    let without_placeholders = header.replace("{user}", "").replace("{host}", "").replace("{service}", "");
    let valid = !header.is_empty() && header.chars().count() <= 60 && !header.chars().any(char::is_control) && !without_placeholders.contains(['{', '}']);
    if !valid {
        return Err(check.error(table, "prompt_header", format!("{header:?} is invalid; use one line of at most 60 characters with the placeholders {{user}}, {{host}} and {{service}}")));
    }
    Ok(header)
}

fn validate_web(check: &Checker, raw: RawWeb) -> Result<WebConfig, ConfigError> {
    let listen = raw.listen.parse().map_err(|_| {
        check.error("web", "listen", format!("{:?} is not an address with port; use for example \"127.0.0.1:8765\"", raw.listen))
    })?;

    let public_url = check.url("web", "public_url", &raw.public_url)?;
    if public_url.contains('?') {
        return Err(check.error("web", "public_url", format!("{public_url:?} may not contain a query")));
    }
    let return_url = match &raw.return_url {
        Some(url) => Some(check.url("web", "return_url", url)?),
        None => None,
    };

    Ok(WebConfig {
        listen,
        public_url: public_url.trim_end_matches('/').to_owned(),
        return_url,
        code_lifetime_secs: check.range("web", "code_lifetime_secs", raw.code_lifetime_secs, 10, 900)?,
        max_code_attempts: check.range("web", "max_code_attempts", u64::from(raw.max_code_attempts), 1, 20)? as u32,
    })
}

fn validate_push(check: &Checker, raw: RawPush) -> Result<PushConfig, ConfigError> {
    let template = &raw.login_hint;
    let without_user = template.replace("{user}", "");
    if !template.contains("{user}") || without_user.contains(['{', '}']) || template.chars().any(char::is_control) || template.len() > 256 {
        return Err(check.error("push", "login_hint", format!("{template:?} is not a template; use \"{{user}}\" or for example \"{{user}}@example.com\"")));
    }
    Ok(PushConfig { login_hint: raw.login_hint })
}

const MAX_SESSION_LIFETIME: u64 = 86_400;
const MIN_WAIT: u64 = 5;
const MAX_WAIT: u64 = 3600;

fn validate_services(check: &Checker, raw: BTreeMap<String, RawServicePolicy>, global: ServicePolicy) -> Result<ServicePolicies, ConfigError> {
    let mut by_service = HashMap::new();

    for (service, table) in raw {
        let name = format!("services.{service}");
        let flow = match &table.flow {
            Some(flow) => parse_flow(flow).map_err(|reason| check.error(&name, "flow", reason))?,
            None => global.flow,
        };
        let session_lifetime_secs = match table.session_lifetime_secs {
            Some(secs) => check.range(&name, "session_lifetime_secs", secs, 0, MAX_SESSION_LIFETIME)?,
            None => global.session_lifetime_secs,
        };
        let wait_secs = match table.wait_secs {
            Some(secs) => check.range(&name, "wait_secs", secs, MIN_WAIT, MAX_WAIT)?,
            None => global.wait_secs,
        };
        let prompt_header = match table.prompt_header {
            Some(header) => check_prompt_header(check, &name, header)?,
            None => global.prompt_header.clone(),
        };
        let policy = ServicePolicy {
            enabled: table.enabled.unwrap_or(global.enabled),
            flow,
            session_lifetime_secs,
            wait_secs,
            qr: table.qr.unwrap_or(global.qr),
            prompt_header,
            no_conversation: table.no_conversation.unwrap_or(global.no_conversation),
        };
        by_service.insert(service, policy);
    }

    let fallback = by_service.get("other").cloned().unwrap_or(global);
    Ok(ServicePolicies { fallback, by_service })
}

fn validate_provider(check: &Checker, raw: super::RawProvider) -> Result<ProviderConfig, ConfigError> {
    let issuer = check.url("provider", "issuer", &raw.issuer)?;

    if raw.client_id.is_empty() || raw.client_id.len() > 255 || raw.client_id.chars().any(char::is_control) {
        return Err(check.error("provider", "client_id", format!("{:?} is invalid; use the client_id the provider issued (1 to 255 printable characters)", raw.client_id)));
    }

    let client_secret = match &raw.client_secret_file {
        Some(file) => Some(read_secret_file(file).map_err(|reason| check.error("provider", "client_secret_file", reason))?.into()),
        None => None,
    };

    if !raw.scopes.iter().any(|scope| scope == "openid") {
        return Err(check.error("provider", "scopes", format!("{:?} lacks \"openid\"; an ID token is only issued for the openid scope", raw.scopes)));
    }
    if let Some(bad) = raw.scopes.iter().find(|scope| !is_scope_token(scope)) {
        return Err(check.error("provider", "scopes", format!("{bad:?} is not a valid scope (RFC 6749 section 3.3: printable ASCII without spaces, quotes or backslashes)")));
    }

    if let Some(algs) = &raw.id_token_algs {
        validate_algs(check, algs, client_secret.is_some())?;
    }

    let endpoints = EndpointOverrides {
        authorization_endpoint: check.optional_url("authorization_endpoint", &raw.authorization_endpoint)?,
        token_endpoint: check.optional_url("token_endpoint", &raw.token_endpoint)?,
        userinfo_endpoint: check.optional_url("userinfo_endpoint", &raw.userinfo_endpoint)?,
        jwks_uri: check.optional_url("jwks_uri", &raw.jwks_uri)?,
        device_authorization_endpoint: check.optional_url("device_authorization_endpoint", &raw.device_authorization_endpoint)?,
    };

    Ok(ProviderConfig {
        issuer,
        client_id: raw.client_id,
        client_secret,
        scopes: raw.scopes,
        endpoints,
        id_token_algs: raw.id_token_algs,
        clock_leeway_secs: check.range("provider", "clock_leeway_secs", raw.clock_leeway_secs, 0, 600)?,
        request_timeout_secs: check.range("provider", "request_timeout_secs", raw.request_timeout_secs, 1, 120)?,
        default_interval_secs: check.range("provider", "default_interval_secs", raw.default_interval_secs, 1, 60)?,
        jwks_refetch_min_secs: check.range("provider", "jwks_refetch_min_secs", raw.jwks_refetch_min_secs, 0, 3600)?,
    })
}

fn validate_algs(check: &Checker, algs: &[String], has_secret: bool) -> Result<(), ConfigError> {
    if algs.is_empty() {
        return Err(check.error("provider", "id_token_algs", "is empty; remove the key to use the algorithms the provider advertises".into()));
    }

    for alg in algs {
        if alg.eq_ignore_ascii_case("none") {
            return Err(check.error("provider", "id_token_algs", "\"none\" is never accepted: an unsigned ID token proves nothing".into()));
        }
        if !SUPPORTED_ALGS.contains(&alg.as_str()) {
            return Err(check.error("provider", "id_token_algs", format!("{alg:?} is not supported; use some of {SUPPORTED_ALGS:?}")));
        }
        if alg.starts_with("HS") && !has_secret {
            return Err(check.error("provider", "id_token_algs", format!("{alg:?} needs the client secret as its key; set provider.client_secret_file or remove {alg:?}")));
        }
    }
    Ok(())
}

/// RFC 6749 section 3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ).
fn is_scope_token(scope: &str) -> bool {
    !scope.is_empty() && scope.bytes().all(|byte| byte == 0x21 || (0x23..=0x5B).contains(&byte) || (0x5D..=0x7E).contains(&byte))
}

/// Reads the client secret, which must be a regular file that group and others cannot read.
fn read_secret_file(path: &Path) -> Result<Zeroizing<String>, String> {
    let metadata = fs::metadata(path).map_err(|err| format!("cannot read {}: {err}", path.display()))?;
    if !metadata.is_file() {
        return Err(format!("{} is not a regular file", path.display()));
    }
    let daemon_uid = nix::unistd::geteuid().as_raw();
    if metadata.uid() != 0 && metadata.uid() != daemon_uid {
        return Err(format!(
            "{} is owned by uid {}, who could read or replace the secret; run chown root {} (or the daemon's user)",
            path.display(),
            metadata.uid(),
            path.display()
        ));
    }
    if metadata.mode() & 0o077 != 0 {
        return Err(format!(
            "{} has mode {:o}, so group or others can access it; run chmod 600 {}",
            path.display(),
            metadata.mode() & 0o777,
            path.display()
        ));
    }

    let mut secret = Zeroizing::new(String::new());
    fs::File::open(path)
        .and_then(|file| file.take(MAX_SECRET_LEN + 1).read_to_string(&mut secret))
        .map_err(|err| format!("cannot read {}: {err}", path.display()))?;
    if secret.len() as u64 > MAX_SECRET_LEN {
        return Err(format!("{} is larger than {MAX_SECRET_LEN} bytes; it should hold only the client secret", path.display()));
    }

    let trimmed = Zeroizing::new(secret.trim_end_matches(['\r', '\n']).to_owned());
    if trimmed.is_empty() {
        return Err(format!("{} is empty; write the client secret into it", path.display()));
    }
    Ok(trimmed)
}

fn resolve_users(check: &Checker, key: &str, names: &[String]) -> Result<Vec<u32>, ConfigError> {
    let mut uids = Vec::with_capacity(names.len());
    for name in names {
        match User::from_name(name) {
            Ok(Some(user)) => uids.push(user.uid.as_raw()),
            Ok(None) => {
                return Err(check.error("socket", key, format!("user {name:?} does not exist; list existing local users, for example [\"root\"]")));
            }
            Err(err) => return Err(check.error("socket", key, format!("looking up user {name:?} failed: {err}"))),
        }
    }
    Ok(uids)
}

fn validate_mapping(check: &Checker, raw: super::RawMapping) -> Result<MappingConfig, ConfigError> {
    if raw.claim.is_empty() || raw.claim.len() > 128 || raw.claim.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(check.error("mapping", "claim", format!("{:?} is not a claim name; use for example \"preferred_username\" or \"email\"", raw.claim)));
    }

    if let Some(domain) = &raw.strip_domain {
        let valid = !domain.is_empty()
            && domain.len() <= 253
            && !domain.starts_with('@')
            && domain.split('.').all(|label| !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
        if !valid {
            return Err(check.error("mapping", "strip_domain", format!("{domain:?} is not a domain name; use for example \"example.com\" without the @")));
        }
    }

    let strip_domain = raw.strip_domain.as_ref().map(|domain| domain.to_ascii_lowercase());
    let case = raw.case;
    super::mapping_sources::finish_mapping(check, raw, strip_domain, case)
}
