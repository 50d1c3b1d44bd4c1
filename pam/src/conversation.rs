//! The PAM conversation behind a trait, so the login logic can be tested without libpam.

use pam::constants::{PAM_ERROR_MSG, PAM_PROMPT_ECHO_OFF, PAM_PROMPT_ECHO_ON, PAM_TEXT_INFO};
use pam::conv::Conv;
use ultraauth_proto::{MessageStyle, PromptStyle};

use crate::error::ModuleError;

/// Shows prompts and messages to the user through the PAM application.
pub trait Conversation {
    /// Shows a prompt and returns the reply; `None` when the application returned none
    /// (pamela, for example, returns NULL for echo-on prompts).
    fn prompt(&mut self, style: PromptStyle, text: &str) -> Result<Option<String>, ModuleError>;

    /// Shows a message that needs no reply. A failure is ignored because the message is
    /// only informative and some applications drop such messages anyway.
    fn show(&mut self, style: MessageStyle, text: &str);
}

/// The conversation function the PAM application registered.
pub struct PamConversation<'a> {
    conv: Conv<'a>,
}

impl<'a> PamConversation<'a> {
    pub fn new(conv: Conv<'a>) -> Self {
        PamConversation { conv }
    }
}

impl Conversation for PamConversation<'_> {
    fn prompt(&mut self, style: PromptStyle, text: &str) -> Result<Option<String>, ModuleError> {
        let pam_style = match style {
            PromptStyle::EchoOn => PAM_PROMPT_ECHO_ON,
            PromptStyle::EchoOff => PAM_PROMPT_ECHO_OFF,
        };
        let reply = self.conv.send(pam_style, text).map_err(ModuleError::conversation)?;

        // SecretBytes wipes the application's copy when dropped; only the UTF-8 text leaves.
        Ok(reply.map(|secret| String::from_utf8_lossy(secret.as_bytes()).into_owned()))
    }

    fn show(&mut self, style: MessageStyle, text: &str) {
        let pam_style = match style {
            MessageStyle::Info => PAM_TEXT_INFO,
            MessageStyle::Error => PAM_ERROR_MSG,
        };
        let _ = self.conv.send(pam_style, text);
    }
}
