//! PAM applications that pamtester cannot imitate: no conversation function, NULL
//! replies, PAM_SILENT. Driven by tests/pam_client.py through real libpam (pam_wrapper).

mod common;

use std::os::unix::process::ExitStatusExt;

use common::{DaemonSettings, PamLogin, PamServices, TestDaemon, TestProvider};

const SERVICE: &str = "ultraauth-conv";

/// PAM return codes from Linux-PAM's <security/_pam_types.h>.
const PAM_AUTH_ERR: i32 = 7;
const PAM_AUTHINFO_UNAVAIL: i32 = 9;
const PAM_CONV_ERR: i32 = 19;

fn setup() -> (TestProvider, TestDaemon, PamServices) {
    let provider = TestProvider::start(&[]);
    let daemon = TestDaemon::start(&provider.issuer, DaemonSettings::default());
    let services = PamServices::new(SERVICE, &format!("socket={} timeout=60", daemon.socket.display()));
    (provider, daemon, services)
}

#[test]
fn null_conversation_function_starts_no_flow() {
    let (provider, daemon, services) = setup();

    let (status, output) = PamLogin::start_client(&services, SERVICE, "alice", &["--null-conv"]).finish();

    assert_eq!(status.code(), Some(PAM_AUTHINFO_UNAVAIL), "{output}");
    assert_eq!(provider.device_authorizations(), 0);
    let log = daemon.log().wait_for("event=login_unavailable");
    assert!(log.contains("no conversation"), "{log}");
}

#[test]
fn null_reply_text_ends_flow_at_once() {
    let (_provider, daemon, services) = setup();

    let login = PamLogin::start_client(&services, SERVICE, "alice", &["--null-reply-text"]);
    let started = login.started;
    let (status, output) = login.finish();

    assert_eq!(status.code(), Some(PAM_AUTHINFO_UNAVAIL), "{output}");
    assert!(output.contains("cannot show the verification link"), "{output}");
    assert!(started.elapsed() < common::WAIT, "the login hung until the wait limit");
    assert!(daemon.log().text().contains("no reply to the device prompt"), "{}", daemon.log().text());
}

#[test]
fn null_reply_array_does_not_crash() {
    let (_provider, _daemon, services) = setup();

    let (status, output) = PamLogin::start_client(&services, SERVICE, "alice", &["--null-replies"]).finish();

    assert_eq!(status.signal(), None, "the PAM client crashed:\n{output}");
    assert_eq!(status.code(), Some(PAM_CONV_ERR), "{output}");
}

#[test]
fn silent_hides_messages_but_prompts() {
    let (provider, _daemon, services) = setup();

    let mut login = PamLogin::start_client(&services, SERVICE, "alice", &["--silent"]);
    let code = login.wait_for_user_code();
    provider.approve_device(&code, "alice", true);
    login.press_enter();
    let (status, output) = login.finish();

    assert_eq!(status.code(), Some(PAM_AUTH_ERR), "{output}");
    assert!(output.contains("ECHO_ON: "), "{output}");
    assert!(!output.contains("ERROR: "), "PAM_SILENT did not hide the message:\n{output}");
}

#[test]
fn denied_message_shown_without_silent() {
    let (provider, _daemon, services) = setup();

    let mut login = PamLogin::start_client(&services, SERVICE, "alice", &[]);
    let code = login.wait_for_user_code();
    provider.approve_device(&code, "alice", true);
    login.press_enter();
    let (status, output) = login.finish();

    assert_eq!(status.code(), Some(PAM_AUTH_ERR), "{output}");
    assert!(output.contains("ERROR: The verification was denied at the provider."), "{output}");
}
