//! The device grant inside a PAM login.

use std::time::Duration;

use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use ultraauth_proto::{DaemonReply, Flow, PromptStyle};

use super::Login;
use super::verdict::{Verdict, verdict_for_poll};
use crate::audit::Level;
use crate::flows::device::{poll_for_tokens, request_device_authorization};
use crate::prompt::device_prompt;
use crate::socket_io::write_reply;

impl Login<'_> {
    /// Runs the device grant and returns the verdict and whether the module has already
    /// answered the prompt. Returns `None` when the module went away, so nothing is left to send.
    pub(super) async fn run_device_flow(&self, reader: &mut OwnedReadHalf, writer: &mut OwnedWriteHalf) -> Option<(Verdict, bool)> {
        let default_interval = Duration::from_secs(self.daemon.provider.config().default_interval_secs);
        let authorization = match request_device_authorization(&self.daemon.provider, default_interval).await {
            Ok(authorization) => authorization,
            Err(err) => return Some((Verdict::from_provider_error(err), true)),
        };

        let interval = authorization.interval.as_secs().to_string();
        let expires_in = authorization.expires_in.as_secs().to_string();
        self.audit(Level::Info, "flow_started", &[("flow", "device"), ("interval", &interval), ("expires_in", &expires_in)]);

        let text = device_prompt(&authorization, &self.request.user, &self.daemon.hostname, &self.request.service);
        if write_reply(writer, &DaemonReply::ShowPrompt { style: PromptStyle::EchoOn, text }).await.is_err() {
            self.audit(Level::Warning, "client_disconnected", &[("flow", "device")]);
            return None;
        }

        let mut answered = false;
        let polling = poll_for_tokens(&self.daemon.provider, &authorization, self.started, self.deadline);
        let outcome = match self.poll_watching_socket(reader, polling, Flow::Device, &mut answered).await? {
            Ok(outcome) => outcome,
            Err(verdict) => return Some((verdict, true)),
        };

        Some((verdict_for_poll(self.daemon, &self.request.user, outcome).await, answered))
    }
}
