//! Assurance policies: require_amr, acr_values and max_age_secs, sent to the provider
//! and enforced on the token.

use std::process::Command;

use crate::common::{DaemonSettings, PamLogin, PamServices, TestDaemon, TestProvider, free_port, header_value, http_get, repo_root};
use crate::harness::{Extra, HostileProvider, SERVICE, login_with, run_login, services_for, start_daemon};

const BIOMETRIC_ACR: &str = "urn:ultraauth:acr:biometric";

fn service_table(keys: &str) -> String {
    format!("[services.{SERVICE}]\n{keys}\n")
}

#[test]
fn password_only_amr_is_denied() {
    let tables = service_table("require_amr = [\"fpt\", \"face\"]");
    let (_provider, result) = login_with(r#"{"claims": {"amr": ["pwd"]}}"#, &Extra { tables: &tables, ..Default::default() });
    result.assert_denied("password_only_amr_is_denied", "none of the required methods fpt, face");
    assert!(result.pam_output.contains("did not use a method this login requires"), "{}", result.pam_output);
}

#[test]
fn missing_amr_is_denied() {
    let tables = service_table("require_amr = [\"fpt\"]");
    let (_provider, result) = login_with(r#"{"claims": {"amr": null}}"#, &Extra { tables: &tables, ..Default::default() });
    result.assert_denied("missing_amr_is_denied", "amr is missing");
}

#[test]
fn wrong_acr_is_denied() {
    let tables = service_table(&format!("acr_values = [\"{BIOMETRIC_ACR}\"]"));
    let scenario = r#"{"claims": {"acr": "urn:ultraauth:acr:password"}}"#;
    let (_provider, result) = login_with(scenario, &Extra { tables: &tables, ..Default::default() });
    result.assert_denied("wrong_acr_is_denied", "is not one of the requested acr_values");
}

#[test]
fn old_provider_session_is_denied() {
    let tables = service_table("max_age_secs = 300");
    let (_provider, result) = login_with(r#"{"auth_time_offset": -3600}"#, &Extra { tables: &tables, ..Default::default() });
    result.assert_denied("old_provider_session_is_denied", "older than max_age_secs = 300");
}

#[test]
fn missing_auth_time_is_denied() {
    let tables = service_table("max_age_secs = 300");
    let (_provider, result) = login_with(r#"{"claims": {"auth_time": null}}"#, &Extra { tables: &tables, ..Default::default() });
    result.assert_denied("missing_auth_time_is_denied", "auth_time is missing");
}

#[test]
fn global_assurance_applies_to_unlisted_service() {
    let tables = "[assurance]\nrequire_amr = [\"hwk\"]\n";
    let (_provider, result) = login_with("{}", &Extra { tables, ..Default::default() });
    result.assert_denied("global_assurance_applies_to_unlisted_service", "none of the required methods hwk");
}

#[test]
fn device_request_carries_acr_values_and_max_age() {
    let tables = service_table(&format!("require_amr = [\"fpt\"]\nacr_values = [\"{BIOMETRIC_ACR}\"]\nmax_age_secs = 300"));
    let (provider, result) = login_with("{}", &Extra { tables: &tables, ..Default::default() });
    result.assert_approved("device_request_carries_acr_values_and_max_age");

    let log = provider.log().text();
    let params = log.lines().find(|line| line.starts_with("PARAMS /op/device/auth")).unwrap_or_else(|| panic!("{log}"));
    assert!(params.contains("acr_values=urn%3Aultraauth%3Aacr%3Abiometric"), "{params}");
    assert!(params.contains("max_age=300"), "{params}");
}

#[test]
fn push_request_carries_acr_values_and_max_age() {
    let provider = HostileProvider::start("{}");
    let tables = service_table(&format!("flow = \"push\"\nacr_values = [\"{BIOMETRIC_ACR}\"]\nmax_age_secs = 120"));
    let daemon = start_daemon(&provider.issuer, &Extra { tables: &tables, ..Default::default() }, 0);

    let result = run_login(&daemon, &services_for(&daemon), "alice");
    result.assert_approved("push_request_carries_acr_values_and_max_age");
    let log = provider.log().text();
    let params = log.lines().find(|line| line.starts_with("PARAMS /op/backchannel")).unwrap_or_else(|| panic!("{log}"));
    assert!(params.contains("acr_values=urn%3Aultraauth%3Aacr%3Abiometric"), "{params}");
    assert!(params.contains("max_age=120"), "{params}");
    assert!(params.contains("binding_message=Login%20to%20"), "{params}");
}

/// Plays the user at the bundled provider with the chosen amr for a device prompt.
fn approve_device_with_amr(provider: &TestProvider, user_code: &str, amr: &str) {
    let result = Command::new("node")
        .arg(repo_root().join("tests/provider/approve.js"))
        .args(["device", "--issuer", &provider.issuer, "--user-code", user_code, "--username", "alice", "--amr", amr])
        .output()
        .expect("run approve.js");
    assert!(result.status.success(), "approve.js failed: {}", String::from_utf8_lossy(&result.stderr));
}

/// The bundled oidc-provider records the amr the user picks on its login page.
#[test]
fn bundled_provider_amr_choice_is_enforced() {
    let provider = TestProvider::start(&[]);
    let tables = service_table(&format!("require_amr = [\"fpt\", \"face\"]\nacr_values = [\"{BIOMETRIC_ACR}\"]\nmax_age_secs = 300"));
    let settings = DaemonSettings { session_lifetime_secs: 0, extra_tables: tables, ..Default::default() };
    let daemon = TestDaemon::start(&provider.issuer, settings);
    let services = PamServices::new(SERVICE, &format!("socket={} timeout=60", daemon.socket.display()));

    for (amr, approved) in [("pwd", false), ("face", true)] {
        let mut login = PamLogin::start(&services, SERVICE, "alice");
        let code = login.wait_for_user_code();
        approve_device_with_amr(&provider, &code, amr);
        login.press_enter();
        let (status, output) = login.finish();
        assert_eq!(status.success(), approved, "amr {amr}:\n{output}\n{}", daemon.log().text());
    }
    let log = daemon.log().text();
    assert!(log.contains("amr [\\\"pwd\\\"] has none of the required methods fpt, face"), "{log}");
}

/// The browser flow checks [assurance] at the callback, and the PAM service that redeems
/// the one-time code checks its own policy against the same verification.
#[test]
fn one_time_code_carries_assurance_to_service() {
    let port = free_port();
    let public_url = format!("http://127.0.0.1:{port}");
    let redirect_uri = format!("{public_url}/callback");
    let provider = TestProvider::start(&[("OP_REDIRECT_URIS", redirect_uri.as_str())]);
    let tables = format!(
        "[web]\nlisten = \"127.0.0.1:{port}\"\npublic_url = \"{public_url}\"\n\n[assurance]\nmax_age_secs = 600\n\n\
         [services.hub-strict]\nflow = \"code\"\nsession_lifetime_secs = 0\nrequire_amr = [\"fpt\"]\n"
    );
    let settings = DaemonSettings { session_lifetime_secs: 0, extra_tables: tables, ..Default::default() };
    let daemon = TestDaemon::start(&provider.issuer, settings);
    daemon.log().wait_for("event=web_listening");
    let services = PamServices::new("hub-strict", &format!("socket={} timeout=60", daemon.socket.display()));

    for (amr, approved) in [("face", false), ("fpt", true)] {
        let (_, head, _) = http_get(&format!("{public_url}/start"));
        let authorize = header_value(&head, "location").expect("Location header");
        assert!(authorize.contains("max_age=600"), "{authorize}");

        let callback = Command::new("node")
            .arg(repo_root().join("tests/provider/approve.js"))
            .args(["code", "--url", &authorize, "--username", "alice", "--amr", amr])
            .output()
            .expect("run approve.js");
        let callback = String::from_utf8_lossy(&callback.stdout).trim().to_owned();
        let (status, _, body) = http_get(&callback);
        assert_eq!(status, 200, "{body}\n{}", daemon.log().text());
        let start = body.find("id=\"ultraauth-code\">").expect("code on the page") + "id=\"ultraauth-code\">".len();
        let code: String = body[start..].chars().take_while(|c| *c != '<').collect();

        let (status, output) = PamLogin::start_client(&services, "hub-strict", "alice", &["--reply", &code]).finish();
        assert_eq!(status.success(), approved, "amr {amr}:\n{output}\n{}", daemon.log().text());
    }
    assert!(daemon.log().text().contains("none of the required methods fpt"), "{}", daemon.log().text());
}
