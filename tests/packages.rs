//! The packages that packaging/build-packages.sh builds, which tests/run.sh runs first.
//! The .deb is installed with dpkg, used for a login through the installed module and
//! purged. The .rpm is inspected with rpm, and the man pages are rendered.
//!
//! The .deb test changes the system (dpkg, /usr, /etc/ultraauth), so it needs root and
//! purges the package again on every exit path.

mod common;
mod ops;

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::{PamLogin, PamServices, TestProvider, repo_root};
use ops::{Daemon, config_text};

const PACKAGE: &str = "ultraauth";
const SERVICE: &str = "ultraauth-pkg-test";

const INSTALLED_MODULE: &str = "/usr/lib/x86_64-linux-gnu/security/pam_ultraauth.so";
const INSTALLED_DAEMON: &str = "/usr/sbin/ultraauthd";
const INSTALLED_CTL: &str = "/usr/bin/ultraauthctl";
const INSTALLED_CONFIG: &str = "/etc/ultraauth/ultraauthd.toml";
const INSTALLED_UNIT: &str = "/usr/lib/systemd/system/ultraauthd.service";
const INSTALLED_PROFILE: &str = "/usr/share/pam-configs/ultraauth";

/// Returns the newest file in `dir` under the target directory whose name ends with
/// `suffix`. The target directory is the one this test binary was built in
/// (target/debug/deps/packages-HASH), so CARGO_TARGET_DIR is honoured as cargo-deb does.
fn newest_package(dir: &str, suffix: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let target = exe.ancestors().nth(3).expect("target directory");
    let dir = target.join(dir);
    let found = std::fs::read_dir(&dir).ok().into_iter().flatten().filter_map(Result::ok).map(|entry| entry.path()).filter(|path| path.to_string_lossy().ends_with(suffix));
    let newest = found.max_by_key(|path| std::fs::metadata(path).and_then(|metadata| metadata.modified()).ok());
    newest.unwrap_or_else(|| panic!("no *{suffix} in {}: run `bash packaging/build-packages.sh` first (tests/run.sh does it)", dir.display()))
}

fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program).args(args).output().unwrap_or_else(|err| panic!("run {program}: {err}"))
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// Runs dpkg, waiting up to a minute while another dpkg or apt holds the lock.
fn dpkg(args: &[&str]) -> Output {
    let start = Instant::now();
    loop {
        let output = run("dpkg", args);
        let locked = text(&output).contains("lock");
        if output.status.success() || !locked || start.elapsed() > Duration::from_secs(60) {
            return output;
        }
        std::thread::sleep(Duration::from_secs(2));
    }
}

fn is_installed() -> bool {
    let output = run("dpkg-query", &["-W", "-f=${Status}", PACKAGE]);
    String::from_utf8_lossy(&output.stdout).contains("install ok installed")
}

/// Returns every regular file under /etc/pam.d with its contents.
fn pam_d_snapshot() -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir("/etc/pam.d").unwrap().filter_map(Result::ok) {
        let path = entry.path();
        if path.is_file() {
            files.insert(path.clone(), std::fs::read(&path).unwrap());
        }
    }
    files
}

/// Purges the package when dropped, so a failed assertion leaves no package behind.
struct Installed;

impl Drop for Installed {
    fn drop(&mut self) {
        if is_installed() || run("dpkg-query", &["-W", PACKAGE]).status.success() {
            let output = dpkg(&["--purge", PACKAGE]);
            if !output.status.success() {
                eprintln!("dpkg --purge {PACKAGE} failed:\n{}", text(&output));
            }
        }
    }
}

fn uid_of(name: &str) -> Option<(u32, u32)> {
    nix::unistd::User::from_name(name).ok().flatten().map(|user| (user.uid.as_raw(), user.gid.as_raw()))
}

/// Starts /usr/sbin/ultraauthd as the package's system user with a test configuration
/// in a directory that user owns.
fn start_installed_daemon(issuer: &str) -> Daemon {
    let (uid, gid) = uid_of("ultraauth").expect("the package created the user ultraauth");
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("client_secret");
    std::fs::write(&secret, "test-secret-change-me\n").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let config = dir.path().join("ultraauthd.toml");
    std::fs::write(&config, config_text(issuer, dir.path(), "")).unwrap();
    for path in [dir.path(), &secret, &config] {
        std::os::unix::fs::chown(path, Some(uid), Some(gid)).unwrap();
    }
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();

    let mut command = Command::new("runuser");
    command.args(["-u", "ultraauth", "--", INSTALLED_DAEMON, "--config", config.to_str().unwrap(), "--no-syslog"]);
    Daemon::spawn(command, dir, config, &[])
}

fn assert_installed_files() {
    for path in [INSTALLED_MODULE, INSTALLED_DAEMON, INSTALLED_CTL, INSTALLED_CONFIG, INSTALLED_UNIT, INSTALLED_PROFILE] {
        assert!(Path::new(path).exists(), "{path} is missing after dpkg -i");
    }
    for page in ["man8/pam_ultraauth.8.gz", "man8/ultraauthd.8.gz", "man8/ultraauthctl.8.gz", "man5/ultraauthd.toml.5.gz"] {
        assert!(Path::new("/usr/share/man").join(page).exists(), "man page {page} is missing");
    }
    for doc in ["README.md", "logging.md", "examples/pam.d/sshd-ultraauth", "examples/jupyterhub/jupyterhub_config.py"] {
        assert!(Path::new("/usr/share/doc/ultraauth").join(doc).exists(), "doc {doc} is missing");
    }

    let config = std::fs::metadata(INSTALLED_CONFIG).unwrap();
    assert_eq!(config.mode() & 0o777, 0o640, "config mode");
    assert_eq!(config.uid(), 0, "config owner");
    assert_eq!(Some(config.gid()), uid_of("ultraauth").map(|(_, gid)| gid), "config group");
    let conffiles = String::from_utf8_lossy(&run("dpkg-query", &["-W", "-f=${Conffiles}", PACKAGE]).stdout).into_owned();
    assert!(conffiles.contains(INSTALLED_CONFIG), "not a conffile: {conffiles}");

    let profile = std::fs::read_to_string(INSTALLED_PROFILE).unwrap();
    assert!(profile.lines().any(|line| line == "Default: no"), "{profile}");

    let passwd = String::from_utf8_lossy(&run("getent", &["passwd", "ultraauth"]).stdout).into_owned();
    assert!(passwd.trim_end().ends_with(":/usr/sbin/nologin"), "{passwd}");
    let (uid, _) = uid_of("ultraauth").unwrap();
    assert!(uid < 1000, "ultraauth has uid {uid}, not a system uid");
}

/// Logs alice in through the installed module against the installed daemon.
fn login_through_installed_module() {
    let provider = TestProvider::start(&[]);
    let daemon = start_installed_daemon(&provider.issuer);
    let services_dir = tempfile::tempdir().unwrap();
    std::fs::write(services_dir.path().join(SERVICE), format!("auth required {INSTALLED_MODULE} socket={} timeout=60\n", daemon.socket.display())).unwrap();
    std::fs::write(services_dir.path().join("other"), "auth required pam_deny.so\n").unwrap();
    let services = PamServices { dir: services_dir };

    let mut login = PamLogin::start(&services, SERVICE, "alice");
    let code = login.wait_for_user_code();
    provider.approve_device(&code, "alice", false);
    login.press_enter();
    let (status, output) = login.finish();
    assert!(status.success(), "login through the installed module failed:\n{output}\ndaemon:\n{}", daemon.log.text());
    let log = daemon.log.wait_for("event=login_approved");
    assert!(log.contains("event=login_approved user=alice"), "{log}");

    let status = run(INSTALLED_CTL, &["--socket", daemon.socket.to_str().unwrap(), "--json", "status"]);
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["running"], true, "{status}");
    assert_eq!(status["pending_logins"], 0, "{status}");

    // As root, check reads the files as the daemon's user, which owns the secret.
    let check = Command::new(INSTALLED_CTL).arg("--config").arg(&daemon.config).arg("check").output().unwrap();
    assert!(check.status.success(), "ultraauthctl check failed:\n{}", text(&check));
    assert!(text(&check).contains("read as user ultraauth"), "{}", text(&check));

    // A secret the daemon's user cannot read is the error the service would hit.
    let secret = daemon.dir.path().join("client_secret");
    std::os::unix::fs::chown(&secret, Some(0), Some(0)).unwrap();
    let check = Command::new(INSTALLED_CTL).arg("--config").arg(&daemon.config).arg("check").output().unwrap();
    assert_eq!(check.status.code(), Some(2), "{}", text(&check));
    assert!(text(&check).contains("Permission denied"), "{}", text(&check));
}

#[test]
fn deb_installs_logs_in_and_purges() {
    let deb = newest_package("debian", "_amd64.deb");
    let _cleanup = Installed;
    if is_installed() {
        assert!(dpkg(&["--purge", PACKAGE]).status.success(), "purging an earlier install failed");
    }
    let pam_d_before = pam_d_snapshot();

    let install = dpkg(&["-i", deb.to_str().unwrap()]);
    assert!(install.status.success(), "dpkg -i failed:\n{}", text(&install));
    assert_installed_files();
    assert!(pam_d_snapshot() == pam_d_before, "installing changed /etc/pam.d");

    login_through_installed_module();

    let purge = dpkg(&["--purge", PACKAGE]);
    assert!(purge.status.success(), "dpkg --purge failed:\n{}", text(&purge));
    assert!(!is_installed());
    for path in [INSTALLED_MODULE, INSTALLED_DAEMON, INSTALLED_CTL, INSTALLED_UNIT, INSTALLED_PROFILE, "/etc/ultraauth"] {
        assert!(!Path::new(path).exists(), "{path} is left after dpkg --purge");
    }
    assert!(pam_d_snapshot() == pam_d_before, "the package left /etc/pam.d changed");
    assert!(uid_of("ultraauth").is_some(), "purge removed the system user, which Debian policy keeps");
}

#[test]
fn rpm_lists_files_and_requirements() {
    let rpm = newest_package("generate-rpm", ".x86_64.rpm");
    let rpm = rpm.to_str().unwrap();

    let files = text(&run("rpm", &["-qlp", rpm]));
    for path in ["/usr/lib64/security/pam_ultraauth.so", "/usr/sbin/ultraauthd", "/usr/bin/ultraauthctl", "/etc/ultraauth/ultraauthd.toml", "/usr/lib/systemd/system/ultraauthd.service", "/usr/share/man/man8/pam_ultraauth.8", "/usr/share/man/man5/ultraauthd.toml.5", "/usr/share/doc/ultraauth/logging.md"] {
        assert!(files.lines().any(|line| line == path), "{path} is missing from the RPM:\n{files}");
    }
    assert!(!files.contains("x86_64-linux-gnu"), "Debian path in the RPM:\n{files}");

    let config_files = text(&run("rpm", &["-qcp", rpm]));
    assert!(config_files.lines().any(|line| line == "/etc/ultraauth/ultraauthd.toml"), "{config_files}");

    let requires = text(&run("rpm", &["-qRp", rpm]));
    for requirement in ["pam", "shadow-utils", "systemd", "libpam.so.0()(64bit)", "libc.so.6()(64bit)"] {
        assert!(requires.lines().any(|line| line.trim() == requirement || line.starts_with(&format!("{requirement} "))), "{requirement} is missing from the requirements:\n{requires}");
    }

    let scripts = text(&run("rpm", &["-qp", "--scripts", rpm]));
    assert!(scripts.contains("useradd --system"), "{scripts}");
}

#[test]
fn man_pages_render_without_warnings() {
    let pages = ["pam_ultraauth.8", "ultraauthd.8", "ultraauthctl.8", "ultraauthd.toml.5"];
    for page in pages {
        let path = repo_root().join("packaging/man").join(page);
        let groff = Command::new("groff").args(["-man", "-Tutf8", "-ww", "-z"]).arg(&path).output().expect("run groff");
        let warnings = String::from_utf8_lossy(&groff.stderr);
        assert!(groff.status.success(), "{page}: {warnings}");
        assert!(warnings.trim().is_empty(), "{page} has groff warnings:\n{warnings}");

        let man = Command::new("man").arg("-l").arg(&path).env("MANWIDTH", "80").env("MAN_KEEP_STDERR", "1").output().expect("run man");
        assert!(man.status.success(), "man -l {page} failed: {}", String::from_utf8_lossy(&man.stderr));
        assert!(String::from_utf8_lossy(&man.stdout).contains("SEE ALSO"), "{page} rendered without SEE ALSO");
    }
}
