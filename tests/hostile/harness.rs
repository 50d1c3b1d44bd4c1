//! The hostile provider as a child process, and one PAM login against it.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::common::{DaemonSettings, PamLogin, PamServices, TestDaemon, repo_root};

pub const SERVICE: &str = "ultraauth-hostile";

/// pam_strerror(PAM_AUTHINFO_UNAVAIL) in Linux-PAM 1.5, as pamtester prints it.
pub const AUTHINFO_UNAVAIL: &str = "Authentication service cannot retrieve authentication info";

/// Settings every hostile test needs: a JWKS refetch at once on an unknown kid, and no
/// verified sessions, so each login runs the flow.
pub const BASE_PROVIDER: &str = "jwks_refetch_min_secs = 0\n";

/// Output of a child, collected by a reader thread.
#[derive(Clone, Default)]
pub struct Log(Arc<Mutex<String>>);

impl Log {
    fn collect<R: Read + Send + 'static>(&self, reader: R) {
        let buffer = self.0.clone();
        thread::spawn(move || {
            let mut reader = BufReader::new(reader);
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
                buffer.lock().unwrap().push_str(&line);
                line.clear();
            }
        });
    }

    pub fn text(&self) -> String {
        self.0.lock().unwrap().clone()
    }

    pub fn count(&self, needle: &str) -> usize {
        self.text().matches(needle).count()
    }
}

/// tests/hostile/provider.js running one scenario.
pub struct HostileProvider {
    pub issuer: String,
    child: Child,
    log: Log,
}

impl Drop for HostileProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl HostileProvider {
    /// Starts the provider with `scenario`, a JSON object (see provider.js).
    pub fn start(scenario: &str) -> Self {
        let mut child = Command::new("node")
            .arg(repo_root().join("tests/hostile/provider.js"))
            .env("HOSTILE_SCENARIO", scenario)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start node tests/hostile/provider.js");
        let log = Log::default();
        log.collect(child.stderr.take().unwrap());

        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).expect("read the READY line");
        let issuer = match line.trim().strip_prefix("READY ") {
            Some(issuer) => issuer.to_owned(),
            None => {
                thread::sleep(Duration::from_millis(200));
                panic!("hostile provider did not start for {scenario}: {line:?}\n{}", log.text());
            }
        };
        HostileProvider { issuer, child, log }
    }

    /// Returns the provider's request lines.
    pub fn log(&self) -> &Log {
        &self.log
    }
}

/// What a login came to.
pub struct LoginResult {
    pub success: bool,
    pub pam_output: String,
    pub daemon_log: String,
    pub elapsed: Duration,
}

impl LoginResult {
    /// Asserts a denial whose audit line names `reason`.
    pub fn assert_denied(&self, case: &str, reason: &str) {
        assert!(!self.success, "case {case}: the login was accepted\n{}\n{}", self.pam_output, self.daemon_log);
        assert!(self.daemon_log.contains("event=login_denied"), "case {case}: no login_denied line:\n{}", self.daemon_log);
        assert!(self.daemon_log.contains(reason), "case {case}: the audit log does not name {reason:?}:\n{}", self.daemon_log);
    }

    /// Asserts an approval.
    pub fn assert_approved(&self, case: &str) {
        assert!(self.success, "case {case}: the login failed\n{}\n{}", self.pam_output, self.daemon_log);
        assert!(self.daemon_log.contains("event=login_approved"), "case {case}: no login_approved line:\n{}", self.daemon_log);
    }

    /// Asserts PAM_AUTHINFO_UNAVAIL with an audit line naming `reason`.
    pub fn assert_unavailable(&self, case: &str, reason: &str) {
        assert!(!self.success, "case {case}: the login was accepted\n{}\n{}", self.pam_output, self.daemon_log);
        assert!(self.pam_output.contains(AUTHINFO_UNAVAIL), "case {case}: expected PAM_AUTHINFO_UNAVAIL:\n{}", self.pam_output);
        assert!(self.daemon_log.contains("event=login_unavailable"), "case {case}: no login_unavailable line:\n{}", self.daemon_log);
        assert!(self.daemon_log.contains(reason), "case {case}: the audit log does not name {reason:?}:\n{}", self.daemon_log);
    }
}

/// Extra daemon settings for one case.
#[derive(Default)]
pub struct Extra<'a> {
    pub provider: &'a str,
    pub tables: &'a str,
}

/// Starts a daemon for `issuer` with the hostile defaults plus `extra`.
pub fn start_daemon(issuer: &str, extra: &Extra, session_lifetime_secs: u64) -> TestDaemon {
    let settings = DaemonSettings {
        session_lifetime_secs,
        extra_provider: format!("{BASE_PROVIDER}{}", extra.provider),
        extra_tables: extra.tables.to_owned(),
        ..Default::default()
    };
    TestDaemon::start(issuer, settings)
}

pub fn services_for(daemon: &TestDaemon) -> PamServices {
    PamServices::new(SERVICE, &format!("socket={} timeout=60", daemon.socket.display()))
}

/// Upper bound on the wait for a prompt or a verdict. It is generous because the tests
/// may share 2 cores with builds; no test asserts speed with it.
const LOGIN_WAIT: Duration = Duration::from_secs(120);

/// Remote host of the logins that need a verified session, which is bound to a source.
pub const REMOTE_HOST: &str = "192.0.2.10";

/// Runs one login as `user` with pamtester: presses Enter when the prompt shows, and
/// returns when pamtester exits and the daemon has logged its verdict.
pub fn run_login(daemon: &TestDaemon, services: &PamServices, user: &str) -> LoginResult {
    drive_login(daemon, PamLogin::start(services, SERVICE, user), user)
}

/// Runs one login as `user` from [`REMOTE_HOST`] with tests/pam_client.py, so that an
/// approval starts a verified session.
pub fn run_remote_login(daemon: &TestDaemon, services: &PamServices, user: &str) -> LoginResult {
    drive_login(daemon, PamLogin::start_client(services, SERVICE, user, &["--rhost", REMOTE_HOST]), user)
}

fn drive_login(daemon: &TestDaemon, mut login: PamLogin, user: &str) -> LoginResult {
    let verdicts_before = daemon.log().count("event=login_");
    let started = Instant::now();

    loop {
        if login.output().text().contains("press Enter") {
            login.press_enter();
            break;
        }
        if daemon.log().count("event=login_") > verdicts_before {
            break;
        }
        assert!(started.elapsed() < LOGIN_WAIT, "no prompt and no verdict for {user}:\n{}\n{}", login.output().text(), daemon.log().text());
        thread::sleep(Duration::from_millis(20));
    }

    let (status, pam_output) = login.finish();
    let elapsed = started.elapsed();
    // The audit line is written before the verdict is sent, so it is there by now.
    LoginResult { success: status.success(), pam_output, daemon_log: daemon.log().text(), elapsed }
}

/// Starts a provider with `scenario` and a daemon, and runs one login as alice.
pub fn login_with(scenario: &str, extra: &Extra) -> (HostileProvider, LoginResult) {
    let provider = HostileProvider::start(scenario);
    let daemon = start_daemon(&provider.issuer, extra, 0);
    let services = services_for(&daemon);
    let result = run_login(&daemon, &services, "alice");
    (provider, result)
}
