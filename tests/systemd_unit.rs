//! systemd/ultraauthd.service: its exposure score and `systemd-analyze verify`.
//!
//! systemd need not run as PID 1: both commands read the unit file offline.

mod common;

use std::path::PathBuf;
use std::process::Command;

/// Highest exposure `systemd-analyze security` may report, in its own scale of 0.0
/// (hardened) to 10.0 (unprotected).
const MAX_EXPOSURE: f64 = 2.0;

fn unit_source() -> String {
    std::fs::read_to_string(common::repo_root().join("systemd/ultraauthd.service")).unwrap()
}

/// Writes a copy of the unit whose ExecStart is the daemon built for the tests, because
/// `systemd-analyze verify` rejects a unit whose binary is missing.
fn unit_with_built_binary(dir: &tempfile::TempDir) -> PathBuf {
    let source = unit_source();
    assert!(source.contains("ExecStart=/usr/sbin/ultraauthd "), "ExecStart changed:\n{source}");
    let path = dir.path().join("ultraauthd.service");
    std::fs::write(&path, source.replace("/usr/sbin/ultraauthd", common::daemon_path().to_str().unwrap())).unwrap();
    path
}

#[test]
fn unit_exposure_at_most_2() {
    let dir = tempfile::tempdir().unwrap();
    let unit = unit_with_built_binary(&dir);

    // --threshold counts in tenths: 20 is an exposure of 2.0.
    let threshold = format!("--threshold={}", (MAX_EXPOSURE * 10.0) as u32);
    let output = Command::new("systemd-analyze").args(["security", "--offline=yes", &threshold]).arg(&unit).output().expect("run systemd-analyze (apt-get install systemd)");
    let report = String::from_utf8_lossy(&output.stdout);

    let line = report.lines().find(|line| line.contains("Overall exposure level")).unwrap_or_else(|| panic!("no exposure line:\n{report}"));
    let exposure: f64 = line.split(": ").nth(1).and_then(|rest| rest.split_whitespace().next()).and_then(|value| value.parse().ok()).unwrap_or_else(|| panic!("unreadable: {line}"));
    println!("{line}");
    assert!(exposure <= MAX_EXPOSURE, "{line}\n{report}");
    assert!(output.status.success(), "systemd-analyze security failed its threshold:\n{report}{}", String::from_utf8_lossy(&output.stderr));
}

#[test]
fn unit_verify_prints_no_warning() {
    let dir = tempfile::tempdir().unwrap();
    let unit = unit_with_built_binary(&dir);

    let output = Command::new("systemd-analyze").args(["verify", "--man=no"]).arg(&unit).output().expect("run systemd-analyze");
    let stderr = String::from_utf8_lossy(&output.stderr);

    assert!(output.status.success(), "{stderr}");
    assert!(stderr.trim().is_empty(), "systemd-analyze verify warned:\n{stderr}");
}

#[test]
fn unit_runs_unprivileged_with_notify_and_reload() {
    let source = unit_source();
    for line in ["Type=notify", "User=ultraauth", "Group=ultraauth", "ExecReload=/bin/kill -HUP $MAINPID", "RuntimeDirectory=ultraauth", "NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes", "CapabilityBoundingSet="] {
        assert!(source.lines().any(|unit_line| unit_line == line), "{line} is missing from the unit");
    }
    assert!(source.contains("SystemCallFilter=@system-service"), "no system call filter");
}
