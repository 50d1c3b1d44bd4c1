//! pam_ultraauth.so: the PAM module that asks ultraauthd to verify a login.
//!
//! The module is thin on purpose: no network, TLS, threads, fork or signal handlers run
//! inside the PAM application. It collects the PAM items, relays the daemon's prompts
//! through the conversation and maps the verdict to a PAM return code in
//! [`error::pam_code`].

pub mod args;
pub mod conversation;
pub mod error;
pub mod link;
pub mod login;
pub mod syslog;

use std::ffi::CStr;
use std::time::{Duration, Instant};

use pam::constants::{PAM_SILENT, PamFlag, PamResultCode};
use pam::conv::Conv;
use pam::items::{AuthTok, RHost, Service, Tty, User};
use pam::module::{PamHandle, PamHooks};
use pam::pam_hooks;
use ultraauth_proto::{LoginRequest, Outcome};

use crate::conversation::{Conversation, PamConversation};
use crate::error::{ModuleError, pam_code};
use crate::link::UnixLink;
use crate::syslog::Severity;

struct UltraAuthModule;
pam_hooks!(UltraAuthModule);

impl PamHooks for UltraAuthModule {
    fn sm_authenticate(pamh: &mut PamHandle, args: Vec<&CStr>, flags: PamFlag) -> PamResultCode {
        let service = read_item::<Service>(pamh).unwrap_or_else(|| "unknown".into());
        let result = authenticate(pamh, &args, flags, &service);
        if result.is_err() {
            let user = read_item::<User>(pamh);
            let rhost = read_item::<RHost>(pamh);
            log_failure(&service, user.as_deref(), rhost.as_deref(), &result);
        }
        pam_code(&result)
    }

    /// Returns success because the credentials this module checks are not kept; Linux-PAM
    /// turns an auth stack whose modules all ignore pam_setcred into a failure.
    fn sm_setcred(_pamh: &mut PamHandle, _args: Vec<&CStr>, _flags: PamFlag) -> PamResultCode {
        PamResultCode::PAM_SUCCESS
    }
}

fn authenticate(pamh: &mut PamHandle, args: &[&CStr], flags: PamFlag, service: &str) -> Result<Outcome, ModuleError> {
    let arg_strings: Vec<&str> = args.iter().map(|arg| arg.to_str().unwrap_or("<not UTF-8>")).collect();
    let args = args::parse_args(arg_strings).map_err(ModuleError::InvalidArgument)?;
    let deadline = Instant::now() + Duration::from_secs(u64::from(args.timeout_secs));

    // pam_get_user needs the handle mutably, so it comes before borrowing any item.
    let user = pamh.get_user(None).map_err(ModuleError::pam)?;
    let rhost = read_item::<RHost>(pamh);
    let tty = read_item::<Tty>(pamh);
    if args.debug {
        let shown_rhost = rhost.as_deref().unwrap_or("-");
        let socket = args.socket.display().to_string();
        let fields = [("user", user.as_str()), ("service", service), ("rhost", shown_rhost), ("socket", socket.as_str())];
        syslog::log(Severity::Debug, service, &syslog::format_event("module_begin", &fields));
    }

    let mut link = UnixLink::connect(&args.socket, deadline)?;

    let conv = if conversation::has_conversation_function(pamh) { pamh.get_item::<Conv>().ok().flatten() } else { None };
    let mut pam_conversation = conv.map(PamConversation::new);
    let conversation = pam_conversation.as_mut().map(|conv| conv as &mut dyn Conversation);

    let request = LoginRequest {
        user,
        service: service.to_owned(),
        rhost,
        tty,
        flow: args.flow,
        wait_limit_secs: args.timeout_secs,
        interactive: conversation.is_some(),
    };
    let silent = flags & PAM_SILENT != 0;
    let first_pass = if args.use_first_pass { read_authtok(pamh) } else { None };
    login::run_login(&mut link, conversation, request, deadline, silent, first_pass)
}

/// Reads a string item; an unset item, a failed call and non-UTF-8 text all read as unset.
fn read_item<'a, T>(pamh: &'a PamHandle) -> Option<String>
where
    T: pam::items::Item<'a> + std::ops::Deref<Target = &'a CStr>,
{
    let item = pamh.get_item::<T>().ok().flatten()?;
    item.to_str().ok().map(str::to_owned)
}

/// Reads PAM_AUTHTOK as set by an earlier module in the stack, if any.
fn read_authtok(pamh: &PamHandle) -> Option<zeroize::Zeroizing<String>> {
    let item = pamh.get_item::<AuthTok>().ok().flatten()?;
    let bytes = item.as_bytes();
    std::str::from_utf8(bytes).ok().map(|text| zeroize::Zeroizing::new(text.to_owned()))
}

/// Logs a failure of the module itself as `event=module_failed` with the PAM items; the
/// daemon logs the verdicts it reaches.
fn log_failure(service: &str, user: Option<&str>, rhost: Option<&str>, result: &Result<Outcome, ModuleError>) {
    let Err(err) = result else { return };
    let code = pam_code(result);
    // Same vocabulary as the daemon's verdict lines where the meaning is the same.
    let outcome = match code {
        PamResultCode::PAM_AUTHINFO_UNAVAIL => "unavailable",
        _ => "error",
    };
    let code_name = format!("{code:?}");
    let reason = err.to_string();
    let fields = [
        ("user", user.filter(|user| !user.is_empty()).unwrap_or("-")),
        ("service", service),
        ("rhost", rhost.filter(|rhost| !rhost.is_empty()).unwrap_or("-")),
        ("result", outcome),
        ("pam_code", code_name.as_str()),
        ("reason", reason.as_str()),
    ];
    syslog::log(Severity::Error, service, &syslog::format_event("module_failed", &fields));
}
