//! The browser-callback flow with one-time codes, and push (CIBA), through real libpam.

mod common;

use common::{DaemonSettings, PamLogin, PamServices, TestDaemon, TestProvider, free_port, header_value, http_get};

const PAM_SUCCESS: i32 = 0;
const PAM_AUTH_ERR: i32 = 7;

/// A provider, a daemon with the web listener and PAM services for both flows.
struct Setup {
    provider: TestProvider,
    daemon: TestDaemon,
    services: PamServices,
    public_url: String,
}

fn setup(code_lifetime_secs: u64) -> Setup {
    let port = free_port();
    let public_url = format!("http://127.0.0.1:{port}");
    let redirect_uri = format!("{public_url}/callback");
    let provider = TestProvider::start(&[("OP_REDIRECT_URIS", redirect_uri.as_str())]);

    let tables = format!(
        "[web]\nlisten = \"127.0.0.1:{port}\"\npublic_url = \"{public_url}\"\ncode_lifetime_secs = {code_lifetime_secs}\nmax_code_attempts = 3\n\n\
         [services.hub-code]\nflow = \"code\"\nsession_lifetime_secs = 0\n\n[services.hub-push]\nflow = \"push\"\nsession_lifetime_secs = 0\n\n\
         [services.hub-sessions]\nflow = \"code\"\nsession_lifetime_secs = 300\n"
    );
    let daemon = TestDaemon::start(&provider.issuer, DaemonSettings { extra_tables: tables, ..Default::default() });
    daemon.log().wait_for("event=web_listening");

    let module = format!("socket={} timeout=60", daemon.socket.display());
    let services = PamServices::new("hub-code", &module);
    for name in ["hub-push", "hub-sessions"] {
        std::fs::write(services.dir.path().join(name), format!("auth required {} {module}\n", common::module_path().display())).unwrap();
    }
    Setup { provider, daemon, services, public_url }
}

/// Runs /start, the provider's login as `username` and the callback; returns the code page.
fn browser_verification(setup: &Setup, username: &str) -> String {
    let (status, head, _) = http_get(&format!("{}/start", setup.public_url));
    assert_eq!(status, 302, "{head}");
    let authorize = header_value(&head, "location").expect("Location header");
    assert!(authorize.contains("code_challenge_method=S256"), "{authorize}");
    assert!(authorize.contains("prompt=login"), "{authorize}");

    let callback = setup.provider.approve_authorization(&authorize, username);
    assert!(callback.starts_with(&format!("{}/callback?", setup.public_url)), "{callback}");

    let (status, head, body) = http_get(&callback);
    assert_eq!(status, 200, "{head}{body}\n{}", setup.daemon.log().text());
    assert_eq!(header_value(&head, "cache-control").as_deref(), Some("no-store"));
    body
}

fn code_from_page(body: &str) -> String {
    let start = body.find("id=\"ultraauth-code\">").expect("code on the page") + "id=\"ultraauth-code\">".len();
    body[start..].chars().take_while(|c| *c != '<').collect()
}

fn redeem(setup: &Setup, user: &str, code: &str) -> (Option<i32>, String) {
    let (status, output) = PamLogin::start_client(&setup.services, "hub-code", user, &["--reply", code]).finish();
    (status.code(), output)
}

#[test]
fn code_flow_redeems_once() {
    let setup = setup(120);
    let page = browser_verification(&setup, "alice");
    assert!(page.contains("id=\"ultraauth-user\">alice<"), "{page}");
    let code = code_from_page(&page);
    assert_eq!(code.len(), 9, "{code}");

    let (status, output) = redeem(&setup, "alice", &code);
    assert_eq!(status, Some(PAM_SUCCESS), "{output}\n{}", setup.daemon.log().text());
    assert!(output.contains("ECHO_OFF: "), "the code must be asked with a hidden prompt:\n{output}");

    let (status, output) = redeem(&setup, "alice", &code);
    assert_eq!(status, Some(PAM_AUTH_ERR), "a used code was accepted again:\n{output}");

    let log = setup.daemon.log().text();
    assert!(log.contains("event=one_time_code_issued user=alice"), "{log}");
    assert!(!log.contains(&code), "the audit log shows the one-time code:\n{log}");
}

#[test]
fn session_needs_a_source_to_bind_to() {
    // pamela sets neither PAM_RHOST nor PAM_TTY: a verified session bound to the user
    // name alone would let any password in after one real login.
    let setup = setup(120);
    let code = code_from_page(&browser_verification(&setup, "alice"));

    let (status, output) = PamLogin::start_client(&setup.services, "hub-sessions", "alice", &["--reply", &code]).finish();
    assert_eq!(status.code(), Some(PAM_SUCCESS), "{output}");

    let (status, output) = PamLogin::start_client(&setup.services, "hub-sessions", "alice", &["--reply", "not-a-code"]).finish();
    assert_eq!(status.code(), Some(PAM_AUTH_ERR), "a login without a source reused a verified session:\n{output}");
}

#[test]
fn code_of_other_user_is_denied() {
    let setup = setup(120);
    let code = code_from_page(&browser_verification(&setup, "bob"));

    let (status, output) = redeem(&setup, "alice", &code);
    assert_eq!(status, Some(PAM_AUTH_ERR), "{output}");
    assert!(output.contains("one-time code is not valid"), "{output}");

    let (status, output) = redeem(&setup, "bob", &code);
    assert_eq!(status, Some(PAM_SUCCESS), "{output}");
}

#[test]
fn wrong_codes_hit_the_attempt_cap() {
    let setup = setup(120);
    let code = code_from_page(&browser_verification(&setup, "alice"));

    for wrong in ["2222-2222", "3333-3333", "4444-4444"] {
        let (status, output) = redeem(&setup, "alice", wrong);
        assert_eq!(status, Some(PAM_AUTH_ERR), "{output}");
    }
    let (status, output) = redeem(&setup, "alice", &code);
    assert_eq!(status, Some(PAM_AUTH_ERR), "the code survived the attempt cap:\n{output}");
    assert!(setup.daemon.log().text().contains("too many wrong one-time codes"), "{}", setup.daemon.log().text());
}

#[test]
fn expired_code_is_denied() {
    let setup = setup(10);
    let code = code_from_page(&browser_verification(&setup, "alice"));
    std::thread::sleep(std::time::Duration::from_secs(11));

    let (status, output) = redeem(&setup, "alice", &code);
    assert_eq!(status, Some(PAM_AUTH_ERR), "{output}");
}

#[test]
fn callback_state_is_single_use() {
    let setup = setup(120);
    let (_, head, _) = http_get(&format!("{}/start", setup.public_url));
    let authorize = header_value(&head, "location").unwrap();
    let callback = setup.provider.approve_authorization(&authorize, "alice");

    let (status, _, _) = http_get(&callback);
    assert_eq!(status, 200);
    let (status, _, body) = http_get(&callback);
    assert_eq!(status, 400, "a replayed callback was accepted:\n{body}");

    let forged = callback.replace("state=", "state=forged");
    let (status, _, _) = http_get(&forged);
    assert_eq!(status, 400);
}

#[test]
fn web_listener_rejects_bodies_and_methods() {
    let setup = setup(120);
    let output = std::process::Command::new("curl")
        .args(["-sS", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "--data", "x=1"])
        .arg(format!("{}/start", setup.public_url))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&output.stdout), "405");

    let output = std::process::Command::new("curl")
        .args(["-sS", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Transfer-Encoding: chunked", "--data-binary", "x"])
        .args(["-X", "GET"])
        .arg(format!("{}/start", setup.public_url))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&output.stdout), "400");
}

#[test]
fn push_approved_succeeds() {
    let setup = setup(120);
    let login = PamLogin::start_client(&setup.services, "hub-push", "alice", &["--reply", "ignored-password"]);
    setup.provider.answer_push("alice", false);
    let (status, output) = login.finish();

    assert_eq!(status.code(), Some(PAM_SUCCESS), "{output}\n{}", setup.daemon.log().text());
    let log = setup.daemon.log().text();
    assert!(log.contains("event=flow_started user=alice service=hub-push rhost=- flow=push"), "{log}");
    assert!(log.contains("event=login_approved user=alice service=hub-push rhost=- flow=push"), "{log}");
}

#[test]
fn push_denied_fails_promptly() {
    let setup = setup(120);
    let login = PamLogin::start_client(&setup.services, "hub-push", "alice", &[]);
    setup.provider.answer_push("alice", true);
    let denied_at = std::time::Instant::now();
    let (status, output) = login.finish();

    assert_eq!(status.code(), Some(PAM_AUTH_ERR), "{output}");
    assert!(denied_at.elapsed() < std::time::Duration::from_secs(10), "denial took {:?}", denied_at.elapsed());
    assert!(setup.daemon.log().text().contains("access_denied"), "{}", setup.daemon.log().text());
}

#[test]
fn push_without_conversation_still_works() {
    let setup = setup(120);
    let login = PamLogin::start_client(&setup.services, "hub-push", "alice", &["--null-conv"]);
    setup.provider.answer_push("alice", false);
    let (status, output) = login.finish();
    assert_eq!(status.code(), Some(PAM_SUCCESS), "{output}\n{}", setup.daemon.log().text());
}
