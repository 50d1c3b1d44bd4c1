//! The PAM module stays thin: no network, TLS or async runtime inside the PAM application.

mod common;

use std::process::Command;

/// Crates that must never reach pam_ultraauth.so.
const FORBIDDEN_CRATES: &[&str] = &["reqwest", "tokio", "rustls", "openidconnect", "hyper", "oauth2", "aws-lc-rs", "ring"];

/// Shared libraries the module may link: libpam, libc, the unwinder and the loader.
const ALLOWED_NEEDED: &[&str] = &["libpam.so.0", "libc.so.6", "libgcc_s.so.1", "ld-linux-x86-64.so.2", "libm.so.6"];

#[test]
fn module_dependency_tree_has_no_network_crates() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args(["tree", "-p", "pam_ultraauth", "-e", "normal,build", "--prefix", "none"])
        .current_dir(common::repo_root())
        .output()
        .expect("run cargo tree");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let tree = String::from_utf8_lossy(&output.stdout);

    assert!(tree.contains("pam-bindings"), "unexpected tree:\n{tree}");
    for line in tree.lines() {
        let name = line.split_whitespace().next().unwrap_or_default();
        assert!(!FORBIDDEN_CRATES.contains(&name), "pam_ultraauth depends on {name}:\n{tree}");
    }
}

#[test]
fn module_needed_entries_are_minimal() {
    let output = Command::new("readelf").arg("-d").arg(common::module_path()).output().expect("run readelf (binutils)");
    let dynamic = String::from_utf8_lossy(&output.stdout);

    let needed: Vec<&str> = dynamic
        .lines()
        .filter(|line| line.contains("(NEEDED)"))
        .filter_map(|line| line.split('[').nth(1)?.split(']').next())
        .collect();

    assert!(needed.contains(&"libpam.so.0"), "{dynamic}");
    for library in &needed {
        assert!(ALLOWED_NEEDED.contains(library), "pam_ultraauth.so needs {library}: {needed:?}");
    }
}

#[test]
fn module_exports_pam_entry_points() {
    let output = Command::new("nm").args(["-D", "--defined-only"]).arg(common::module_path()).output().expect("run nm (binutils)");
    let symbols = String::from_utf8_lossy(&output.stdout);
    for entry in ["pam_sm_authenticate", "pam_sm_setcred"] {
        assert!(symbols.contains(entry), "{entry} is not exported");
    }
}
