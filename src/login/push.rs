//! CIBA (push) inside a PAM login.

use std::time::Duration;

use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use ultraauth_proto::{DaemonReply, Flow, MessageStyle};

use super::Login;
use super::shared::{Polling, Started};
use super::verdict::{Verdict, verdict_for_poll};
use crate::audit::Level;
use crate::flows::push::{binding_message, login_hint, poll_for_tokens, request_backchannel};
use crate::socket_io::write_reply;

impl Login<'_> {
    /// Runs (or joins) CIBA in poll mode. It needs no reply from the user, so it also
    /// serves PAM applications without a conversation.
    pub(super) async fn run_push_flow(&self, reader: &mut OwnedReadHalf, writer: &mut OwnedWriteHalf) -> Option<(Verdict, bool)> {
        let running = match self.join_shared_flow(Flow::Push, || self.start_push_flow()).await {
            Ok(running) => running,
            Err(verdict) => return Some((verdict, true)),
        };

        if let (true, Some(text)) = (self.request.interactive, running.text.clone()) {
            if write_reply(writer, &DaemonReply::ShowMessage { style: MessageStyle::Info, text }).await.is_err() {
                self.audit(Level::Warning, "client_disconnected", &[("flow", "push")]);
                return None;
            }
        }

        // Nothing is prompted, so any frame or end of stream from the module means it left.
        let mut answered = false;
        let verdict = self.wait_watching_socket(reader, &running, &mut answered).await?;
        Some((verdict, true))
    }

    /// Sends the backchannel request and returns the polling to run.
    async fn start_push_flow(&self) -> Started {
        let hint = login_hint(&self.daemon.push.login_hint, &self.request.user);
        let message = binding_message(&self.daemon.hostname, &self.request.service);
        let default_interval = Duration::from_secs(self.daemon.provider.config().default_interval_secs);
        let request = request_backchannel(&self.daemon.provider, &hint, &message, default_interval, &self.security().assurance.request_params()).await.map_err(Verdict::from_provider_error)?;

        let interval = request.interval.as_secs().to_string();
        let expires_in = request.expires_in.as_secs().to_string();
        self.audit(Level::Info, "flow_started", &[("flow", "push"), ("interval", &interval), ("expires_in", &expires_in)]);
        let text = format!("Approve the request \"{message}\" on your UltraAuth device.");

        let daemon = self.daemon.clone();
        let user = self.request.user.clone();
        let assurance = self.security().assurance.clone();
        let (started, deadline) = (self.started, self.deadline);
        let polling: Polling = Box::pin(async move {
            let outcome = poll_for_tokens(&daemon.provider, &request, started, deadline).await;
            verdict_for_poll(&daemon, &user, outcome, &assurance).await
        });
        Ok((Some(text), polling))
    }
}
