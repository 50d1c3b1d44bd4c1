//! The local boundary: who may talk to the daemon, and which files it trusts at start.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::Duration;

use crate::common::{daemon_path, wait_until};
use crate::harness::{Extra, HostileProvider, start_daemon};

/// Writes a configuration into `dir` with the given mode and runs `ultraauthd --check`.
fn check_config(dir: &std::path::Path, socket_dir: &std::path::Path, mode: u32) -> (bool, String) {
    let config = dir.join("ultraauthd.toml");
    let source = format!(
        "[provider]\nissuer = \"http://127.0.0.1:9/op\"\nclient_id = \"ultraauth-test\"\n\n[socket]\npath = \"{}\"\n",
        socket_dir.join("ultraauthd.sock").display()
    );
    std::fs::write(&config, source).unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(mode)).unwrap();
    let output = Command::new(daemon_path()).args(["--check", "--config"]).arg(&config).output().unwrap();
    (output.status.success(), String::from_utf8_lossy(&output.stderr).into_owned())
}

#[test]
fn config_writable_by_others_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, stderr) = check_config(dir.path(), dir.path(), 0o646);
    assert!(!ok, "a world-writable configuration was accepted");
    assert!(stderr.contains("every local user can write it"), "{stderr}");

    let (ok, stderr) = check_config(dir.path(), dir.path(), 0o644);
    assert!(ok, "{stderr}");
}

#[test]
fn socket_directory_writable_by_others_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let socket_dir = dir.path().join("run");
    std::fs::create_dir(&socket_dir).unwrap();
    std::fs::set_permissions(&socket_dir, std::fs::Permissions::from_mode(0o777)).unwrap();

    let (ok, stderr) = check_config(dir.path(), &socket_dir, 0o600);
    assert!(!ok, "a world-writable socket folder was accepted");
    assert!(stderr.contains("socket.path"), "{stderr}");
    assert!(stderr.contains("chmod o-w"), "{stderr}");
}

/// A local user other than root connects to the socket directly: the daemon closes the
/// connection without reading a request or starting a flow.
#[test]
fn unprivileged_raw_client_gets_nothing() {
    let provider = HostileProvider::start("{}");
    let daemon = start_daemon(&provider.issuer, &Extra::default(), 0);
    std::fs::set_permissions(daemon.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();

    let script = r#"
import socket, struct, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(20)
s.connect(sys.argv[1])
body = b'{"type":"begin_login","user":"root","service":"sshd","rhost":null,"tty":null,"flow":"device","wait_limit_secs":60,"interactive":true}'
try:
    s.sendall(struct.pack(">I", len(body)) + body)
except OSError:
    pass
try:
    data = s.recv(65536)
except ConnectionResetError:
    data = b""
print("received", len(data))
"#;
    let output = Command::new("python3").args(["-c", script]).arg(&daemon.socket).uid(65534).gid(65534).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("received 0"), "{stdout}{}", String::from_utf8_lossy(&output.stderr));

    wait_until("the daemon logs the rejection", || daemon.log().text().contains("event=peer_rejected"));
    assert!(daemon.log().text().contains("uid=65534"), "{}", daemon.log().text());
    assert_eq!(provider.log().count("POST /op/device/auth"), 0, "{}", provider.log().text());
}

/// An answer_prompt sent before begin_login may hold a password: the log names only its type.
#[test]
fn early_prompt_answer_is_not_logged() {
    let provider = HostileProvider::start("{}");
    let daemon = start_daemon(&provider.issuer, &Extra::default(), 0);

    let mut stream = UnixStream::connect(&daemon.socket).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let body = br#"{"type":"answer_prompt","text":"hunter2-secret-password"}"#;
    stream.write_all(&(body.len() as u32).to_be_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest);

    wait_until("the daemon logs the protocol error", || daemon.log().text().contains("event=protocol_error"));
    let log = daemon.log().text();
    assert!(log.contains("got answer_prompt"), "{log}");
    assert!(!log.contains("hunter2"), "the audit log shows the prompt answer:\n{log}");
}
