//! Test harness: the bundled provider, a daemon and pamtester under pam_wrapper, all as
//! real processes on loopback and in a temporary directory per test.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Generous upper bound for anything a test waits for; no test asserts speed with it.
pub const WAIT: Duration = Duration::from_secs(30);

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// target/debug (or the profile in use), found from the test binary's own path.
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent().and_then(Path::parent).expect("target directory").to_owned()
}

pub fn module_path() -> PathBuf {
    let path = target_dir().join("libpam_ultraauth.so");
    assert!(path.exists(), "{} is missing: run `cargo build --workspace` before the tests", path.display());
    path
}

pub fn daemon_path() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_ultraauthd"))
}

/// Output of a child process, collected by reader threads.
#[derive(Clone, Default)]
pub struct Output(Arc<Mutex<String>>);

impl Output {
    pub fn collect<R: Read + Send + 'static>(&self, reader: R) {
        let buffer = self.0.clone();
        thread::spawn(move || {
            let mut reader = BufReader::new(reader);
            let mut chunk = [0u8; 4096];
            while let Ok(n) = reader.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                buffer.lock().unwrap().push_str(&String::from_utf8_lossy(&chunk[..n]));
            }
        });
    }

    pub fn text(&self) -> String {
        self.0.lock().unwrap().clone()
    }

    /// Waits until the output contains `needle`, panicking with the output after [`WAIT`].
    pub fn wait_for(&self, needle: &str) -> String {
        let start = Instant::now();
        loop {
            let text = self.text();
            if text.contains(needle) {
                return text;
            }
            assert!(start.elapsed() < WAIT, "timed out waiting for {needle:?}; output so far:\n{text}");
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until the output contains `needle` `count` times, panicking after [`WAIT`].
    pub fn wait_for_count(&self, needle: &str, count: usize) -> String {
        let start = Instant::now();
        loop {
            let text = self.text();
            if text.matches(needle).count() >= count {
                return text;
            }
            assert!(start.elapsed() < WAIT, "timed out waiting for {count} x {needle:?}; output so far:\n{text}");
            thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn count(&self, needle: &str) -> usize {
        self.text().matches(needle).count()
    }
}

/// A child process killed and reaped on drop.
pub struct Process {
    child: Child,
    pub output: Output,
}

impl Process {
    /// Starts `command` with stdout and stderr collected into one [`Output`].
    pub fn spawn(mut command: Command) -> Self {
        let mut child = command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("start the process");
        let output = Output::default();
        output.collect(child.stdout.take().unwrap());
        output.collect(child.stderr.take().unwrap());
        Process { child, output }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The bundled oidc-provider, mounted at /op on a free loopback port.
pub struct TestProvider {
    pub issuer: String,
    process: Process,
}

impl TestProvider {
    pub fn start(env: &[(&str, &str)]) -> Self {
        let dir = repo_root().join("tests/provider");
        assert!(dir.join("node_modules").exists(), "run `npm ci` in tests/provider first (tests/run.sh does it)");

        let mut command = Command::new("node");
        command.arg(dir.join("server.js")).env("OP_PORT", "0").stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("start node tests/provider/server.js");

        let output = Output::default();
        output.collect(child.stderr.take().unwrap());
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).expect("read the provider's READY line");
        let issuer = line.trim().strip_prefix("READY ").unwrap_or_else(|| panic!("provider did not start: {line:?} {}", output.text())).to_owned();
        output.collect(stdout);

        TestProvider { issuer, process: Process { child, output } }
    }

    /// Returns the provider's request log (method, path, status per line).
    pub fn log(&self) -> &Output {
        &self.process.output
    }

    /// Counts the device authorizations the provider has served.
    pub fn device_authorizations(&self) -> usize {
        self.log().count("POST /op/device/auth")
    }

    /// Plays the user in the browser for an authorization URL and returns the redirect
    /// to the client's redirect_uri (not fetched).
    pub fn approve_authorization(&self, url: &str, username: &str) -> String {
        let result = Command::new("node")
            .arg(repo_root().join("tests/provider/approve.js"))
            .args(["code", "--url", url, "--username", username])
            .output()
            .expect("run approve.js");
        assert!(result.status.success(), "approve.js failed: {}", String::from_utf8_lossy(&result.stderr));
        String::from_utf8_lossy(&result.stdout).trim().to_owned()
    }

    /// Plays the user's phone: approves or denies the pending CIBA request of `username`.
    pub fn answer_push(&self, username: &str, deny: bool) {
        let base = self.issuer.trim_end_matches("/op");
        let mut command = Command::new("node");
        command.arg(repo_root().join("tests/provider/approve.js")).args(["push", "--base", base, "--username", username, "--wait", "20"]);
        if deny {
            command.arg("--deny");
        }
        let result = command.output().expect("run approve.js");
        assert!(result.status.success(), "approve.js push failed: {}", String::from_utf8_lossy(&result.stderr));
    }

    /// Plays the user in the browser: enters the code, logs in as `username`, or aborts.
    pub fn approve_device(&self, user_code: &str, username: &str, abort: bool) {
        let mut command = Command::new("node");
        command.arg(repo_root().join("tests/provider/approve.js")).args(["device", "--issuer", &self.issuer, "--user-code", user_code, "--username", username]);
        if abort {
            command.arg("--abort");
        }
        let result = command.output().expect("run approve.js");
        assert!(result.status.success(), "approve.js failed: {}{}", String::from_utf8_lossy(&result.stdout), String::from_utf8_lossy(&result.stderr));
    }
}

/// Settings for one daemon; each test changes what it needs.
pub struct DaemonSettings {
    pub session_lifetime_secs: u64,
    pub wait_secs: u64,
    pub extra_provider: String,
    /// Extra tables appended to the configuration, such as `[web]` or `[services.X]`.
    pub extra_tables: String,
}

impl Default for DaemonSettings {
    fn default() -> Self {
        DaemonSettings { session_lifetime_secs: 300, wait_secs: 60, extra_provider: String::new(), extra_tables: String::new() }
    }
}

/// Returns a loopback port that was free a moment ago, for servers whose URL must be
/// known before they start (the redirect_uri registered at the provider).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Fetches a URL with curl without following redirects; returns status, headers and body.
pub fn http_get(url: &str) -> (u16, String, String) {
    let output = Command::new("curl").args(["-sS", "-D", "-", "--max-time", "20", url]).output().expect("run curl");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split_whitespace().nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
    (status, head.to_owned(), body.to_owned())
}

/// Returns a header's value from a curl header dump.
pub fn header_value(head: &str, name: &str) -> Option<String> {
    head.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim().eq_ignore_ascii_case(name).then(|| value.trim().to_owned())
    })
}

/// ultraauthd with its own config, secret and socket in a temporary directory.
pub struct TestDaemon {
    pub dir: tempfile::TempDir,
    pub socket: PathBuf,
    process: Process,
}

impl TestDaemon {
    pub fn start(issuer: &str, settings: DaemonSettings) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("client_secret");
        std::fs::write(&secret, "test-secret-change-me\n").unwrap();
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();

        let socket = dir.path().join("ultraauthd.sock");
        let config = format!(
            r#"[provider]
issuer = "{issuer}"
client_id = "ultraauth-test"
client_secret_file = "{secret}"
default_interval_secs = 1
{extra}

[socket]
path = "{socket}"

[sessions]
lifetime_secs = {lifetime}

[login]
wait_secs = {wait}

{tables}
"#,
            secret = secret.display(),
            extra = settings.extra_provider,
            socket = socket.display(),
            lifetime = settings.session_lifetime_secs,
            wait = settings.wait_secs,
            tables = settings.extra_tables,
        );
        let config_path = dir.path().join("ultraauthd.toml");
        std::fs::write(&config_path, config).unwrap();

        let mut child = Command::new(daemon_path())
            .args(["--config", config_path.to_str().unwrap(), "--no-syslog"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start ultraauthd");
        let output = Output::default();
        output.collect(child.stdout.take().unwrap());
        output.collect(child.stderr.take().unwrap());
        output.wait_for("event=daemon_started");

        TestDaemon { dir, socket, process: Process { child, output } }
    }

    /// Returns the daemon's audit lines.
    pub fn log(&self) -> &Output {
        &self.process.output
    }

    /// Stops the daemon at once with SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        let _ = self.process.child.kill();
        let _ = self.process.child.wait();
    }
}

/// A PAM service directory for pam_wrapper with one service that runs the module.
pub struct PamServices {
    pub dir: tempfile::TempDir,
}

impl PamServices {
    pub fn new(service: &str, module_args: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let line = format!("auth required {} {module_args}\n", module_path().display());
        std::fs::write(dir.path().join(service), line).unwrap();
        std::fs::write(dir.path().join("other"), "auth required pam_deny.so\n").unwrap();
        PamServices { dir }
    }
}

/// Makes sure a local account exists; PAM's pam_get_user does not need it, but the
/// admin-facing behaviour is tested with real names.
pub fn ensure_local_user(name: &str) {
    let exists = Command::new("id").arg(name).stdout(Stdio::null()).stderr(Stdio::null()).status().unwrap().success();
    if !exists {
        let _ = Command::new("useradd").args(["-M", "-s", "/usr/sbin/nologin", name]).status();
    }
}

/// pamtester running one `authenticate` through real libpam under pam_wrapper.
pub struct PamLogin {
    process: Process,
    stdin: Option<ChildStdin>,
    pub started: Instant,
}

impl PamLogin {
    pub fn start(services: &PamServices, service: &str, user: &str) -> Self {
        let mut command = Command::new("pamtester");
        command.args(["-v", service, user, "authenticate"]).env("LD_PRELOAD", "libpam_wrapper.so");
        Self::spawn(command, services, user)
    }

    /// Runs tests/pam_client.py, a ctypes libpam client that can pass a NULL
    /// conversation function, NULL replies and PAM_SILENT.
    pub fn start_client(services: &PamServices, service: &str, user: &str, options: &[&str]) -> Self {
        let mut command = Command::new("python3");
        command.arg(repo_root().join("tests/pam_client.py")).args([service, user]).args(options);
        Self::spawn(command, services, user)
    }

    fn spawn(mut command: Command, services: &PamServices, user: &str) -> Self {
        ensure_local_user(user);
        command.env("PAM_WRAPPER", "1").env("PAM_WRAPPER_SERVICE_DIR", services.dir.path());
        Self::start_interactive(command)
    }

    /// Starts any program that prompts on stdout and reads replies from stdin, such as
    /// tests/ssh/ssh_client.py.
    pub fn start_interactive(mut command: Command) -> Self {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the PAM client (apt-get install pamtester libpam-wrapper)");
        let output = Output::default();
        output.collect(child.stdout.take().unwrap());
        output.collect(child.stderr.take().unwrap());
        let stdin = child.stdin.take();
        PamLogin { process: Process { child, output }, stdin, started: Instant::now() }
    }

    pub fn output(&self) -> &Output {
        &self.process.output
    }

    /// Waits for the device prompt and returns the user code it shows.
    pub fn wait_for_user_code(&self) -> String {
        let text = self.output().wait_for("press Enter");
        let start = text.find("user_code=").expect("prompt has a verification_uri_complete") + "user_code=".len();
        text[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-').collect()
    }

    pub fn press_enter(&mut self) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(b"\n").unwrap();
        stdin.flush().unwrap();
    }

    /// Waits for pamtester to exit and returns its status with the whole output.
    pub fn finish(mut self) -> (ExitStatus, String) {
        drop(self.stdin.take());
        let start = Instant::now();
        loop {
            if let Some(status) = self.process.child.try_wait().unwrap() {
                thread::sleep(Duration::from_millis(50));
                return (status, self.output().text());
            }
            assert!(start.elapsed() < WAIT, "pamtester did not finish; output:\n{}", self.output().text());
            thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Waits until `condition` holds, panicking with `what` after [`WAIT`].
pub fn wait_until(what: &str, condition: impl Fn() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < WAIT, "timed out waiting until {what}");
        thread::sleep(Duration::from_millis(50));
    }
}
