//! Identity mapping safety: the sub map file, groups, and one sub per local user.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use crate::common::daemon_path;
use crate::harness::{Extra, HostileProvider, login_with, run_login, services_for, start_daemon};

/// Writes a map file with mode 644 into `dir` and returns its path.
fn write_map(dir: &std::path::Path, text: &str) -> std::path::PathBuf {
    let path = dir.join("sub-map");
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    path
}

#[test]
fn map_file_maps_sub_not_claim() {
    let dir = tempfile::tempdir().unwrap();
    let map = write_map(dir.path(), "# sub local_user\nhostile-sub-alice alice\n");
    let tables = format!("[mapping]\nmap_file = \"{}\"\n", map.display());

    // The token claims preferred_username root; only the sub decides.
    let (_provider, result) = login_with(r#"{"claims": {"preferred_username": "root"}}"#, &Extra { tables: &tables, ..Default::default() });
    result.assert_approved("map_file_maps_sub_not_claim");
}

#[test]
fn map_file_unknown_sub_is_denied() {
    let dir = tempfile::tempdir().unwrap();
    let map = write_map(dir.path(), "hostile-sub-alice alice\n");
    let tables = format!("[mapping]\nmap_file = \"{}\"\n", map.display());

    let (_provider, result) = login_with(r#"{"claims": {"sub": "stranger"}}"#, &Extra { tables: &tables, ..Default::default() });
    result.assert_denied("map_file_unknown_sub_is_denied", "not listed in mapping.map_file");
}

/// Runs `ultraauthd --check` on a configuration with `mapping_keys`; returns its stderr.
fn check_fails(dir: &std::path::Path, mapping_keys: &str) -> String {
    let config = dir.join("ultraauthd.toml");
    let source = format!(
        "[provider]\nissuer = \"http://127.0.0.1:9/op\"\nclient_id = \"ultraauth-test\"\n\n[socket]\npath = \"{}\"\n\n[mapping]\n{mapping_keys}\n",
        dir.join("ultraauthd.sock").display()
    );
    std::fs::write(&config, source).unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();

    let output = Command::new(daemon_path()).args(["--check", "--config"]).arg(&config).output().unwrap();
    assert!(!output.status.success(), "--check accepted {mapping_keys}");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn map_file_duplicates_stop_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let map = write_map(dir.path(), "sub-a alice\nsub-b alice\n");
    let stderr = check_fails(dir.path(), &format!("map_file = \"{}\"", map.display()));
    assert!(stderr.contains("two provider identities may not share one local user"), "{stderr}");

    let map = write_map(dir.path(), "sub-a alice\nsub-a bob\n");
    let stderr = check_fails(dir.path(), &format!("map_file = \"{}\"", map.display()));
    assert!(stderr.contains("each sub may appear once"), "{stderr}");

    let map = write_map(dir.path(), "sub-a root;id\n");
    let stderr = check_fails(dir.path(), &format!("map_file = \"{}\"", map.display()));
    assert!(stderr.contains("may not contain"), "{stderr}");
}

#[test]
fn map_file_writable_by_others_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let map = write_map(dir.path(), "sub-a alice\n");
    std::fs::set_permissions(&map, std::fs::Permissions::from_mode(0o666)).unwrap();
    let stderr = check_fails(dir.path(), &format!("map_file = \"{}\"", map.display()));
    assert!(stderr.contains("every local user can write it"), "{stderr}");
}

#[test]
fn second_sub_for_same_user_is_denied() {
    let provider = HostileProvider::start(r#"{"sub_sequence": ["first-sub", "second-sub"]}"#);
    let dir = tempfile::tempdir().unwrap();
    let bindings = dir.path().join("bindings");
    let tables = format!("[mapping]\nbindings_file = \"{}\"\n", bindings.display());
    let daemon = start_daemon(&provider.issuer, &Extra { tables: &tables, ..Default::default() }, 0);
    let services = services_for(&daemon);

    run_login(&daemon, &services, "alice").assert_approved("first sub");
    let result = run_login(&daemon, &services, "alice");

    result.assert_denied("second_sub_for_same_user_is_denied", "identity conflict");
    assert!(result.daemon_log.contains("error event=identity_conflict user=alice sub=second-sub bound_sub=first-sub"), "{}", result.daemon_log);
    let saved = std::fs::read_to_string(&bindings).unwrap();
    assert!(saved.contains("alice \"first-sub\""), "{saved}");
}

#[test]
fn binding_survives_daemon_restart() {
    let dir = tempfile::tempdir().unwrap();
    let bindings = dir.path().join("bindings");
    std::fs::write(&bindings, "alice \"someone-before\"\n").unwrap();
    std::fs::set_permissions(&bindings, std::fs::Permissions::from_mode(0o600)).unwrap();
    let tables = format!("[mapping]\nbindings_file = \"{}\"\n", bindings.display());

    let (_provider, result) = login_with("{}", &Extra { tables: &tables, ..Default::default() });
    result.assert_denied("binding_survives_daemon_restart", "bound to sub \\\"someone-before\\\"");
}

#[test]
fn allowed_groups_deny_non_member() {
    let tables = "[mapping]\nallowed_groups = [\"hpc-users\"]\n";
    let (_provider, result) = login_with(r#"{"claims": {"groups": ["staff"]}}"#, &Extra { tables, ..Default::default() });
    result.assert_denied("allowed_groups_deny_non_member", "none of the groups");

    let (_provider, result) = login_with(r#"{"claims": {"groups": ["staff", "hpc-users"]}}"#, &Extra { tables, ..Default::default() });
    result.assert_approved("allowed_groups member");
}

#[test]
fn groups_from_custom_claim_via_userinfo() {
    let tables = "[mapping]\ngroups_claim = \"roles\"\nallowed_groups = [\"hpc-users\"]\n";
    let scenario = r#"{"userinfo": {"sub": "hostile-sub-alice", "roles": ["hpc-users"]}}"#;
    let (provider, result) = login_with(scenario, &Extra { tables, ..Default::default() });
    result.assert_approved("groups_from_custom_claim_via_userinfo");
    assert_eq!(provider.log().count("GET /op/me"), 1, "{}", provider.log().text());
}
