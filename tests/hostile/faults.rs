//! Provider faults and daemon faults: every login must fail closed within its time limits,
//! unless a service opted in to failing open.

use std::time::Duration;

use crate::common::free_port;
use crate::harness::{Extra, HostileProvider, SERVICE, login_with, run_login, run_remote_login, services_for, start_daemon};

/// Provider request timeout in the hang cases, in seconds.
const SHORT_TIMEOUT: &str = "request_timeout_secs = 2\n";

/// Generous bound on a failing login; the point is that it ends, not how fast. The
/// slowest case needs about 10 s, for three polls that each time out after 2 s.
const FAIL_WITHIN: Duration = Duration::from_secs(90);

macro_rules! unavailable {
    ($($name:ident: $scenario:expr => $reason:expr;)*) => {$(
        #[test]
        fn $name() {
            let (_provider, result) = login_with($scenario, &Extra { provider: SHORT_TIMEOUT, ..Default::default() });
            result.assert_unavailable(stringify!($name), $reason);
            assert!(result.elapsed < FAIL_WITHIN, "case {}: took {:?}", stringify!($name), result.elapsed);
        }
    )*};
}

unavailable! {
    discovery_hang_times_out: r#"{"fault": {"endpoint": "discovery", "kind": "hang"}}"# => "timed out";
    discovery_500_is_unavailable: r#"{"fault": {"endpoint": "discovery", "kind": "500"}}"# => "HTTP 500";
    discovery_html_is_unavailable: r#"{"fault": {"endpoint": "discovery", "kind": "html"}}"# => "is not a JSON object";
    discovery_10mb_body_is_capped: r#"{"fault": {"endpoint": "discovery", "kind": "huge"}}"# => "larger than 1048576 bytes";
    discovery_wrong_shape_is_unavailable: r#"{"fault": {"endpoint": "discovery", "kind": "shape"}}"# => "discovery document field issuer";
    jwks_10mb_chunked_is_capped: r#"{"fault": {"endpoint": "jwks", "kind": "huge_chunked"}}"# => "larger than 1048576 bytes";
    jwks_wrong_shape_is_unavailable: r#"{"fault": {"endpoint": "jwks", "kind": "shape"}}"# => "no \\\"keys\\\" array";
    device_wrong_shape_is_unavailable: r#"{"fault": {"endpoint": "device", "kind": "shape"}}"# => "no usable device_code";
    token_500_is_unavailable: r#"{"fault": {"endpoint": "token", "kind": "500"}}"# => "polls in a row failed";
    token_hang_times_out: r#"{"fault": {"endpoint": "token", "kind": "hang"}}"# => "timed out";
    token_html_is_unavailable: r#"{"fault": {"endpoint": "token", "kind": "html"}}"# => "is not a JSON object";
}

#[test]
fn token_wrong_shape_is_denied() {
    let (_provider, result) = login_with(r#"{"fault": {"endpoint": "token", "kind": "shape"}}"#, &Extra::default());
    result.assert_denied("token_wrong_shape_is_denied", "no id_token");
}

#[test]
fn userinfo_wrong_shape_is_denied() {
    let scenario = r#"{"claims": {"preferred_username": null}, "fault": {"endpoint": "userinfo", "kind": "shape"}}"#;
    let (_provider, result) = login_with(scenario, &Extra::default());
    result.assert_denied("userinfo_wrong_shape_is_denied", "userinfo sub does not match");
}

#[test]
fn refused_connection_is_unavailable() {
    let issuer = format!("http://127.0.0.1:{}/op", free_port());
    let daemon = start_daemon(&issuer, &Extra::default(), 0);
    let result = run_login(&daemon, &services_for(&daemon), "alice");

    result.assert_unavailable("refused_connection_is_unavailable", "connection failed");
    assert!(result.pam_output.contains("not reachable"), "{}", result.pam_output);
    assert!(result.elapsed < FAIL_WITHIN, "took {:?}", result.elapsed);
}

#[test]
fn failure_mode_open_lets_login_through() {
    let provider = HostileProvider::start("{}");
    let tables = format!("[services.{SERVICE}]\nfailure_mode = \"open\"\n");
    let daemon = start_daemon(&provider.issuer, &Extra { tables: &tables, ..Default::default() }, 300);
    let services = services_for(&daemon);
    run_remote_login(&daemon, &services, "alice").assert_approved("login before the outage");

    // bob has no verified session, and the device authorization request now fails.
    drop(provider);
    let result = run_remote_login(&daemon, &services, "bob");
    assert!(result.success, "{}\n{}", result.pam_output, result.daemon_log);
    assert!(result.daemon_log.contains("ultraauthd: error event=login_failed_open user=bob"), "{}", result.daemon_log);
    assert!(result.daemon_log.contains("WITHOUT verification"), "{}", result.daemon_log);

    // A login let through unverified starts no verified session.
    let again = run_remote_login(&daemon, &services, "bob");
    assert_eq!(again.daemon_log.matches("event=login_failed_open user=bob").count(), 2, "{}", again.daemon_log);
    assert!(!again.daemon_log.contains("user=bob service=ultraauth-hostile rhost=192.0.2.10 flow=session"), "{}", again.daemon_log);
}

#[test]
fn failure_mode_open_needs_one_good_discovery() {
    let issuer = format!("http://127.0.0.1:{}/op", free_port());
    let tables = format!("[services.{SERVICE}]\nfailure_mode = \"open\"\n");
    let daemon = start_daemon(&issuer, &Extra { tables: &tables, ..Default::default() }, 300);

    let result = run_login(&daemon, &services_for(&daemon), "alice");
    result.assert_unavailable("failure_mode_open_needs_one_good_discovery", "discovery has not succeeded since the daemon started");
    assert!(!result.daemon_log.contains("event=login_failed_open"), "{}", result.daemon_log);
}

#[test]
fn failure_mode_open_still_denies_bad_tokens() {
    let tables = format!("[services.{SERVICE}]\nfailure_mode = \"open\"\n");
    let (_provider, result) = login_with(r#"{"tamper": true}"#, &Extra { tables: &tables, ..Default::default() });
    result.assert_denied("failure_mode_open_still_denies_bad_tokens", "signature does not verify");
}

#[test]
fn verified_session_survives_provider_outage() {
    let provider = HostileProvider::start("{}");
    let daemon = start_daemon(&provider.issuer, &Extra::default(), 300);
    let services = services_for(&daemon);
    run_remote_login(&daemon, &services, "alice").assert_approved("first login");

    drop(provider);
    let result = run_remote_login(&daemon, &services, "alice");
    assert!(result.success, "{}\n{}", result.pam_output, result.daemon_log);
    assert!(result.daemon_log.contains("flow=session"), "{}", result.daemon_log);

    // Another user has no session and meets the outage.
    let other = run_remote_login(&daemon, &services, "bob");
    other.assert_unavailable("bob during the outage", "connection failed");
}
