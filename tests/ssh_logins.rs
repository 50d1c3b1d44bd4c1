//! SSH logins through a real sshd: keyboard-interactive over PAM, driven by paramiko.
//!
//! Each test runs its own sshd in the foreground on a loopback port. sshd names its PAM
//! service after the program, so it is started through a symlink with a unique name,
//! and a matching file in /etc/pam.d (created here, removed on drop) loads the module.

mod common;

use std::os::unix::fs::symlink;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{DaemonSettings, PamLogin, Process, TestDaemon, TestProvider, free_port, wait_until};

/// sshd's LoginGraceTime in these tests; every wait limit stays below it.
const LOGIN_GRACE_SECS: u64 = 60;

struct TestSshd {
    port: u16,
    pam_file: PathBuf,
    _process: Process,
    _dir: tempfile::TempDir,
}

impl TestSshd {
    fn start(daemon: &TestDaemon, module_timeout_secs: u64) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let service = format!("ultraauth-sshd-test-{port}");
        std::fs::create_dir_all("/run/sshd").unwrap();

        let host_key = dir.path().join("host_ed25519");
        let keygen = Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(&host_key).status().expect("run ssh-keygen");
        assert!(keygen.success());

        let config = dir.path().join("sshd_config");
        std::fs::write(
            &config,
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {key}\nPidFile none\nUsePAM yes\nKbdInteractiveAuthentication yes\n\
                 PasswordAuthentication no\nPubkeyAuthentication no\nAuthenticationMethods keyboard-interactive\n\
                 LoginGraceTime {LOGIN_GRACE_SECS}\nPermitRootLogin no\nStrictModes no\nUseDNS no\nPrintMotd no\nMaxStartups 20\n",
                key = host_key.display()
            ),
        )
        .unwrap();

        let pam_file = PathBuf::from("/etc/pam.d").join(&service);
        std::fs::write(
            &pam_file,
            format!(
                "auth required {} socket={} timeout={module_timeout_secs}\naccount required pam_permit.so\nsession required pam_permit.so\npassword required pam_deny.so\n",
                common::module_path().display(),
                daemon.socket.display()
            ),
        )
        .unwrap();

        // sshd re-executes itself by absolute path, so the symlink must be absolute too.
        let program = dir.path().join(&service);
        symlink("/usr/sbin/sshd", &program).unwrap();
        let mut command = Command::new(&program);
        command.args(["-D", "-e", "-f"]).arg(&config);
        let process = Process::spawn(command);
        process.output.wait_for("Server listening on 127.0.0.1");

        TestSshd { port, pam_file, _process: process, _dir: dir }
    }

    fn connect(&self, user: &str) -> PamLogin {
        common::ensure_local_user(user);
        // sshd runs the command through the user's shell; the test accounts have nologin.
        let _ = Command::new("usermod").args(["-s", "/bin/sh", user]).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).status();
        let mut command = Command::new("python3");
        command.arg(common::repo_root().join("tests/ssh/ssh_client.py")).args(["127.0.0.1", &self.port.to_string(), user]);
        PamLogin::start_interactive(command)
    }
}

impl Drop for TestSshd {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.pam_file);
    }
}

fn setup(wait_secs: u64) -> (TestProvider, TestDaemon, TestSshd) {
    let provider = TestProvider::start(&[]);
    let daemon = TestDaemon::start(&provider.issuer, DaemonSettings { wait_secs, ..Default::default() });
    let sshd = TestSshd::start(&daemon, LOGIN_GRACE_SECS - 10);
    (provider, daemon, sshd)
}

#[test]
fn ssh_approved_login_runs_command() {
    let (provider, daemon, sshd) = setup(40);

    let mut client = sshd.connect("alice");
    let code = client.wait_for_user_code();
    let prompt = client.output().text();
    assert!(prompt.contains("UltraAuth verification for alice on"), "{prompt}");
    assert!(prompt.contains(&format!("ultraauth-sshd-test-{}", sshd.port)), "the prompt should name the service:\n{prompt}");

    provider.approve_device(&code, "alice", false);
    client.press_enter();
    let (status, output) = client.finish();

    assert!(status.success(), "{output}\n{}", daemon.log().text());
    assert!(output.contains("OUTPUT: alice"), "{output}");
    assert_eq!(output.matches("press Enter").count(), 1, "the prompt must be shown once:\n{output}");
    assert!(daemon.log().text().contains("rhost=127.0.0.1"), "{}", daemon.log().text());
    eprintln!("client output:\n{output}");
}

#[test]
fn ssh_denied_login_fails() {
    let (provider, _daemon, sshd) = setup(40);

    let mut client = sshd.connect("alice");
    let code = client.wait_for_user_code();
    provider.approve_device(&code, "alice", true);
    client.press_enter();
    let (status, output) = client.finish();

    assert!(!status.success(), "{output}");
    assert!(output.contains("RESULT: failed"), "{output}");
}

#[test]
fn ssh_wrong_identity_fails() {
    let (provider, daemon, sshd) = setup(40);

    let mut client = sshd.connect("alice");
    let code = client.wait_for_user_code();
    provider.approve_device(&code, "bob", false);
    client.press_enter();
    let (status, output) = client.finish();

    assert!(!status.success(), "{output}");
    assert!(daemon.log().text().contains("identity mismatch"), "{}", daemon.log().text());
}

#[test]
fn ssh_slow_approval_times_out_before_grace() {
    let (_provider, daemon, sshd) = setup(5);

    let mut client = sshd.connect("alice");
    client.wait_for_user_code();
    let started = Instant::now();
    wait_until("the daemon logs the timeout", || daemon.log().text().contains("event=login_timed_out"));
    client.press_enter();
    let (status, output) = client.finish();

    assert!(!status.success(), "{output}");
    assert!(output.contains("approval timed out"), "the user should see why:\n{output}");
    eprintln!("client output:\n{output}");
    assert!(started.elapsed() < Duration::from_secs(LOGIN_GRACE_SECS), "sshd was left hanging until LoginGraceTime");
}

#[test]
fn ssh_disconnect_stops_polling() {
    let (provider, daemon, sshd) = setup(40);

    let client = sshd.connect("alice");
    client.wait_for_user_code();
    drop(client);

    wait_until("the daemon notices the disconnect", || daemon.log().text().contains("event=client_disconnected"));
    let polls = provider.log().count("POST /op/token");
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(provider.log().count("POST /op/token"), polls, "daemon kept polling");
}

#[test]
fn ssh_three_connections_one_flow() {
    let (provider, daemon, sshd) = setup(40);

    let mut clients: Vec<PamLogin> = (0..3).map(|_| sshd.connect("alice")).collect();
    let codes: Vec<String> = clients.iter().map(PamLogin::wait_for_user_code).collect();
    assert!(codes.iter().all(|code| *code == codes[0]), "{codes:?}");

    provider.approve_device(&codes[0], "alice", false);
    for client in &mut clients {
        client.press_enter();
    }
    for client in clients {
        let (status, output) = client.finish();
        assert!(status.success(), "{output}\n{}", daemon.log().text());
    }

    // A fourth connection right after rides on the verified session.
    let (status, output) = sshd.connect("alice").finish();
    assert!(status.success(), "{output}");
    assert!(!output.contains("PROMPT:"), "{output}");

    let device_requests = provider.device_authorizations();
    let token_requests = provider.log().count("POST /op/token");
    eprintln!("three connections and one more: {device_requests} device authorization(s), {token_requests} token request(s)");
    assert_eq!(device_requests, 1);
}
