//! Operating the daemon: readiness notification, reload on SIGHUP and ultraauthctl,
//! against real processes (the daemon, the bundled provider, pamtester).

mod common;
mod ops;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Command, Stdio};

use common::{PamLogin, PamServices, TestProvider, WAIT, daemon_path};
use ops::{Daemon, config_text, ctl, ctl_json, ctl_path};

const SERVICE: &str = "ultraauth-test";

fn services_for(socket: &Path) -> PamServices {
    PamServices::new(SERVICE, &format!("socket={} timeout=60", socket.display()))
}

/// A verified session is bound to the login's source, so the logins here come from a host.
const FROM_HOST: [&str; 2] = ["--rhost", "192.0.2.10"];

/// Runs one PAM login from [`FROM_HOST`] that `user` approves at the provider.
fn approved_login(provider: &TestProvider, services: &PamServices, user: &str) -> String {
    let mut login = PamLogin::start_client(services, SERVICE, user, &FROM_HOST);
    let code = login.wait_for_user_code();
    provider.approve_device(&code, user, false);
    login.press_enter();
    let (status, output) = login.finish();
    assert!(status.success(), "login of {user} failed:\n{output}");
    output
}

/// Returns the seconds left of the live session of `user`, from `ultraauthctl sessions`.
fn session_expiry(socket: &Path, user: &str) -> Option<u64> {
    let (code, json) = ctl_json(socket, &["sessions"]);
    assert_eq!(code, 0, "{json}");
    json["sessions"].as_array().unwrap().iter().find(|session| session["user"] == user).map(|session| session["expires_in_secs"].as_u64().unwrap())
}

fn receive_datagram(socket: &UnixDatagram) -> String {
    socket.set_read_timeout(Some(WAIT)).unwrap();
    let mut buffer = [0u8; 512];
    let len = socket.recv(&mut buffer).expect("no notification from the daemon");
    String::from_utf8_lossy(&buffer[..len]).into_owned()
}

/// An issuer nobody listens on: the daemon starts and serves admin requests without it.
const DEAD_ISSUER: &str = "http://127.0.0.1:9/op";

#[test]
fn ready_sent_when_socket_listens() {
    let notify_dir = tempfile::tempdir().unwrap();
    let notify_path = notify_dir.path().join("notify.sock");
    let notify_socket = UnixDatagram::bind(&notify_path).unwrap();

    let daemon = Daemon::start(&daemon_path(), DEAD_ISSUER, "", &[("NOTIFY_SOCKET", notify_path.to_str().unwrap())]);
    let message = receive_datagram(&notify_socket);

    assert!(message.lines().any(|line| line == "READY=1"), "{message:?}");
    assert!(message.contains("STATUS=listening on"), "{message:?}");
    assert!(std::os::unix::net::UnixStream::connect(&daemon.socket).is_ok(), "socket not listening after READY=1");
}

#[test]
fn ready_sent_to_abstract_address() {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::SocketAddr;

    let name = format!("ultraauth-ready-test-{}", std::process::id());
    let notify_socket = UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes()).unwrap()).unwrap();

    let _daemon = Daemon::start(&daemon_path(), DEAD_ISSUER, "", &[("NOTIFY_SOCKET", &format!("@{name}"))]);

    assert!(receive_datagram(&notify_socket).contains("READY=1"));
}

#[test]
fn reload_applies_service_lifetime_and_keeps_sessions() {
    let provider = TestProvider::start(&[]);
    let daemon = Daemon::start(&daemon_path(), &provider.issuer, "", &[]);
    let services = services_for(&daemon.socket);
    approved_login(&provider, &services, "alice");

    let policy = format!("\n[services.{SERVICE}]\nsession_lifetime_secs = 120\n");
    std::fs::write(&daemon.config, config_text(&provider.issuer, daemon.dir.path(), &policy)).unwrap();
    let log = daemon.reload("event=config_reloaded");
    assert!(!log.contains("event=reload_incomplete"), "{log}");

    // alice's session from before the reload still covers her next login.
    let (status, output) = PamLogin::start_client(&services, SERVICE, "alice", &FROM_HOST).finish();
    assert!(status.success(), "{output}");
    assert!(!output.contains("press Enter"), "alice was asked again after the reload:\n{output}");
    assert_eq!(provider.device_authorizations(), 1);

    // A session started after the reload gets the new lifetime.
    approved_login(&provider, &services, "bob");
    let bob = session_expiry(&daemon.socket, "bob").expect("bob has a session");
    let alice = session_expiry(&daemon.socket, "alice").expect("alice's session survived");
    assert!(bob <= 120, "bob's session lasts {bob} s, the reloaded lifetime is 120 s");
    assert!(alice > 120, "alice's session lasts {alice} s, it was started with 300 s");

    let (_, status) = ctl_json(&daemon.socket, &["status"]);
    assert_eq!(status["reloads"], 1);
}

#[test]
fn reload_applies_assurance_policy() {
    let provider = TestProvider::start(&[]);
    let daemon = Daemon::start(&daemon_path(), &provider.issuer, "", &[]);
    let services = services_for(&daemon.socket);
    approved_login(&provider, &services, "alice");

    // The test provider reports amr ["fpt"] by default, which no longer suffices.
    let policy = format!("\n[services.{SERVICE}]\nrequire_amr = [\"face\"]\n");
    std::fs::write(&daemon.config, config_text(&provider.issuer, daemon.dir.path(), &policy)).unwrap();
    daemon.reload("event=config_reloaded");

    let mut login = PamLogin::start_client(&services, SERVICE, "bob", &FROM_HOST);
    let code = login.wait_for_user_code();
    provider.approve_device(&code, "bob", false);
    login.press_enter();
    let (status, output) = login.finish();
    assert!(!status.success(), "bob passed without the required amr:\n{output}");
    let log = daemon.log.wait_for("event=login_denied");
    assert!(log.contains("user=bob"), "{log}");
}

#[test]
fn reload_with_invalid_config_keeps_old() {
    let daemon = Daemon::start(&daemon_path(), DEAD_ISSUER, "", &[]);
    std::fs::write(&daemon.config, "[provider]\nissuer = \"http://127.0.0.1:9/op\"\nclient_id = \"ultraauth-test\"\nno_such_key = 1\n").unwrap();

    let log = daemon.reload("event=reload_failed");
    assert!(log.contains("no_such_key"), "{log}");
    assert!(log.contains("previous configuration stays in use"), "{log}");

    let (code, status) = ctl_json(&daemon.socket, &["status"]);
    assert_eq!(code, 0, "{status}");
    assert_eq!(status["reloads"], 0);
}

#[test]
fn reload_reports_provider_change_needs_restart() {
    let daemon = Daemon::start(&daemon_path(), DEAD_ISSUER, "", &[]);
    std::fs::write(&daemon.config, config_text("http://127.0.0.1:10/op", daemon.dir.path(), "")).unwrap();

    let log = daemon.reload("event=reload_incomplete");
    assert!(log.contains("changes to provider take effect at the next restart"), "{log}");
    let (_, status) = ctl_json(&daemon.socket, &["status"]);
    assert_eq!(status["issuer"], DEAD_ISSUER);
}

#[test]
fn ctl_status_counts_pending_login() {
    let provider = TestProvider::start(&[]);
    let daemon = Daemon::start(&daemon_path(), &provider.issuer, "", &[]);
    let services = services_for(&daemon.socket);

    let (code, idle) = ctl_json(&daemon.socket, &["status"]);
    assert_eq!(code, 0, "{idle}");
    assert_eq!(idle["running"], true);
    assert_eq!(idle["pending_logins"], 0);
    assert_eq!(idle["issuer"], provider.issuer.as_str());

    let login = PamLogin::start(&services, SERVICE, "alice");
    login.wait_for_user_code();
    let (_, busy) = ctl_json(&daemon.socket, &["status"]);
    assert_eq!(busy["pending_logins"], 1);

    drop(login);
    common::wait_until("the pending login ends", || ctl_json(&daemon.socket, &["status"]).1["pending_logins"] == 0);
}

#[test]
fn ctl_revoke_ends_session() {
    let provider = TestProvider::start(&[]);
    let daemon = Daemon::start(&daemon_path(), &provider.issuer, "", &[]);
    let services = services_for(&daemon.socket);
    approved_login(&provider, &services, "alice");

    let listing = ctl(&daemon.socket, &["sessions"]);
    let text = String::from_utf8_lossy(&listing.stdout);
    assert!(text.contains("alice"), "{text}");
    assert!(text.contains(SERVICE), "{text}");

    let (code, revoked) = ctl_json(&daemon.socket, &["sessions", "revoke", "alice"]);
    assert_eq!(code, 0, "{revoked}");
    assert_eq!(revoked["revoked"], 1);
    let log = daemon.log.wait_for("event=sessions_revoked");
    assert!(log.contains("event=sessions_revoked user=alice count=1 uid=0"), "{log}");

    // Without the session alice's next login runs a new flow.
    let login = PamLogin::start_client(&services, SERVICE, "alice", &FROM_HOST);
    login.wait_for_user_code();
    common::wait_until("a second device authorization", || provider.device_authorizations() == 2);
}

#[test]
fn ctl_status_without_daemon_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let (code, json) = ctl_json(&dir.path().join("absent.sock"), &["status"]);
    assert_eq!(code, 3);
    assert_eq!(json["running"], false);
}

#[test]
fn ctl_admin_request_needs_admin_user() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;

    // The user nobody may log in but not send admin requests.
    let allow_nobody = |dir: &Path| config_text(DEAD_ISSUER, dir, "").replace("[sessions]", "allowed_users = [\"root\", \"nobody\"]\n\n[sessions]");
    let daemon = Daemon::start_with(&daemon_path(), allow_nobody, &[]);
    // Let the user nobody reach the socket file, so only the daemon's checks stop it.
    std::fs::set_permissions(daemon.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();

    let output = Command::new(ctl_path()).arg("--socket").arg(&daemon.socket).args(["--json", "status"]).uid(65534).gid(65534).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(3), "{stdout}");
    assert!(stdout.contains("socket.admin_users"), "{stdout}");
    assert!(daemon.log.wait_for("event=admin_rejected").contains("uid=65534"));
}

/// Runs `ultraauthctl --json check` on `config` and returns its exit code and report.
fn check_report(config: &Path) -> (Option<i32>, serde_json::Value) {
    // The files belong to root here, as the daemon runs as root in these tests.
    let output = Command::new(ctl_path()).arg("--config").arg(config).args(["--user", "root", "--json", "check"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report = serde_json::from_str(&stdout).unwrap_or_else(|err| panic!("{err}: {stdout}"));
    (output.status.code(), report)
}

#[test]
fn ctl_check_lists_provider_flows() {
    let provider = TestProvider::start(&[]);
    let daemon = Daemon::start(&daemon_path(), &provider.issuer, "\n[services.sudo]\nflow = \"push\"\n", &[]);

    let (code, report) = check_report(&daemon.config);
    assert_eq!(code, Some(0), "{report}");
    assert_eq!(report["discovery"]["flows_offered"], serde_json::json!(["device", "code", "push"]), "{report}");
    assert_eq!(report["configured_flows"][0]["flow"], "auto", "{report}");
    assert_eq!(report["configured_flows"][0]["services"], serde_json::json!(["other"]), "{report}");
    assert_eq!(report["configured_flows"][1]["flow"], "push", "{report}");
    assert_eq!(report["configured_flows"][1]["served"], true, "{report}");
    assert!(report["accepted_algorithms"].as_array().unwrap().iter().any(|alg| alg == "RS256"), "{report}");

    // The code flow needs [web], which this configuration lacks.
    std::fs::write(&daemon.config, config_text(&provider.issuer, daemon.dir.path(), "\n[services.jupyterhub]\nflow = \"code\"\n")).unwrap();
    let (code, report) = check_report(&daemon.config);
    assert_eq!(code, Some(1), "{report}");
    assert_eq!(report["configured_flows"][1]["served"], false, "{report}");
    assert!(report["problems"][0].as_str().unwrap().contains("[web]"), "{report}");
}

#[test]
fn ctl_check_invalid_config_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.toml");
    std::fs::write(&config, "[provider]\nissuer = \"http://idp.example.com/op\"\nclient_id = \"x\"\n").unwrap();

    let output = Command::new(ctl_path()).arg("--config").arg(&config).args(["--user", "root", "check"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("bad.toml:2"), "{stderr}");
}

#[test]
fn ctl_login_from_terminal() {
    let provider = TestProvider::start(&[]);
    let daemon = Daemon::start(&daemon_path(), &provider.issuer, "", &[]);

    let mut child = Command::new(ctl_path())
        .arg("--socket")
        .arg(&daemon.socket)
        .args(["login", "alice", "--timeout", "60"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut prompt = String::new();
    while !prompt.contains("the code ") {
        assert!(stderr.read_line(&mut prompt).unwrap() > 0, "no prompt: {prompt}");
    }
    let code: String = prompt.split("the code ").nth(1).unwrap().chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
    provider.approve_device(&code, "alice", false);
    child.stdin.as_mut().unwrap().write_all(b"\n").unwrap();

    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{rest}\n{}", daemon.log.text());
    assert!(stdout.contains("alice: approved"), "{stdout}");
    assert!(prompt.contains("UltraAuth verification for alice"), "{prompt}");
    let log = daemon.log.wait_for("event=login_approved");
    assert!(log.contains("event=login_approved user=alice service=ultraauthctl"), "{log}");
}
