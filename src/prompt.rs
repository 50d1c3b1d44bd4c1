//! Text shown to the user through the PAM conversation.
//!
//! OpenSSH shows a PAM_TEXT_INFO message only together with the next prompt, so the URL
//! and the code go into the prompt itself, which ends "then press Enter".

use crate::flows::device::DeviceAuthorization;

/// Builds the device-flow prompt. It names the user, host and service, so a user who
/// receives a code from someone else (device-code phishing) can see it is not theirs.
pub fn device_prompt(authorization: &DeviceAuthorization, user: &str, host: &str, service: &str) -> String {
    let mut text = format!("UltraAuth verification for {user} on {host} ({service})\n");

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
        let text = device_prompt(&authorization(None), "alice", "login1", "sshd");
        assert!(text.contains("https://srv.qryp.to/op/device"));
        assert!(text.contains("WDJB-MJHT"));
        assert!(text.contains("alice on login1 (sshd)"));
        assert!(text.ends_with("press Enter: "));
        assert!(!text.contains("secret-device-code"));
    }

    #[test]
    fn prompt_prefers_complete_uri() {
        let text = device_prompt(&authorization(Some("https://srv.qryp.to/op/device?user_code=WDJB-MJHT")), "alice", "login1", "sshd");
        assert!(text.contains("Open https://srv.qryp.to/op/device?user_code=WDJB-MJHT"));
    }

    #[test]
    fn prompt_lines_fit_80_columns() {
        let text = device_prompt(&authorization(None), "alice", "login1.cluster.example.org", "sshd");
        for line in text.lines() {
            assert!(line.chars().count() <= 80, "line too long: {line:?}");
        }
    }
}
