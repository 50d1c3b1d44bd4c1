//! A string that is wiped from memory on drop and never printed.
//!
//! Tokens, device codes, CIBA request ids, PKCE verifiers and the client secret are held
//! in [`Secret`], so a `{:?}` in a log line or a panic message shows `[redacted]`
//! instead of the value.

use std::fmt;
use std::ops::Deref;

use zeroize::Zeroizing;

/// A secret string: zeroed on drop, `[redacted]` in `Debug` and `Display`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    pub fn new(value: String) -> Self {
        Secret(Zeroizing::new(value))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret::new(value)
    }
}

impl From<Zeroizing<String>> for Secret {
    fn from(value: Zeroizing<String>) -> Self {
        Secret(value)
    }
}

impl Deref for Secret {
    type Target = str;

    fn deref(&self) -> &str {
        self.0.as_str()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_debug_and_display_are_redacted() {
        let secret = Secret::new("eyJhbGciOiJSUzI1NiJ9.payload.signature".into());
        assert_eq!(format!("{secret:?}"), "[redacted]");
        assert_eq!(format!("{secret}"), "[redacted]");
        assert_eq!(secret.as_str(), "eyJhbGciOiJSUzI1NiJ9.payload.signature");
    }

    #[test]
    fn secret_in_option_and_struct_is_redacted() {
        #[derive(Debug)]
        struct Holder {
            #[allow(dead_code)]
            token: Option<Secret>,
        }
        let text = format!("{:?}", Holder { token: Some(Secret::new("s3cr3t".into())) });
        assert!(!text.contains("s3cr3t"), "{text}");
        assert!(text.contains("[redacted]"), "{text}");
    }

    #[test]
    fn token_types_debug_is_redacted() {
        use crate::flows::device::parse_device_authorization;
        use crate::flows::push::parse_backchannel_response;
        use crate::flows::token::take_tokens;
        use serde_json::json;
        use std::time::Duration;

        let mut body = json!({"id_token": "id-token-value", "access_token": "access-token-value"}).as_object().unwrap().clone();
        let tokens = take_tokens(&mut body).unwrap();
        let device = json!({"device_code": "device-code-value", "user_code": "ABCD", "verification_uri": "https://idp.example/device"});
        let device = parse_device_authorization(device.as_object().unwrap(), Duration::from_secs(5)).unwrap();
        let push = parse_backchannel_response(json!({"auth_req_id": "auth-req-id-value"}).as_object().unwrap(), Duration::from_secs(5)).unwrap();

        let printed = format!("{tokens:?} {device:?} {push:?}");
        for value in ["id-token-value", "access-token-value", "device-code-value", "auth-req-id-value"] {
            assert!(!printed.contains(value), "Debug output shows {value}: {printed}");
        }
        assert_eq!(printed.matches("[redacted]").count(), 4, "{printed}");
    }

    #[test]
    fn config_debug_hides_client_secret() {
        use std::os::unix::fs::PermissionsExt;

        let dir = tempfile::tempdir().unwrap();
        let secret_path = dir.path().join("client_secret");
        std::fs::write(&secret_path, "client-secret-value\n").unwrap();
        std::fs::set_permissions(&secret_path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let source = format!(
            "[provider]\nissuer = \"https://srv.qryp.to/op\"\nclient_id = \"c\"\nclient_secret_file = \"{}\"\n",
            secret_path.display()
        );
        let config = crate::config::parse_config(&dir.path().join("ultraauthd.toml"), &source).unwrap();
        let printed = format!("{config:?}");
        assert!(!printed.contains("client-secret-value"), "{printed}");
        assert!(printed.contains("[redacted]"), "{printed}");
    }
}
