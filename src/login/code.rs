//! Redeeming a one-time code from the browser callback inside a PAM login.

use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use ultraauth_proto::{DaemonReply, ModuleRequest, PromptStyle};
use zeroize::Zeroize;

use super::Login;
use super::verdict::{MSG_INVALID_CODE, Verdict};
use crate::audit::Level;
use crate::one_time_codes::RedeemError;
use crate::socket_io::{read_request, write_reply};

impl Login<'_> {
    /// Asks for the one-time code with a hidden prompt (JupyterHub answers it with the
    /// form's password) and redeems it for the PAM user.
    pub(super) async fn run_code_flow(&self, reader: &mut OwnedReadHalf, writer: &mut OwnedWriteHalf) -> Option<(Verdict, bool)> {
        let start_url = self.daemon.web.as_ref().map(|web| format!("{}/start", web.public_url)).unwrap_or_default();
        let text = format!("Get a one-time code at {start_url}\nUltraAuth one-time code: ");
        if write_reply(writer, &DaemonReply::ShowPrompt { style: PromptStyle::EchoOff, text }).await.is_err() {
            self.audit(Level::Warning, "client_disconnected", &[("flow", "code")]);
            return None;
        }

        let mut code = match read_request(reader, self.deadline).await {
            Ok(ModuleRequest::AnswerPrompt { text: Some(code) }) => code,
            Ok(ModuleRequest::AnswerPrompt { text: None }) => return Some((Verdict::prompt_not_shown(), true)),
            Ok(_) | Err(_) => {
                self.audit(Level::Notice, "client_disconnected", &[("flow", "code"), ("reason", "no one-time code arrived before the wait limit")]);
                return None;
            }
        };

        let result = self.daemon.one_time_codes.redeem(&self.request.user, &code);
        let assurance = result.is_ok().then(|| self.daemon.code_assurance.take(&self.request.user, &code)).flatten();
        code.zeroize();

        let verdict = match result {
            Ok(()) => self.verdict_for_redeemed_code(assurance),
            Err(RedeemError::Invalid) => Verdict::denied("one-time code is wrong, expired, already used or issued to another user".into(), MSG_INVALID_CODE),
            Err(RedeemError::TooManyAttempts) => Verdict::denied(
                "too many wrong one-time codes for this user; all of the user's codes are void until a new browser verification".into(),
                MSG_INVALID_CODE,
            ),
        };
        Some((verdict, true))
    }
}
