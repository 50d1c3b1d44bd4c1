//! The device grant inside a PAM login.

use std::time::Duration;

use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use ultraauth_proto::{DaemonReply, Flow, PromptStyle};

use super::Login;
use super::shared::{Polling, Started};
use super::verdict::{Verdict, verdict_for_poll};
use crate::audit::Level;
use crate::flows::device::{poll_for_tokens, request_device_authorization};
use crate::prompt::{PromptOptions, device_prompt};
use crate::socket_io::write_reply;

impl Login<'_> {
    /// Runs (or joins) the device grant and returns the verdict and whether the module
    /// has already answered the prompt. Returns `None` when the module went away, so
    /// nothing is left to send.
    pub(super) async fn run_device_flow(&self, reader: &mut OwnedReadHalf, writer: &mut OwnedWriteHalf) -> Option<(Verdict, bool)> {
        let running = match self.join_shared_flow(Flow::Device, || self.start_device_flow()).await {
            Ok(running) => running,
            Err(verdict) => return Some((verdict, true)),
        };

        let text = running.text.clone().unwrap_or_default();
        if write_reply(writer, &DaemonReply::ShowPrompt { style: PromptStyle::EchoOn, text }).await.is_err() {
            self.audit(Level::Warning, "client_disconnected", &[("flow", "device")]);
            return None;
        }

        let mut answered = false;
        let verdict = self.wait_watching_socket(reader, &running, &mut answered).await?;
        Some((verdict, answered))
    }

    /// Requests the device code, builds the prompt and returns the polling to run.
    async fn start_device_flow(&self) -> Started {
        let default_interval = Duration::from_secs(self.daemon.provider.config().default_interval_secs);
        let authorization = request_device_authorization(&self.daemon.provider, default_interval, &self.security().assurance.request_params()).await.map_err(Verdict::from_provider_error)?;

        let interval = authorization.interval.as_secs().to_string();
        let expires_in = authorization.expires_in.as_secs().to_string();
        self.audit(Level::Info, "flow_started", &[("flow", "device"), ("interval", &interval), ("expires_in", &expires_in)]);
        let options = PromptOptions { header: &self.policy.prompt_header, qr: self.policy.qr };
        let text = device_prompt(&authorization, &self.request.user, &self.daemon.hostname, &self.request.service, &options);

        let daemon = self.daemon.clone();
        let user = self.request.user.clone();
        let assurance = self.security().assurance.clone();
        let (started, deadline) = (self.started, self.deadline);
        let polling: Polling = Box::pin(async move {
            let outcome = poll_for_tokens(&daemon.provider, &authorization, started, deadline).await;
            verdict_for_poll(&daemon, &user, outcome, &assurance).await
        });
        Ok((Some(text), polling))
    }
}
