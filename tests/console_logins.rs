//! Console, su, sudo and cron-like callers: no remote host, maybe no tty, maybe no
//! conversation, and services the module should leave alone.

mod common;

use common::{DaemonSettings, PamLogin, PamServices, TestDaemon, TestProvider};

const PAM_SUCCESS: i32 = 0;
const PAM_AUTHINFO_UNAVAIL: i32 = 9;

/// A stack where PAM_IGNORE from the module falls through to pam_permit, so the exit
/// code tells an ignored login (0) from an unavailable one (9).
fn write_service(services: &PamServices, name: &str, daemon: &TestDaemon) {
    let line = format!(
        "auth [success=ok ignore=ignore default=die] {} socket={} timeout=30\nauth required pam_permit.so\n",
        common::module_path().display(),
        daemon.socket.display()
    );
    std::fs::write(services.dir.path().join(name), line).unwrap();
}

fn setup(tables: &str) -> (TestProvider, TestDaemon, PamServices) {
    let provider = TestProvider::start(&[]);
    let daemon = TestDaemon::start(&provider.issuer, DaemonSettings { extra_tables: tables.into(), ..Default::default() });
    let services = PamServices::new("unused", "");
    for name in ["su", "cron", "vsftpd", "login"] {
        write_service(&services, name, &daemon);
    }
    (provider, daemon, services)
}

#[test]
fn disabled_service_is_ignored() {
    let (provider, daemon, services) = setup("[services.other]\nenabled = false\n[services.su]\nenabled = true\n");

    let (status, output) = PamLogin::start_client(&services, "vsftpd", "alice", &[]).finish();
    assert_eq!(status.code(), Some(PAM_SUCCESS), "PAM_IGNORE should fall through to pam_permit:\n{output}");
    assert!(daemon.log().text().contains("event=login_ignored user=alice service=vsftpd"), "{}", daemon.log().text());

    let login = PamLogin::start_client(&services, "su", "alice", &[]);
    login.wait_for_user_code();
    assert_eq!(provider.device_authorizations(), 1);
}

#[test]
fn no_conversation_policy_per_service() {
    let (provider, _daemon, services) = setup("[services.cron]\nno_conversation = \"ignore\"\n");

    let (status, output) = PamLogin::start_client(&services, "cron", "alice", &["--null-conv"]).finish();
    assert_eq!(status.code(), Some(PAM_SUCCESS), "{output}");

    let (status, output) = PamLogin::start_client(&services, "su", "alice", &["--null-conv"]).finish();
    assert_eq!(status.code(), Some(PAM_AUTHINFO_UNAVAIL), "{output}");
    assert_eq!(provider.device_authorizations(), 0);
}

#[test]
fn local_session_is_bound_to_tty() {
    let (provider, daemon, services) = setup("");

    let mut login = PamLogin::start_client(&services, "login", "alice", &["--no-rhost", "--tty", "/dev/tty1"]);
    let code = login.wait_for_user_code();
    provider.approve_device(&code, "alice", false);
    login.press_enter();
    let (status, output) = login.finish();
    assert_eq!(status.code(), Some(PAM_SUCCESS), "{output}\n{}", daemon.log().text());

    let (status, output) = PamLogin::start_client(&services, "login", "alice", &["--no-rhost", "--tty", "/dev/tty1"]).finish();
    assert_eq!(status.code(), Some(PAM_SUCCESS), "{output}");
    assert_eq!(provider.device_authorizations(), 1, "the same tty should reuse the verified session");

    let other_tty = PamLogin::start_client(&services, "login", "alice", &["--no-rhost", "--tty", "/dev/tty2"]);
    other_tty.wait_for_user_code();
    assert_eq!(provider.device_authorizations(), 2, "another tty must not reuse the session");
}

#[test]
fn empty_rhost_and_tty_are_local() {
    let (provider, daemon, services) = setup("");

    let mut login = PamLogin::start_client(&services, "su", "alice", &["--rhost", "", "--tty", ""]);
    let code = login.wait_for_user_code();
    provider.approve_device(&code, "alice", false);
    login.press_enter();
    let (status, output) = login.finish();

    assert_eq!(status.code(), Some(PAM_SUCCESS), "{output}");
    assert!(daemon.log().text().contains("event=login_approved user=alice service=su rhost=-"), "{}", daemon.log().text());
}
