//! The daemon's side of one login, from BeginLogin to Finish.

mod verdict;

use std::time::Duration;

use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::UnixStream;
use tokio::time::Instant;
use ultraauth_proto::{DaemonReply, Flow, LoginRequest, ModuleRequest, Outcome, PromptStyle};

use crate::audit::Level;
use crate::config::ServicePolicy;
use crate::daemon::Daemon;
use crate::flows::device::{DeviceOutcome, poll_for_tokens, request_device_authorization};
use crate::prompt::device_prompt;
use crate::sessions::SessionKey;
use crate::socket_io::{read_request, write_reply};
use verdict::{Verdict, verdict_for_device};

/// Time the module has to send BeginLogin after connecting.
const BEGIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Seconds kept back from the module's wait limit, so the daemon's verdict arrives first.
const MODULE_MARGIN_SECS: u64 = 2;

/// Maximum length of user, service, remote host or tty from the module, in bytes.
const MAX_ITEM_LEN: usize = 256;

/// Serves one connection from the PAM module.
pub async fn serve_connection(daemon: &Daemon, stream: UnixStream) {
    let (mut reader, mut writer) = stream.into_split();

    let request = match read_request(&mut reader, Instant::now() + BEGIN_TIMEOUT).await {
        Ok(ModuleRequest::BeginLogin(request)) => request,
        Ok(other) => {
            daemon.audit.event(Level::Warning, "protocol_error", &[("reason", &format!("expected begin_login, got {other:?}"))]);
            return;
        }
        Err(err) => {
            daemon.audit.event(Level::Warning, "protocol_error", &[("reason", &err.to_string())]);
            return;
        }
    };

    if let Err(reason) = check_request(&request) {
        daemon.audit.event(Level::Warning, "protocol_error", &[("reason", &reason)]);
        let reply = DaemonReply::Finish { outcome: Outcome::Denied, message: None };
        let _ = write_reply(&mut writer, &reply).await;
        return;
    }

    let login = Login::new(daemon, &request);
    login.run(&mut reader, &mut writer).await;
}

/// Rejects PAM items no real login has: empty users, control characters, huge values.
fn check_request(request: &LoginRequest) -> Result<(), String> {
    let items = [("user", Some(&request.user)), ("service", Some(&request.service)), ("rhost", request.rhost.as_ref()), ("tty", request.tty.as_ref())];
    for (name, value) in items {
        let Some(value) = value else { continue };
        if value.len() > MAX_ITEM_LEN || value.chars().any(char::is_control) {
            return Err(format!("PAM item {name} is longer than {MAX_ITEM_LEN} bytes or has control characters"));
        }
    }
    if request.user.is_empty() || request.service.is_empty() {
        return Err("PAM user or service is empty".into());
    }
    Ok(())
}

/// One login in progress, with the fields every audit line carries.
struct Login<'a> {
    daemon: &'a Daemon,
    request: &'a LoginRequest,
    policy: &'a ServicePolicy,
    rhost: String,
    started: Instant,
    deadline: Instant,
}

impl<'a> Login<'a> {
    fn new(daemon: &'a Daemon, request: &'a LoginRequest) -> Self {
        let rhost = request.rhost.clone().unwrap_or_default();
        let policy = daemon.policies.policy_for(&request.service);
        let module_wait = u64::from(request.wait_limit_secs).saturating_sub(MODULE_MARGIN_SECS).max(1);
        let wait = Duration::from_secs(policy.wait_secs.min(module_wait));
        let started = Instant::now();
        Login { daemon, request, policy, rhost, started, deadline: started + wait }
    }

    fn audit(&self, level: Level, event: &str, extra: &[(&str, &str)]) {
        let shown_rhost = if self.rhost.is_empty() { "-" } else { self.rhost.as_str() };
        let mut fields = vec![("user", self.request.user.as_str()), ("service", self.request.service.as_str()), ("rhost", shown_rhost)];
        fields.extend_from_slice(extra);
        self.daemon.audit.event(level, event, &fields);
    }

    fn session_key(&self) -> SessionKey {
        SessionKey { user: self.request.user.clone(), service: self.request.service.clone(), rhost: self.rhost.clone() }
    }

    async fn run(&self, reader: &mut OwnedReadHalf, writer: &mut OwnedWriteHalf) {
        if self.daemon.sessions.is_verified(&self.session_key()) {
            self.audit(Level::Notice, "login_approved", &[("flow", "session"), ("reason", "verified session still live")]);
            self.finish(writer, Outcome::Approved, None).await;
            return;
        }

        if !self.request.interactive {
            self.audit(Level::Warning, "login_unavailable", &[("reason", "the PAM application has no conversation, so no flow can run")]);
            self.finish(writer, Outcome::Unavailable, None).await;
            return;
        }

        // The module's flow= argument wins over the service's policy; auto is the device grant.
        let _flow = self.request.flow.or(self.policy.flow).unwrap_or(Flow::Device);
        let Some((verdict, answered)) = self.run_device_flow(reader, writer).await else { return };

        self.audit(verdict.level, verdict.event, &[("flow", "device"), ("reason", &verdict.reason)]);
        if verdict.outcome == Outcome::Approved {
            self.daemon.sessions.record(self.session_key(), Duration::from_secs(self.policy.session_lifetime_secs));
        }
        self.finish(writer, verdict.outcome, verdict.user_message).await;

        if !answered {
            // The module still sits in its prompt, and the verdict waits in the socket
            // buffer until the user presses Enter. Closing now would make the module's
            // reply fail before it reads the verdict, so wait for that reply.
            let module_deadline = self.started + Duration::from_secs(u64::from(self.request.wait_limit_secs));
            let _ = read_request(reader, module_deadline).await;
        }
    }

    /// Runs the device grant and returns the verdict and whether the module has already
    /// answered the prompt. Returns `None` when the module went away, so nothing is left to send.
    async fn run_device_flow(&self, reader: &mut OwnedReadHalf, writer: &mut OwnedWriteHalf) -> Option<(Verdict, bool)> {
        let default_interval = Duration::from_secs(self.daemon.provider.config().default_interval_secs);
        let authorization = match request_device_authorization(&self.daemon.provider, default_interval).await {
            Ok(authorization) => authorization,
            Err(err) => return Some((Verdict::unavailable(err.to_string()), true)),
        };

        let interval = authorization.interval.as_secs().to_string();
        let expires_in = authorization.expires_in.as_secs().to_string();
        self.audit(Level::Info, "flow_started", &[("flow", "device"), ("interval", &interval), ("expires_in", &expires_in)]);

        let text = device_prompt(&authorization, &self.request.user, &self.daemon.hostname, &self.request.service);
        if write_reply(writer, &DaemonReply::ShowPrompt { style: PromptStyle::EchoOn, text }).await.is_err() {
            self.audit(Level::Warning, "client_disconnected", &[("flow", "device")]);
            return None;
        }

        // Poll while watching the socket: the answer to the prompt changes nothing, but
        // a closed connection means the user or the PAM application gave up.
        let polling = poll_for_tokens(&self.daemon.provider, &authorization, self.started, self.deadline);
        tokio::pin!(polling);
        let mut answered = false;
        let outcome = loop {
            tokio::select! {
                outcome = &mut polling => break outcome,
                request = read_request(reader, self.deadline + Duration::from_secs(MODULE_MARGIN_SECS)), if !answered => match request {
                    Ok(ModuleRequest::AnswerPrompt { text: Some(_) }) => answered = true,
                    Ok(ModuleRequest::AnswerPrompt { text: None }) => {
                        // pamela (JupyterHub) returns no reply to visible prompts: the user
                        // never saw the code, so waiting would only hang the login.
                        return Some((Verdict::prompt_not_shown(), true));
                    }
                    Ok(_) | Err(_) => {
                        self.audit(Level::Notice, "client_disconnected", &[("flow", "device"), ("reason", "the PAM module closed the connection; polling stopped")]);
                        return None;
                    }
                },
            }
        };

        Some((self.verdict_for(outcome).await, answered))
    }

    async fn verdict_for(&self, outcome: DeviceOutcome) -> Verdict {
        verdict_for_device(self.daemon, &self.request.user, outcome).await
    }

    async fn finish(&self, writer: &mut OwnedWriteHalf, outcome: Outcome, message: Option<String>) {
        if let Err(err) = write_reply(writer, &DaemonReply::Finish { outcome, message }).await {
            self.audit(Level::Warning, "client_disconnected", &[("reason", &format!("sending the verdict failed: {err}"))]);
        }
    }
}
