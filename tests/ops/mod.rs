//! Harness for the operations tests: a daemon whose configuration file, environment and
//! pid the test controls, and `ultraauthctl` runs. It reuses `common` for the provider
//! and the PAM logins.

#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};


/// Text a child process wrote to stdout and stderr: the same collector `common` uses.
pub use crate::common::Output as Log;

/// Returns the configuration text of a test daemon; `extra` is appended as is.
pub fn config_text(issuer: &str, dir: &Path, extra: &str) -> String {
    format!(
        r#"[provider]
issuer = "{issuer}"
client_id = "ultraauth-test"
client_secret_file = "{dir}/client_secret"
default_interval_secs = 1

[socket]
path = "{dir}/ultraauthd.sock"

[sessions]
lifetime_secs = 300

[login]
wait_secs = 60
{extra}"#,
        dir = dir.display(),
    )
}

/// A daemon run from `binary` with its own directory, configuration and environment.
pub struct Daemon {
    pub dir: tempfile::TempDir,
    pub socket: PathBuf,
    pub config: PathBuf,
    child: Child,
    pub log: Log,
}

impl Daemon {
    /// Writes the secret and `config_text(issuer, dir, extra)`, then starts the daemon
    /// and waits until it logs event=daemon_started.
    pub fn start(binary: &Path, issuer: &str, extra: &str, env: &[(&str, &str)]) -> Self {
        Self::start_with(binary, |dir| config_text(issuer, dir, extra), env)
    }

    /// Like [`Daemon::start`] with the configuration text that `make_config` returns for
    /// the daemon's directory.
    pub fn start_with(binary: &Path, make_config: impl FnOnce(&Path) -> String, env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("client_secret");
        std::fs::write(&secret, "test-secret-change-me\n").unwrap();
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
        let config = dir.path().join("ultraauthd.toml");
        std::fs::write(&config, make_config(dir.path())).unwrap();

        let mut command = Command::new(binary);
        command.args(["--config", config.to_str().unwrap(), "--no-syslog"]);
        Self::spawn(command, dir, config, env)
    }

    /// Starts `command` (the daemon, maybe behind runuser) for files already in `dir`.
    pub fn spawn(mut command: Command, dir: tempfile::TempDir, config: PathBuf, env: &[(&str, &str)]) -> Self {
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("start ultraauthd");
        let log = Log::default();
        log.collect(child.stdout.take().unwrap());
        log.collect(child.stderr.take().unwrap());
        let socket = dir.path().join("ultraauthd.sock");

        let daemon = Daemon { dir, socket, config, child, log };
        daemon.log.wait_for("event=daemon_started");
        daemon
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Sends SIGHUP and waits for the next reload's audit line.
    pub fn reload(&self, expected_event: &str) -> String {
        let before = self.log.text().matches(expected_event).count();
        let status = Command::new("kill").args(["-HUP", &self.pid().to_string()]).status().expect("run kill");
        assert!(status.success(), "kill -HUP {} failed", self.pid());
        self.log.wait_for_count(expected_event, before + 1)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn ctl_path() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_ultraauthctl"))
}

/// Runs `ultraauthctl --socket SOCKET ARGS...` and returns its output.
pub fn ctl(socket: &Path, args: &[&str]) -> Output {
    Command::new(ctl_path()).arg("--socket").arg(socket).args(args).stdin(Stdio::null()).output().expect("run ultraauthctl")
}

/// Runs ultraauthctl with `--json` and parses its stdout.
pub fn ctl_json(socket: &Path, args: &[&str]) -> (i32, serde_json::Value) {
    let mut all_args = vec!["--json"];
    all_args.extend_from_slice(args);
    let output = ctl(socket, &all_args);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let value = serde_json::from_str(&stdout).unwrap_or_else(|err| panic!("ultraauthctl printed no JSON ({err}):\n{stdout}\n{}", String::from_utf8_lossy(&output.stderr)));
    (output.status.code().unwrap_or(-1), value)
}
