use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::load::parse_config;
use super::*;

const PATH: &str = "/etc/ultraauth/ultraauthd.toml";

fn minimal(extra: &str) -> String {
    format!("[provider]\nissuer = \"https://srv.qryp.to/op\"\nclient_id = \"jupyter\"\n{extra}")
}

fn error_of(source: &str) -> ConfigError {
    parse_config(Path::new(PATH), source).expect_err("configuration was accepted")
}

#[test]
fn config_defaults() {
    let config = parse_config(Path::new(PATH), &minimal("")).unwrap();
    assert_eq!(config.provider.scopes, vec!["openid", "email", "profile"]);
    assert_eq!(config.provider.clock_leeway_secs, 60);
    assert_eq!(config.provider.default_interval_secs, 5);
    assert_eq!(config.socket_path, Path::new("/run/ultraauth/ultraauthd.sock"));
    assert_eq!(config.allowed_uids, vec![0]);
    assert_eq!(config.mapping.claim, "preferred_username");
    assert_eq!(config.mapping.case, CasePolicy::Exact);
    assert_eq!(config.policies.policy_for("sshd").session_lifetime_secs, 300);
    assert_eq!(config.policies.policy_for("sshd").wait_secs, 100);
    assert_eq!(config.policies.policy_for("sshd").flow, None);
    assert!(config.provider.client_secret.is_none());
}

#[test]
fn config_unknown_key_names_line() {
    let err = error_of(&minimal("scope = [\"openid\"]\n"));
    assert_eq!(err.line, Some(4));
    assert!(err.message.contains("scope"), "{err}");
    assert!(err.to_string().starts_with("/etc/ultraauth/ultraauthd.toml:4:"), "{err}");
}

#[test]
fn config_unknown_table_is_rejected() {
    let err = error_of(&minimal("[sesions]\nlifetime_secs = 5\n"));
    assert!(err.message.contains("sesions"), "{err}");
}

#[test]
fn config_wrong_type_names_line() {
    let err = error_of(&minimal("clock_leeway_secs = \"sixty\"\n"));
    assert_eq!(err.line, Some(4));
}

#[test]
fn config_plain_http_issuer_rejected_with_fix() {
    let source = "[provider]\nissuer = \"http://idp.example.com/op\"\nclient_id = \"x\"\n";
    let err = error_of(source);
    assert_eq!(err.line, Some(2));
    assert!(err.message.contains("http://idp.example.com/op"), "{err}");
    assert!(err.message.contains("https://"), "{err}");
}

#[test]
fn config_loopback_http_issuer_allowed() {
    let source = "[provider]\nissuer = \"http://127.0.0.1:3000/op\"\nclient_id = \"x\"\n";
    assert!(parse_config(Path::new(PATH), source).is_ok());
}

#[test]
fn config_scopes_need_openid() {
    let err = error_of(&minimal("scopes = [\"email\"]\n"));
    assert!(err.message.contains("openid"), "{err}");
    assert_eq!(err.line, Some(4));
}

#[test]
fn config_scope_with_space_rejected() {
    let err = error_of(&minimal("scopes = [\"openid\", \"a b\"]\n"));
    assert!(err.message.contains("\"a b\""), "{err}");
}

#[test]
fn config_alg_none_and_unsecreted_hs_rejected() {
    assert!(error_of(&minimal("id_token_algs = [\"none\"]\n")).message.contains("never"));
    assert!(error_of(&minimal("id_token_algs = [\"HS256\"]\n")).message.contains("client_secret_file"));
    assert!(error_of(&minimal("id_token_algs = [\"XS999\"]\n")).message.contains("not supported"));
}

#[test]
fn config_out_of_range_values() {
    let err = error_of(&minimal("default_interval_secs = 0\n"));
    assert!(err.message.contains("from 1 to 60"), "{err}");
    let err = error_of(&minimal("[login]\nwait_secs = 1\n"));
    assert!(err.message.contains("login.wait_secs"), "{err}");
}

#[test]
fn config_unknown_allowed_user() {
    let err = error_of(&minimal("[socket]\nallowed_users = [\"no-such-user-ultraauth\"]\n"));
    assert!(err.message.contains("no-such-user-ultraauth"), "{err}");
    assert_eq!(err.line, Some(5));
}

#[test]
fn config_relative_socket_path() {
    let err = error_of(&minimal("[socket]\npath = \"run/u.sock\"\n"));
    assert!(err.message.contains("absolute"), "{err}");
}

#[test]
fn config_bad_strip_domain() {
    let err = error_of(&minimal("[mapping]\nstrip_domain = \"@example.com\"\n"));
    assert!(err.message.contains("without the @"), "{err}");
}

#[test]
fn config_bad_case_policy() {
    let err = error_of(&minimal("[mapping]\ncase = \"upper\"\n"));
    assert_eq!(err.line, Some(5));
}

#[test]
fn config_secret_file_must_be_private() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "s3cret\n").unwrap();

    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
    let source = minimal(&format!("client_secret_file = \"{}\"\n", secret.display()));
    let err = error_of(&source);
    assert!(err.message.contains("chmod 600"), "{err}");
    assert!(!err.message.contains("s3cret"), "secret leaked into the error: {err}");

    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let config = parse_config(Path::new(PATH), &source).unwrap();
    assert_eq!(config.provider.client_secret.as_deref(), Some("s3cret"));
}

#[test]
fn config_missing_secret_file() {
    let err = error_of(&minimal("client_secret_file = \"/nonexistent/ultraauth-secret\"\n"));
    assert!(err.message.contains("/nonexistent/ultraauth-secret"), "{err}");
}

#[test]
fn config_missing_provider_table() {
    let err = error_of("[socket]\npath = \"/run/u.sock\"\n");
    assert!(err.message.contains("provider"), "{err}");
}

#[test]
fn config_service_table_overrides_globals() {
    let source = minimal("[sessions]\nlifetime_secs = 120\n[services.sshd]\nflow = \"device\"\nwait_secs = 90\n[services.other]\nsession_lifetime_secs = 0\n");
    let config = parse_config(Path::new(PATH), &source).unwrap();

    let sshd = config.policies.policy_for("sshd");
    assert_eq!(sshd.flow, Some(ultraauth_proto::Flow::Device));
    assert_eq!(sshd.wait_secs, 90);
    assert_eq!(sshd.session_lifetime_secs, 120);

    let unlisted = config.policies.policy_for("sudo");
    assert_eq!(unlisted.session_lifetime_secs, 0);
    assert_eq!(unlisted.wait_secs, 100);
}

#[test]
fn config_service_prompt_options() {
    let source = minimal("[login]\nqr = true\n[services.sshd]\nprompt_header = \"Cluster login for {user}\"\n[services.cron]\nno_conversation = \"ignore\"\n[services.other]\nenabled = false\n");
    let config = parse_config(Path::new(PATH), &source).unwrap();

    let sshd = config.policies.policy_for("sshd");
    assert!(sshd.qr);
    assert!(sshd.enabled);
    assert_eq!(sshd.prompt_header, "Cluster login for {user}");
    assert_eq!(config.policies.policy_for("cron").no_conversation, NoConversation::Ignore);
    assert!(!config.policies.policy_for("vsftpd").enabled);
}

#[test]
fn config_prompt_header_rejects_unknown_placeholder() {
    let err = error_of(&minimal("[login]\nprompt_header = \"Hi {name}\"\n"));
    assert!(err.message.starts_with("login.prompt_header"), "{err}");
}

#[test]
fn config_service_bad_flow_names_table() {
    let err = error_of(&minimal("[services.sshd]\nflow = \"telepathy\"\n"));
    assert!(err.message.starts_with("services.sshd.flow"), "{err}");
    assert_eq!(err.line, Some(5));
}

#[test]
fn config_service_unknown_key() {
    let err = error_of(&minimal("[services.sshd]\nqrcode = true\n"));
    assert_eq!(err.line, Some(5));
}

#[test]
fn config_web_and_push() {
    let source = minimal("[web]\npublic_url = \"https://hub.example.org/ultraauth/\"\nreturn_url = \"https://hub.example.org/hub/login\"\n[push]\nlogin_hint = \"{user}@example.org\"\n");
    let config = parse_config(Path::new(PATH), &source).unwrap();
    let web = config.web.unwrap();
    assert_eq!(web.listen.to_string(), "127.0.0.1:8765");
    assert_eq!(web.redirect_uri(), "https://hub.example.org/ultraauth/callback");
    assert_eq!(web.code_lifetime_secs, 120);
    assert_eq!(config.push.login_hint, "{user}@example.org");
}

#[test]
fn config_web_rejects_plain_http_public_url() {
    let err = error_of(&minimal("[web]\npublic_url = \"http://hub.example.org/u\"\n"));
    assert!(err.message.starts_with("web.public_url"), "{err}");
}

#[test]
fn config_push_template_needs_user() {
    let err = error_of(&minimal("[push]\nlogin_hint = \"alice\"\n"));
    assert!(err.message.contains("{user}"), "{err}");
    let err = error_of(&minimal("[push]\nlogin_hint = \"{user}{host}\"\n"));
    assert!(err.message.starts_with("push.login_hint"), "{err}");
}

#[test]
fn config_code_and_push_flows_parse() {
    let source = minimal("[services.jupyterhub]\nflow = \"code\"\n[services.sudo]\nflow = \"push\"\n");
    let config = parse_config(Path::new(PATH), &source).unwrap();
    assert_eq!(config.policies.policy_for("jupyterhub").flow, Some(ultraauth_proto::Flow::Code));
    assert_eq!(config.policies.policy_for("sudo").flow, Some(ultraauth_proto::Flow::Push));
}
