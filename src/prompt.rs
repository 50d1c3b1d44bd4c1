//! Text shown to the user through the PAM conversation.
//!
//! OpenSSH shows a PAM_TEXT_INFO message only together with the next prompt, so the URL
//! and the code go into the prompt itself, which ends "then press Enter".

use crate::config::DEFAULT_PROMPT_HEADER;
use crate::flows::device::DeviceAuthorization;
use crate::qr::render_qr;

/// Per-service options of the device prompt.
pub struct PromptOptions<'a> {
    /// First line, with `{user}`, `{host}` and `{service}`.
    pub header: &'a str,
    /// Whether to draw the URL as a QR code above the text.
    pub qr: bool,
}

impl Default for PromptOptions<'_> {
    fn default() -> Self {
        PromptOptions { header: DEFAULT_PROMPT_HEADER, qr: false }
    }
}

/// Builds the device-flow prompt. It names the user, host and service, so a user who
/// receives a code from someone else (device-code phishing) can see it is not theirs.
pub fn device_prompt(authorization: &DeviceAuthorization, user: &str, host: &str, service: &str, options: &PromptOptions) -> String {
    let mut text = String::new();
    if options.qr {
        let target = authorization.verification_uri_complete.as_deref().unwrap_or(&authorization.verification_uri);
        if let Some(drawing) = render_qr(target) {
            text.push_str(&drawing);
        }
    }

    let header = options.header.replace("{user}", user).replace("{host}", host).replace("{service}", service);
    text.push_str(&header);
    text.push('\n');

    match &authorization.verification_uri_complete {
        Some(complete) => {
            text.push_str(&format!("Open {complete}\n"));
            text.push_str(&format!("and check that it shows the code {}.\n", authorization.user_code));
        }
        None => {
            text.push_str(&format!("Open {}\n", authorization.verification_uri));
            text.push_str(&format!("and enter the code {}.\n", authorization.user_code));
        }
    }

    text.push_str("Approve only a login you started yourself. Then press Enter: ");
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use zeroize::Zeroizing;

    fn authorization(complete: Option<&str>) -> DeviceAuthorization {
        DeviceAuthorization {
            device_code: Zeroizing::new("secret-device-code".into()),
            user_code: "WDJB-MJHT".into(),
            verification_uri: "https://srv.qryp.to/op/device".into(),
            verification_uri_complete: complete.map(String::from),
            expires_in: Duration::from_secs(600),
            interval: Duration::from_secs(5),
        }
    }

    #[test]
    fn prompt_names_code_uri_user_and_host() {
        let text = device_prompt(&authorization(None), "alice", "login1", "sshd", &PromptOptions::default());
        assert!(text.contains("https://srv.qryp.to/op/device"));
        assert!(text.contains("WDJB-MJHT"));
        assert!(text.contains("alice on login1 (sshd)"));
        assert!(text.ends_with("press Enter: "));
        assert!(!text.contains("secret-device-code"));
    }

    #[test]
    fn prompt_prefers_complete_uri() {
        let text = device_prompt(&authorization(Some("https://srv.qryp.to/op/device?user_code=WDJB-MJHT")), "alice", "login1", "sshd", &PromptOptions::default());
        assert!(text.contains("Open https://srv.qryp.to/op/device?user_code=WDJB-MJHT"));
    }

    #[test]
    fn prompt_lines_fit_80_columns() {
        let text = device_prompt(&authorization(None), "alice", "login1.cluster.example.org", "sshd", &PromptOptions::default());
        for line in text.lines() {
            assert!(line.chars().count() <= 80, "line too long: {line:?}");
        }
    }

    #[test]
    fn prompt_with_qr_fits_80_by_24() {
        let options = PromptOptions { qr: true, ..Default::default() };
        let complete = "https://srv.qryp.to/op/device?user_code=WDJB-MJHT";
        let text = device_prompt(&authorization(Some(complete)), "alice", "login1.cluster.example.org", "sshd", &options);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines.len() <= 23, "{} lines leave no room for the reply line", lines.len());
        assert!(lines.iter().all(|line| line.chars().count() <= 80));
        assert!(text.contains('▀') || text.contains('▄'), "no QR drawn");
        assert!(text.ends_with("press Enter: "));
    }

    #[test]
    fn prompt_header_template() {
        let options = PromptOptions { header: "Login to {host} as {user} via {service}", qr: false };
        let text = device_prompt(&authorization(None), "alice", "login1", "sshd", &options);
        assert!(text.starts_with("Login to login1 as alice via sshd\n"), "{text}");
    }
}
