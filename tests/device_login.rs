//! Device-grant logins end to end: pamtester through real libpam (pam_wrapper), the
//! module, ultraauthd and the bundled oidc-provider, each a real process.

mod common;

use std::time::{Duration, Instant};

use common::{DaemonSettings, PamLogin, PamServices, TestDaemon, TestProvider, wait_until};

const SERVICE: &str = "ultraauth-test";

/// pam_strerror(PAM_AUTHINFO_UNAVAIL) in Linux-PAM 1.5, as pamtester prints it.
const AUTHINFO_UNAVAIL: &str = "Authentication service cannot retrieve authentication info";

fn services_for(daemon: &TestDaemon) -> PamServices {
    PamServices::new(SERVICE, &format!("socket={} timeout=60", daemon.socket.display()))
}

/// Runs one login that the user approves at the provider as `provider_user`.
fn approved_login(provider: &TestProvider, services: &PamServices, pam_user: &str, provider_user: &str) -> (bool, String) {
    let mut login = PamLogin::start(services, SERVICE, pam_user);
    let code = login.wait_for_user_code();
    provider.approve_device(&code, provider_user, false);
    login.press_enter();
    let (status, output) = login.finish();
    (status.success(), output)
}

#[test]
fn approved_login_succeeds() {
    let provider = TestProvider::start(&[]);
    let daemon = TestDaemon::start(&provider.issuer, DaemonSettings::default());
    let services = services_for(&daemon);

    let mut login = PamLogin::start(&services, SERVICE, "alice");
    let code = login.wait_for_user_code();
    provider.approve_device(&code, "alice", false);
    login.press_enter();
    let (status, output) = login.finish();
    let success = status.success();

    assert!(success, "login failed:\n{output}\ndaemon:\n{}", daemon.log().text());
    assert!(output.contains("successfully authenticated"), "{output}");
    assert!(output.contains("UltraAuth verification for alice"), "{output}");
    let log = daemon.log().wait_for("event=login_approved");
    assert!(log.contains("event=flow_started user=alice service=ultraauth-test"), "{log}");
    assert!(!log.contains(&code), "the audit log shows the user code:\n{log}");
    assert_eq!(provider.device_authorizations(), 1);
}

#[test]
fn prompt_comes_before_approval_and_once() {
    let provider = TestProvider::start(&[]);
    let daemon = TestDaemon::start(&provider.issuer, DaemonSettings::default());
    let services = services_for(&daemon);

    let mut login = PamLogin::start(&services, SERVICE, "alice");
    let code = login.wait_for_user_code();
    // The prompt is shown while the login is pending, not after it ends.
    assert!(!daemon.log().text().contains("event=login_"), "{}", daemon.log().text());
    provider.approve_device(&code, "alice", false);
    login.press_enter();
    let (status, output) = login.finish();

    assert!(status.success(), "{output}");
    assert_eq!(output.matches("press Enter").count(), 1, "{output}");
    assert!(!output.contains("device_code"), "{output}");
}

#[test]
fn identity_mismatch_is_denied() {
    let provider = TestProvider::start(&[]);
    let daemon = TestDaemon::start(&provider.issuer, DaemonSettings::default());
    let services = services_for(&daemon);

    let (success, output) = approved_login(&provider, &services, "alice", "bob");

    assert!(!success, "bob's verification let alice in:\n{output}");
    assert!(output.contains("may not log in as alice"), "{output}");
    let log = daemon.log().wait_for("event=login_denied");
    assert!(log.contains("maps to local user \\\"bob\\\""), "{log}");
    assert!(log.contains("the PAM user is \\\"alice\\\""), "{log}");
}

#[test]
fn abort_is_denied_within_one_poll() {
    let provider = TestProvider::start(&[]);
    let daemon = TestDaemon::start(&provider.issuer, DaemonSettings::default());
    let services = services_for(&daemon);

    let mut login = PamLogin::start(&services, SERVICE, "alice");
    let code = login.wait_for_user_code();
    provider.approve_device(&code, "alice", true);
    let aborted_at = Instant::now();

    // The daemon polls every second here; a few seconds covers one poll with room to spare.
    wait_until("the daemon logs the denial", || daemon.log().text().contains("event=login_denied"));
    assert!(aborted_at.elapsed() < Duration::from_secs(10), "denial took {:?}", aborted_at.elapsed());
    assert!(daemon.log().text().contains("access_denied"), "{}", daemon.log().text());

    login.press_enter();
    let (status, output) = login.finish();
    assert!(!status.success(), "{output}");
    assert!(output.contains("denied at the provider"), "{output}");
}

#[test]
fn expired_code_is_denied() {
    let provider = TestProvider::start(&[("OP_DEVICE_TTL", "3")]);
    let daemon = TestDaemon::start(&provider.issuer, DaemonSettings::default());
    let services = services_for(&daemon);

    let mut login = PamLogin::start(&services, SERVICE, "alice");
    login.wait_for_user_code();
    wait_until("the daemon logs the expiry", || daemon.log().text().contains("event=login_denied"));
    assert!(daemon.log().text().contains("expired"), "{}", daemon.log().text());

    login.press_enter();
    let (status, output) = login.finish();
    assert!(!status.success(), "{output}");
    assert!(output.contains("code expired"), "{output}");
}

#[test]
fn wait_limit_times_out() {
    let provider = TestProvider::start(&[]);
    let daemon = TestDaemon::start(&provider.issuer, DaemonSettings { wait_secs: 5, ..Default::default() });
    let services = services_for(&daemon);

    let mut login = PamLogin::start(&services, SERVICE, "alice");
    login.wait_for_user_code();
    wait_until("the daemon logs the timeout", || daemon.log().text().contains("event=login_timed_out"));

    login.press_enter();
    let (status, output) = login.finish();
    assert!(!status.success(), "{output}");
    assert!(output.contains("approval timed out"), "{output}");
}

#[test]
fn missing_daemon_is_authinfo_unavail_quickly() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("no-daemon.sock");
    let services = PamServices::new(SERVICE, &format!("socket={} timeout=60", socket.display()));

    let login = PamLogin::start(&services, SERVICE, "alice");
    let started = login.started;
    let (status, output) = login.finish();

    assert!(!status.success(), "{output}");
    assert!(output.contains(AUTHINFO_UNAVAIL), "expected PAM_AUTHINFO_UNAVAIL:\n{output}");
    // Generous bound: the module must not wait for a daemon that is not there.
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
}

#[test]
fn killed_daemon_fails_the_pending_login() {
    let provider = TestProvider::start(&[]);
    let mut daemon = TestDaemon::start(&provider.issuer, DaemonSettings::default());
    let services = services_for(&daemon);

    let mut login = PamLogin::start(&services, SERVICE, "alice");
    login.wait_for_user_code();
    daemon.kill();
    login.press_enter();
    let (status, output) = login.finish();

    assert!(!status.success(), "{output}");
    assert!(output.contains(AUTHINFO_UNAVAIL), "{output}");
}

#[test]
fn verified_session_skips_flow_until_it_expires() {
    let provider = TestProvider::start(&[]);
    let daemon = TestDaemon::start(&provider.issuer, DaemonSettings { session_lifetime_secs: 6, ..Default::default() });
    let services = services_for(&daemon);
    // A session is bound to the login's source, so every login here comes from one host.
    let from_host = ["--rhost", "192.0.2.10"];

    let mut login = PamLogin::start_client(&services, SERVICE, "alice", &from_host);
    let code = login.wait_for_user_code();
    provider.approve_device(&code, "alice", false);
    login.press_enter();
    let (status, output) = login.finish();
    assert!(status.success(), "{output}");
    let approved_at = Instant::now();
    assert_eq!(provider.device_authorizations(), 1);

    // Inside the session lifetime: no prompt, no new flow at the provider.
    let (status, output) = PamLogin::start_client(&services, SERVICE, "alice", &from_host).finish();
    assert!(status.success(), "{output}\n{}", daemon.log().text());
    assert!(!output.contains("press Enter"), "{output}");
    assert_eq!(provider.device_authorizations(), 1);
    assert!(daemon.log().text().contains("flow=session"), "{}", daemon.log().text());

    // Another user gets no free pass from alice's session.
    let other = PamLogin::start_client(&services, SERVICE, "bob", &from_host);
    other.wait_for_user_code();
    drop(other);

    // A login with no remote host and no tty has nothing to bind a session to.
    let unbound = PamLogin::start(&services, SERVICE, "alice");
    unbound.wait_for_user_code();
    drop(unbound);
    assert_eq!(provider.device_authorizations(), 3);

    // After the lifetime a new flow is needed.
    let remaining = Duration::from_secs(7).saturating_sub(approved_at.elapsed());
    std::thread::sleep(remaining);
    let login = PamLogin::start_client(&services, SERVICE, "alice", &from_host);
    login.wait_for_user_code();
    wait_until("a fourth device authorization", || provider.device_authorizations() == 4);
}

#[test]
fn client_disconnect_stops_polling() {
    let provider = TestProvider::start(&[]);
    let daemon = TestDaemon::start(&provider.issuer, DaemonSettings::default());
    let services = services_for(&daemon);

    let login = PamLogin::start(&services, SERVICE, "alice");
    login.wait_for_user_code();
    drop(login);

    wait_until("the daemon notices the disconnect", || daemon.log().text().contains("event=client_disconnected"));
    let polls_after_disconnect = provider.log().count("POST /op/token");
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(provider.log().count("POST /op/token"), polls_after_disconnect, "daemon kept polling");
}

#[test]
fn rotated_provider_key_needs_no_restart() {
    let provider = TestProvider::start(&[]);
    let issuer = provider.issuer.clone();
    let port = issuer.rsplit(':').next().unwrap().split('/').next().unwrap().to_owned();
    let settings = DaemonSettings { session_lifetime_secs: 0, extra_provider: "jwks_refetch_min_secs = 0".into(), ..Default::default() };
    let daemon = TestDaemon::start(&issuer, settings);
    let services = services_for(&daemon);

    let (success, output) = approved_login(&provider, &services, "alice", "alice");
    assert!(success, "{output}");

    // The provider restarts on the same port with freshly generated signing keys.
    drop(provider);
    let rotated = TestProvider::start(&[("OP_PORT", port.as_str())]);
    assert_eq!(rotated.issuer, issuer);

    let (success, output) = approved_login(&rotated, &services, "alice", "alice");
    assert!(success, "{output}\n{}", daemon.log().text());
    assert!(rotated.log().count("GET /op/jwks") >= 1, "daemon did not refetch the JWKS:\n{}", rotated.log().text());
}

#[test]
fn peer_other_than_root_is_rejected() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;

    let provider = TestProvider::start(&[]);
    let daemon = TestDaemon::start(&provider.issuer, DaemonSettings::default());
    // Let an unprivileged process reach the socket file, so only SO_PEERCRED stops it.
    std::fs::set_permissions(daemon.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let services = services_for(&daemon);
    std::fs::set_permissions(services.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();

    let output = std::process::Command::new("pamtester")
        .args([SERVICE, "nobody", "authenticate"])
        .env("LD_PRELOAD", "libpam_wrapper.so")
        .env("PAM_WRAPPER", "1")
        .env("PAM_WRAPPER_SERVICE_DIR", services.dir.path())
        .uid(65534)
        .gid(65534)
        .output()
        .expect("run pamtester as nobody");
    let text = String::from_utf8_lossy(&output.stderr);

    assert!(!output.status.success(), "{text}");
    assert!(text.contains(AUTHINFO_UNAVAIL), "{text}");
    let log = daemon.log().wait_for("event=peer_rejected");
    assert!(log.contains("uid=65534"), "{log}");
    assert_eq!(provider.device_authorizations(), 0);
}

#[test]
fn concurrent_logins_share_one_flow() {
    let provider = TestProvider::start(&[]);
    let daemon = TestDaemon::start(&provider.issuer, DaemonSettings::default());
    let services = services_for(&daemon);

    let options = ["--rhost", "192.0.2.7"];
    let mut logins: Vec<PamLogin> = (0..3).map(|_| PamLogin::start_client(&services, SERVICE, "alice", &options)).collect();
    let codes: Vec<String> = logins.iter().map(PamLogin::wait_for_user_code).collect();
    assert!(codes.iter().all(|code| *code == codes[0]), "logins got different codes: {codes:?}");
    assert_eq!(provider.device_authorizations(), 1);

    provider.approve_device(&codes[0], "alice", false);
    for login in &mut logins {
        login.press_enter();
    }
    for login in logins {
        let (status, output) = login.finish();
        assert!(status.success(), "{output}\n{}", daemon.log().text());
    }
    assert_eq!(daemon.log().count("event=flow_joined"), 2);

    // Another host is another login: it gets its own flow.
    let other = PamLogin::start_client(&services, SERVICE, "alice", &["--rhost", "192.0.2.8"]);
    other.wait_for_user_code();
    assert_eq!(provider.device_authorizations(), 2);
}

#[test]
fn disconnect_after_enter_stops_polling() {
    let provider = TestProvider::start(&[]);
    let daemon = TestDaemon::start(&provider.issuer, DaemonSettings::default());
    let services = services_for(&daemon);

    let mut login = PamLogin::start(&services, SERVICE, "alice");
    login.wait_for_user_code();
    login.press_enter();
    std::thread::sleep(Duration::from_millis(500));
    drop(login);

    wait_until("the daemon notices the disconnect", || daemon.log().text().contains("event=client_disconnected"));
    let polls_after_disconnect = provider.log().count("POST /op/token");
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(provider.log().count("POST /op/token"), polls_after_disconnect, "daemon kept polling");
}
