//! The daemon's side of one login, from BeginLogin to Finish.

pub mod checks;
mod code;
mod device;
mod failure_mode;
mod push;
pub mod shared;
pub mod verdict;

use std::sync::Arc;
use std::time::Duration;

use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::time::Instant;
use ultraauth_proto::{DaemonReply, Flow, FrameError, LoginRequest, ModuleRequest, Outcome};

use crate::audit::Level;
use crate::config::{NoConversation, ServicePolicy};
use crate::daemon::Daemon;
use crate::sessions::SessionKey;
use crate::socket_io::{read_request, write_reply};
use shared::RunningFlow;
use verdict::Verdict;

/// Time the module has to send BeginLogin after connecting.
pub(crate) const BEGIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Seconds kept back from the module's wait limit, so the daemon's verdict arrives first.
const MODULE_MARGIN_SECS: u64 = 2;

/// Maximum length of user, service, remote host or tty from the module, in bytes.
const MAX_ITEM_LEN: usize = 256;

/// Serves one connection from the PAM module, whose first message the server has read.
pub async fn serve_connection(daemon: &Arc<Daemon>, first: Result<ModuleRequest, FrameError>, mut reader: OwnedReadHalf, mut writer: OwnedWriteHalf, caller_uid: u32) {
    let request = match first {
        Ok(ModuleRequest::BeginLogin(request)) => request,
        // Only the message type is logged: an early answer_prompt may hold a password.
        Ok(ModuleRequest::AnswerPrompt { .. }) => {
            daemon.audit.event(Level::Warning, "protocol_error", &[("reason", "expected begin_login, got answer_prompt")]);
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

    let login = Login::new(daemon, &request, caller_uid);
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
    daemon: &'a Arc<Daemon>,
    request: &'a LoginRequest,
    policy: ServicePolicy,
    rhost: String,
    caller_uid: u32,
    started: Instant,
    deadline: Instant,
}

impl<'a> Login<'a> {
    fn new(daemon: &'a Arc<Daemon>, request: &'a LoginRequest, caller_uid: u32) -> Self {
        let rhost = request.rhost.clone().unwrap_or_default();
        let policy = daemon.policies.load().policy_for(&request.service).clone();
        let module_wait = u64::from(request.wait_limit_secs).saturating_sub(MODULE_MARGIN_SECS).max(1);
        let wait = Duration::from_secs(policy.wait_secs.min(module_wait));
        let started = Instant::now();
        Login { daemon, request, policy, rhost, caller_uid, started, deadline: started + wait }
    }

    fn audit(&self, level: Level, event: &str, extra: &[(&str, &str)]) {
        let shown_rhost = if self.rhost.is_empty() { "-" } else { self.rhost.as_str() };
        let mut fields = vec![("user", self.request.user.as_str()), ("service", self.request.service.as_str()), ("rhost", shown_rhost)];
        fields.extend_from_slice(extra);
        self.daemon.audit.event(level, event, &fields);
    }

    /// Returns whether the login has a remote host or a terminal that a verified session
    /// can be bound to. JupyterHub (pamela) and similar callers set neither, and a session
    /// bound to nothing but the user name would let in anyone with the name.
    fn has_source(&self) -> bool {
        !self.rhost.is_empty() || self.request.tty.as_deref().is_some_and(|tty| !tty.is_empty())
    }

    fn session_key(&self) -> SessionKey {
        let tty = if self.rhost.is_empty() { self.request.tty.clone().unwrap_or_default() } else { String::new() };
        SessionKey {
            user: self.request.user.clone(),
            service: self.request.service.clone(),
            rhost: self.rhost.clone(),
            tty,
            caller_uid: self.caller_uid,
        }
    }

    async fn run(&self, reader: &mut OwnedReadHalf, writer: &mut OwnedWriteHalf) {
        if !self.policy.enabled {
            self.audit(Level::Info, "login_ignored", &[("reason", "the service is disabled in [services]")]);
            self.finish(writer, Outcome::Ignore, None).await;
            return;
        }

        if self.has_source() && self.daemon.sessions.is_verified(&self.session_key()) {
            self.audit(Level::Notice, "login_approved", &[("flow", "session"), ("reason", "verified session still live")]);
            self.finish(writer, Outcome::Approved, None).await;
            return;
        }

        let chosen = tokio::time::timeout_at(self.deadline, self.choose_flow()).await.unwrap_or_else(|_| Err(Verdict::provider_too_slow()));
        let flow = match chosen {
            Ok(flow) => flow,
            Err(verdict) => {
                let verdict = self.apply_failure_mode(verdict);
                self.audit(verdict.level, verdict.event, &[("reason", &verdict.reason)]);
                self.finish(writer, verdict.outcome, verdict.user_message).await;
                return;
            }
        };

        if !self.request.interactive && flow != Flow::Push {
            let reason = "the PAM application has no conversation, so no flow can run";
            let (event, outcome) = match self.policy.no_conversation {
                NoConversation::Unavailable => ("login_unavailable", Outcome::Unavailable),
                NoConversation::Ignore => ("login_ignored", Outcome::Ignore),
            };
            self.audit(Level::Warning, event, &[("flow", flow_name(flow)), ("reason", reason)]);
            self.finish(writer, outcome, None).await;
            return;
        }

        let result = match flow {
            Flow::Device => self.run_device_flow(reader, writer).await,
            Flow::Code => self.run_code_flow(reader, writer).await,
            Flow::Push => self.run_push_flow(reader, writer).await,
        };
        let Some((verdict, answered)) = result else { return };
        let verdict = self.apply_failure_mode(verdict);

        self.audit(verdict.level, verdict.event, &[("flow", flow_name(flow)), ("reason", &verdict.reason)]);
        // A login that failed open was not verified, so it starts no verified session.
        if verdict.outcome == Outcome::Approved && self.has_source() && !verdict.provider_unreachable {
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

    /// Picks the flow: the module's `flow=` argument, else the service's policy, else the
    /// first the provider and the configuration can serve (device, code, push).
    async fn choose_flow(&self) -> Result<Flow, Verdict> {
        let requested = self.request.flow.or(self.policy.flow);
        let service = &self.request.service;

        // The code flow redeems a code locally, so it needs no provider call here.
        if requested == Some(Flow::Code) {
            return match self.daemon.web {
                Some(_) => Ok(Flow::Code),
                None => Err(Verdict::unavailable(format!("flow=code requested for service {service}, but [web] is not configured"))),
            };
        }

        let metadata = self.daemon.provider.metadata().await.map_err(Verdict::from_provider_error)?;
        let device = metadata.device_authorization_endpoint.is_some();
        let push = metadata.ciba_poll_endpoint().is_some();

        match requested {
            Some(Flow::Device) if device => Ok(Flow::Device),
            Some(Flow::Device) => Err(Verdict::unavailable(format!(
                "flow=device requested for service {service}, but the provider advertises no device_authorization_endpoint"
            ))),
            Some(Flow::Push) if push => Ok(Flow::Push),
            Some(Flow::Push) => Err(Verdict::unavailable(format!(
                "flow=push requested for service {service}, but the provider advertises no backchannel_authentication_endpoint with poll mode"
            ))),
            Some(Flow::Code) => unreachable!("the code flow returned above"),
            None if device => Ok(Flow::Device),
            None if self.daemon.web.is_some() => Ok(Flow::Code),
            None if push => Ok(Flow::Push),
            None => Err(Verdict::unavailable("flow=auto found no flow: the provider has no device or CIBA endpoint and [web] is not configured".into())),
        }
    }

    /// Joins the pending flow of this login's source or starts one with `start`, within
    /// the login's deadline, and logs a join.
    async fn join_shared_flow<F, Fut>(&self, flow: Flow, start: F) -> Result<Arc<RunningFlow>, Verdict>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = shared::Started>,
    {
        let shared = self.daemon.shared_flows.clone();
        let key = self.session_key();
        let starting = shared.join_or_start(&key, flow, start);
        let (running, joined) = tokio::time::timeout_at(self.deadline, starting).await.unwrap_or_else(|_| Err(Verdict::provider_too_slow()))?;

        if joined {
            self.audit(Level::Info, "flow_joined", &[("flow", flow_name(flow)), ("reason", "a login for the same user, service and host is already pending")]);
        }
        Ok(running)
    }

    /// Waits for the shared flow's verdict while watching the socket, until this login's
    /// own deadline. Returns `None` when the module closed the connection; dropping this
    /// login's handle then stops the polling unless other logins still wait for it.
    async fn wait_watching_socket(&self, reader: &mut OwnedReadHalf, running: &RunningFlow, answered: &mut bool) -> Option<Verdict> {
        let flow = running.flow;
        let watch_deadline = self.deadline + Duration::from_secs(MODULE_MARGIN_SECS);

        loop {
            tokio::select! {
                verdict = running.verdict() => return Some(verdict),
                () = tokio::time::sleep_until(self.deadline) => return Some(Verdict::timed_out()),
                // The socket stays watched after the reply: end of stream means the user
                // or the PAM application gave up, and the polling must stop.
                request = read_request(reader, watch_deadline) => match request {
                    Ok(ModuleRequest::AnswerPrompt { text: Some(_) }) if flow == Flow::Device && !*answered => *answered = true,
                    // pamela (JupyterHub) returns no reply to visible prompts: the user
                    // never saw the code, so waiting would only hang the login.
                    Ok(ModuleRequest::AnswerPrompt { text: None }) if flow == Flow::Device => return Some(Verdict::prompt_not_shown()),
                    Ok(_) | Err(_) => {
                        self.audit(Level::Notice, "client_disconnected", &[("flow", flow_name(flow)), ("reason", "the PAM module closed the connection")]);
                        return None;
                    }
                },
            }
        }
    }

    async fn finish(&self, writer: &mut OwnedWriteHalf, outcome: Outcome, message: Option<String>) {
        if let Err(err) = write_reply(writer, &DaemonReply::Finish { outcome, message }).await {
            self.audit(Level::Warning, "client_disconnected", &[("reason", &format!("sending the verdict failed: {err}"))]);
        }
    }
}

/// Returns the flow's name as the audit log and the configuration spell it.
pub fn flow_name(flow: Flow) -> &'static str {
    match flow {
        Flow::Device => "device",
        Flow::Code => "code",
        Flow::Push => "push",
    }
}
