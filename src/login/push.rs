//! CIBA (push) inside a PAM login.

use std::time::Duration;

use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use ultraauth_proto::{DaemonReply, Flow, MessageStyle};

use super::Login;
use super::verdict::{Verdict, verdict_for_poll};
use crate::audit::Level;
use crate::flows::push::{binding_message, login_hint, poll_for_tokens, request_backchannel};
use crate::socket_io::write_reply;

impl Login<'_> {
    /// Runs CIBA in poll mode. It needs no reply from the user, so it also serves PAM
    /// applications without a conversation.
    pub(super) async fn run_push_flow(&self, reader: &mut OwnedReadHalf, writer: &mut OwnedWriteHalf) -> Option<(Verdict, bool)> {
        let hint = login_hint(&self.daemon.push.login_hint, &self.request.user);
        let message = binding_message(&self.daemon.hostname, &self.request.service);
        let default_interval = Duration::from_secs(self.daemon.provider.config().default_interval_secs);

        let request = match request_backchannel(&self.daemon.provider, &hint, &message, default_interval).await {
            Ok(request) => request,
            Err(err) => return Some((Verdict::from_provider_error(err), true)),
        };

        let interval = request.interval.as_secs().to_string();
        let expires_in = request.expires_in.as_secs().to_string();
        self.audit(Level::Info, "flow_started", &[("flow", "push"), ("interval", &interval), ("expires_in", &expires_in)]);

        let text = format!("Approve the request \"{message}\" on your UltraAuth device.");
        if self.request.interactive && write_reply(writer, &DaemonReply::ShowMessage { style: MessageStyle::Info, text }).await.is_err() {
            self.audit(Level::Warning, "client_disconnected", &[("flow", "push")]);
            return None;
        }

        // Nothing is prompted, so any frame or end of stream from the module means it left.
        let mut answered = false;
        let polling = poll_for_tokens(&self.daemon.provider, &request, self.started, self.deadline);
        let outcome = match self.poll_watching_socket(reader, polling, Flow::Push, &mut answered).await? {
            Ok(outcome) => outcome,
            Err(verdict) => return Some((verdict, true)),
        };

        Some((verdict_for_poll(self.daemon, &self.request.user, outcome).await, true))
    }
}
