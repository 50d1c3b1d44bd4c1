//! Messages, named for the action the sender requests of the receiver.

use serde::{Deserialize, Serialize};

/// The out-of-band flow that verifies the user at the provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Flow {
    /// OAuth 2.0 device authorization grant (RFC 8628).
    Device,
    /// Authorization code flow with PKCE in a browser, redeemed with a one-time code.
    Code,
    /// OpenID Connect CIBA in poll mode: a push to the user's device.
    Push,
}

/// Messages from the PAM module to the daemon.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ModuleRequest {
    /// Starts verifying one PAM login. Always the first message on a connection.
    BeginLogin(LoginRequest),
    /// Returns the user's reply to the last [`DaemonReply::ShowPrompt`]; `None` when the
    /// PAM application returned no reply.
    AnswerPrompt { text: Option<String> },
}

/// The PAM items of one login, as the PAM application set them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// PAM_USER.
    pub user: String,
    /// PAM_SERVICE, for example `sshd` or `jupyterhub`.
    pub service: String,
    /// PAM_RHOST; `None` or empty for a local login.
    pub rhost: Option<String>,
    /// PAM_TTY; may be empty.
    pub tty: Option<String>,
    /// The flow the module argument `flow=` requests, if any.
    pub flow: Option<Flow>,
    /// Seconds the module waits for [`DaemonReply::Finish`] after sending this request.
    pub wait_limit_secs: u32,
    /// Whether the PAM application can show prompts. Without one the daemon must not
    /// start a flow that needs the user to read something.
    pub interactive: bool,
}

/// The PAM message style of a prompt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PromptStyle {
    /// PAM_PROMPT_ECHO_ON.
    EchoOn,
    /// PAM_PROMPT_ECHO_OFF.
    EchoOff,
}

/// The PAM message style of a message that needs no reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageStyle {
    /// PAM_TEXT_INFO.
    Info,
    /// PAM_ERROR_MSG.
    Error,
}

/// The verdict on a login. The PAM module maps each to one PAM return code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The provider verified the user, or a verified session still covers this login.
    Approved,
    /// The provider, the policy or the identity mapping rejected the login.
    Denied,
    /// The user did not approve before the wait limit or the code's expiry.
    TimedOut,
    /// The daemon could not reach a verdict (provider unreachable, bad configuration).
    Unavailable,
    /// The daemon does not act on this login; the PAM stack decides.
    Ignore,
}

/// Messages from the daemon to the PAM module.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum DaemonReply {
    /// Shows `text` as a prompt; the module answers with [`ModuleRequest::AnswerPrompt`].
    ShowPrompt { style: PromptStyle, text: String },
    /// Shows `text` to the user; no reply is expected.
    ShowMessage { style: MessageStyle, text: String },
    /// Ends the login. `message`, when present, is shown to the user as an error message.
    Finish { outcome: Outcome, message: Option<String> },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn begin_login_json_shape() {
        let request = ModuleRequest::BeginLogin(LoginRequest {
            user: "alice".into(),
            service: "sshd".into(),
            rhost: Some("192.0.2.7".into()),
            tty: None,
            flow: Some(Flow::Device),
            wait_limit_secs: 110,
            interactive: true,
        });
        let json = serde_json::to_value(&request).unwrap();
        assert_eq!(json["type"], "begin_login");
        assert_eq!(json["flow"], "device");
        assert_eq!(json["user"], "alice");
    }

    #[test]
    fn unknown_message_type_is_rejected() {
        let parsed: Result<ModuleRequest, _> = serde_json::from_str(r#"{"type":"drop_tables"}"#);
        assert!(parsed.is_err());
    }

    #[test]
    fn unknown_field_is_rejected() {
        let parsed: Result<ModuleRequest, _> =
            serde_json::from_str(r#"{"type":"answer_prompt","text":"x","extra":1}"#);
        assert!(parsed.is_err());
    }
}
