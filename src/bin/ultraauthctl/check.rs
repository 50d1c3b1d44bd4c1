//! `ultraauthctl check`: the configuration, the provider's discovery document, and the
//! configured flows the provider cannot serve.

use std::path::Path;
use std::sync::Arc;

use serde::Serialize;
use ultraauth::clock::SystemClock;
use ultraauth::config::validate::SUPPORTED_ALGS;
use ultraauth::config::{Config, load_config};
use ultraauth::login::flow_name;
use ultraauth::provider::Provider;
use ultraauth::provider::discovery::ProviderMetadata;
use ultraauth_proto::Flow;

use crate::output::{Exit, print_error, print_json};

/// RFC 8628 section 3.4: the grant type of the device access token request.
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// OpenID Connect CIBA Core 1.0 section 10.1: the grant type of the CIBA token request.
const CIBA_GRANT: &str = "urn:openid:params:grant-type:ciba";

/// Flows the daemon can run, in the order `auto` tries them.
const DAEMON_FLOWS: &[Flow] = &[Flow::Device, Flow::Code, Flow::Push];

/// The report, printed as text or as JSON.
#[derive(Serialize)]
struct Report {
    config: String,
    /// The user the files were read as.
    checked_as: String,
    issuer: String,
    discovery: Option<Discovery>,
    /// Each flow the configuration can run, with the services that run it.
    configured_flows: Vec<ConfiguredFlow>,
    /// ID-token algorithms the daemon accepts from this provider.
    accepted_algorithms: Vec<String>,
    problems: Vec<String>,
}

#[derive(Serialize)]
struct Discovery {
    grant_types_supported: Option<Vec<String>>,
    id_token_signing_alg_values_supported: Vec<String>,
    /// Flows of the daemon that the provider offers.
    flows_offered: Vec<String>,
    device_authorization_endpoint: Option<String>,
}

#[derive(Serialize)]
struct ConfiguredFlow {
    flow: String,
    services: Vec<String>,
    served: bool,
}

/// The system user the packages create for the daemon.
const DAEMON_USER: &str = "ultraauth";

/// Returns the daemon's user when this process runs as root and that user exists, so
/// that `check` reads the configuration and the client secret as the service does.
pub fn default_user() -> Option<String> {
    let is_root = nix::unistd::geteuid().is_root();
    let exists = matches!(nix::unistd::User::from_name(DAEMON_USER), Ok(Some(_)));
    (is_root && exists).then(|| DAEMON_USER.to_owned())
}

/// Switches this process to `name` for good: supplementary groups, group, then user.
fn become_user(name: &str) -> Result<(), String> {
    use nix::unistd::{User, setgroups, setresgid, setresuid};

    let user = match User::from_name(name) {
        Ok(Some(user)) => user,
        Ok(None) => return Err(format!("user {name:?} does not exist; pass --user with an existing user")),
        Err(err) => return Err(format!("looking up user {name:?} failed: {err}")),
    };
    if user.uid == nix::unistd::geteuid() {
        return Ok(());
    }
    let failed = |err| format!("switching to user {name:?} failed: {err}; run check as root or as {name:?}");
    setgroups(&[user.gid]).map_err(failed)?;
    setresgid(user.gid, user.gid, user.gid).map_err(failed)?;
    setresuid(user.uid, user.uid, user.uid).map_err(failed)
}

/// Runs the check as `user` (see [`default_user`]), or as the current user when `None`.
pub fn run(config_path: &Path, user: Option<&str>, json: bool) -> Exit {
    if let Some(name) = user {
        if let Err(err) = become_user(name) {
            print_error(json, &err);
            return Exit::Usage;
        }
    }

    let config = match load_config(config_path) {
        Ok(config) => config,
        Err(err) => {
            print_error(json, &format!("invalid configuration: {err}"));
            return Exit::Usage;
        }
    };

    let uid = nix::unistd::geteuid();
    let checked_as = nix::unistd::User::from_uid(uid).ok().flatten().map(|user| user.name).unwrap_or_else(|| uid.to_string());
    let mut report = Report {
        config: config_path.display().to_string(),
        checked_as,
        issuer: config.provider.issuer.clone(),
        discovery: None,
        configured_flows: Vec::new(),
        accepted_algorithms: Vec::new(),
        problems: Vec::new(),
    };
    let flows = configured_flows(&config);
    let configured_algs = config.provider.id_token_algs.clone();
    let web_configured = config.web.is_some();

    let exit = match fetch_metadata(config) {
        Ok(metadata) => {
            assess(&mut report, &metadata, web_configured, flows, configured_algs);
            if report.problems.is_empty() { Exit::Success } else { Exit::Failed }
        }
        Err(err) => {
            report.problems.push(format!("fetching the discovery document failed: {err}"));
            report.configured_flows = flows.into_iter().map(|(flow, services)| ConfiguredFlow { flow: configured_name(flow).into(), services, served: false }).collect();
            Exit::Unavailable
        }
    };

    if json {
        print_json(&report);
    } else {
        print_report(&report);
    }
    exit
}

/// Each configured flow (`None` for auto) with the services (`other` for the fallback)
/// that run it, in order of first use. Disabled services run no flow and are left out.
type FlowServices = Vec<(Option<Flow>, Vec<String>)>;

fn configured_flows(config: &Config) -> FlowServices {
    let mut flows: FlowServices = Vec::new();
    let mut add = |service: &str, flow: Option<Flow>| {
        match flows.iter_mut().find(|(known, _)| *known == flow) {
            Some((_, services)) => services.push(service.to_owned()),
            None => flows.push((flow, vec![service.to_owned()])),
        }
    };

    let policies = &config.policies;
    if !policies.by_service.contains_key("other") && policies.fallback.enabled {
        add("other", policies.fallback.flow);
    }
    let mut services: Vec<_> = policies.by_service.iter().filter(|(_, policy)| policy.enabled).collect();
    services.sort_by(|(a, _), (b, _)| a.cmp(b));
    for (service, policy) in services {
        add(service, policy.flow);
    }
    flows
}

fn fetch_metadata(config: Config) -> Result<Arc<ProviderMetadata>, String> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|err| format!("starting the async runtime failed: {err}"))?;
    runtime.block_on(async {
        let provider = Provider::new(config.provider, Arc::new(SystemClock))?;
        provider.metadata().await.map_err(|err| err.to_string())
    })
}

fn assess(report: &mut Report, metadata: &ProviderMetadata, web_configured: bool, flows: FlowServices, configured_algs: Option<Vec<String>>) {
    let offered: Vec<String> = DAEMON_FLOWS.iter().filter(|flow| provider_offers(metadata, **flow).is_ok()).map(|flow| flow_name(*flow).to_owned()).collect();

    for (flow, services) in flows {
        let result = match flow {
            Some(flow) => serves(metadata, web_configured, flow),
            None if DAEMON_FLOWS.iter().any(|flow| serves(metadata, web_configured, *flow).is_ok()) => Ok(()),
            None => Err("no flow can run: the provider offers no device or CIBA poll endpoint and [web] is not configured for the code flow".into()),
        };
        let served = match result {
            Ok(()) => true,
            Err(reason) => {
                report.problems.push(format!("flow {} (services: {}) cannot run: {reason}", configured_name(flow), services.join(", ")));
                false
            }
        };
        report.configured_flows.push(ConfiguredFlow { flow: configured_name(flow).into(), services, served });
    }

    let advertised = &metadata.id_token_signing_alg_values_supported;
    report.accepted_algorithms = match configured_algs {
        Some(algs) => {
            for alg in algs.iter().filter(|alg| !advertised.is_empty() && !advertised.contains(alg)) {
                report.problems.push(format!("provider.id_token_algs lists {alg}, which the provider does not advertise"));
            }
            algs
        }
        None => {
            let usable: Vec<String> = advertised.iter().filter(|alg| !alg.starts_with("HS") && SUPPORTED_ALGS.contains(&alg.as_str())).cloned().collect();
            if !advertised.is_empty() && usable.is_empty() {
                report.problems.push(format!("the provider advertises no ID-token algorithm the daemon verifies without a shared secret ({advertised:?})"));
            }
            if advertised.is_empty() { vec!["RS256".into()] } else { usable }
        }
    };

    report.discovery = Some(Discovery {
        grant_types_supported: metadata.grant_types_supported.clone(),
        id_token_signing_alg_values_supported: advertised.clone(),
        flows_offered: offered,
        device_authorization_endpoint: metadata.device_authorization_endpoint.clone(),
    });
}

/// Checks that both the provider and this configuration have what `flow` needs.
fn serves(metadata: &ProviderMetadata, web_configured: bool, flow: Flow) -> Result<(), String> {
    provider_offers(metadata, flow)?;
    if flow == Flow::Code && !web_configured {
        return Err("the code flow needs the [web] table (the browser-callback listener)".into());
    }
    Ok(())
}

/// Checks that the provider's metadata has what `flow` needs.
fn provider_offers(metadata: &ProviderMetadata, flow: Flow) -> Result<(), String> {
    match flow {
        Flow::Device => {
            if metadata.device_authorization_endpoint.is_none() {
                return Err("the provider advertises no device_authorization_endpoint; set provider.device_authorization_endpoint if it has one".into());
            }
            grant_listed(metadata, DEVICE_GRANT)
        }
        Flow::Code => {
            if metadata.authorization_endpoint.is_none() {
                return Err("the provider advertises no authorization_endpoint; set provider.authorization_endpoint if it has one".into());
            }
            grant_listed(metadata, "authorization_code")
        }
        Flow::Push => {
            if metadata.ciba_poll_endpoint().is_none() {
                return Err("the provider advertises no backchannel_authentication_endpoint with the poll delivery mode".into());
            }
            grant_listed(metadata, CIBA_GRANT)
        }
    }
}

/// Checks that grant_types_supported lists `grant`. An absent list is no evidence either
/// way, so only a list without `grant` fails.
fn grant_listed(metadata: &ProviderMetadata, grant: &str) -> Result<(), String> {
    match &metadata.grant_types_supported {
        Some(grants) if !grants.iter().any(|listed| listed == grant) => Err(format!("grant_types_supported does not list {grant}")),
        _ => Ok(()),
    }
}

fn configured_name(flow: Option<Flow>) -> &'static str {
    flow.map(flow_name).unwrap_or("auto")
}

fn print_report(report: &Report) {
    println!("configuration {}: valid (read as user {})", report.config, report.checked_as);
    println!("provider {}", report.issuer);
    if let Some(discovery) = &report.discovery {
        println!("  discovery:           reachable");
        let grants = discovery.grant_types_supported.as_ref().map(|grants| grants.join(", ")).unwrap_or_else(|| "(not listed)".into());
        println!("  grant types:         {grants}");
        println!("  flows offered:       {}", list_or_none(&discovery.flows_offered));
        println!("  ID-token algorithms: {}", list_or_none(&discovery.id_token_signing_alg_values_supported));
        println!("  accepted by daemon:  {}", list_or_none(&report.accepted_algorithms));
    }
    println!("configured flows:");
    for flow in &report.configured_flows {
        let state = if flow.served { "served" } else { "NOT served" };
        println!("  {} (services: {}): {state}", flow.flow, flow.services.join(", "));
    }
    if report.problems.is_empty() {
        println!("no problems found");
    } else {
        println!("problems:");
        for problem in &report.problems {
            println!("  - {problem}");
        }
    }
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() { "(none)".into() } else { items.join(", ") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(device: bool, grants: Option<&[&str]>) -> ProviderMetadata {
        ProviderMetadata {
            issuer: "https://idp.example/op".into(),
            authorization_endpoint: Some("https://idp.example/op/auth".into()),
            token_endpoint: "https://idp.example/op/token".into(),
            userinfo_endpoint: None,
            jwks_uri: "https://idp.example/op/jwks".into(),
            device_authorization_endpoint: device.then(|| "https://idp.example/op/device/auth".into()),
            backchannel_authentication_endpoint: None,
            backchannel_token_delivery_modes_supported: None,
            id_token_signing_alg_values_supported: vec!["RS256".into(), "HS256".into()],
            grant_types_supported: grants.map(|grants| grants.iter().map(|grant| (*grant).to_owned()).collect()),
        }
    }

    fn empty_report() -> Report {
        Report { config: String::new(), checked_as: String::new(), issuer: String::new(), discovery: None, configured_flows: Vec::new(), accepted_algorithms: Vec::new(), problems: Vec::new() }
    }

    fn flow_for(flow: Option<Flow>, services: &[&str]) -> FlowServices {
        vec![(flow, services.iter().map(|service| (*service).to_owned()).collect())]
    }

    #[test]
    fn device_served_when_endpoint_and_grant_present() {
        let mut report = empty_report();
        assess(&mut report, &metadata(true, Some(&[DEVICE_GRANT])), false, flow_for(Some(Flow::Device), &["sshd"]), None);
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        assert!(report.configured_flows[0].served);
        assert_eq!(report.accepted_algorithms, vec!["RS256"]);
    }

    #[test]
    fn device_not_served_without_endpoint() {
        let mut report = empty_report();
        assess(&mut report, &metadata(false, None), false, flow_for(Some(Flow::Device), &["other", "sshd"]), None);
        assert!(!report.configured_flows[0].served);
        assert_eq!(report.problems.len(), 1);
        assert!(report.problems[0].contains("other, sshd"), "{:?}", report.problems);
    }

    #[test]
    fn device_not_served_when_grant_unlisted() {
        let mut report = empty_report();
        assess(&mut report, &metadata(true, Some(&["authorization_code"])), false, flow_for(Some(Flow::Device), &["sshd"]), None);
        assert!(report.problems[0].contains(DEVICE_GRANT), "{:?}", report.problems);
    }

    #[test]
    fn code_needs_web_table() {
        let mut report = empty_report();
        assess(&mut report, &metadata(false, None), false, flow_for(Some(Flow::Code), &["jupyterhub"]), None);
        assert!(report.problems[0].contains("[web]"), "{:?}", report.problems);

        let mut report = empty_report();
        assess(&mut report, &metadata(false, None), true, flow_for(Some(Flow::Code), &["jupyterhub"]), None);
        assert!(report.problems.is_empty(), "{:?}", report.problems);
    }

    #[test]
    fn push_not_offered_without_ciba() {
        let mut report = empty_report();
        assess(&mut report, &metadata(true, None), false, flow_for(Some(Flow::Push), &["sudo"]), None);
        assert!(report.problems[0].contains("backchannel_authentication_endpoint"), "{:?}", report.problems);
        assert_eq!(report.discovery.unwrap().flows_offered, vec!["device", "code"]);
    }

    #[test]
    fn auto_served_by_any_flow() {
        let mut report = empty_report();
        assess(&mut report, &metadata(true, None), false, flow_for(None, &["other"]), None);
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        assert_eq!(report.configured_flows[0].flow, "auto");

        let mut report = empty_report();
        assess(&mut report, &metadata(false, None), false, flow_for(None, &["other"]), None);
        assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    }

    #[test]
    fn configured_alg_not_advertised_is_problem() {
        let mut report = empty_report();
        assess(&mut report, &metadata(true, None), false, flow_for(Some(Flow::Device), &["sshd"]), Some(vec!["ES256".into()]));
        assert_eq!(report.accepted_algorithms, vec!["ES256"]);
        assert!(report.problems[0].contains("ES256"), "{:?}", report.problems);
    }
}
