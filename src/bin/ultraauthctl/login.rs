//! `ultraauthctl login USER`: one verification from the terminal, without PAM.
//!
//! It speaks the module's protocol on the daemon's socket, so it needs the same
//! permission as the PAM module (`socket.allowed_users`). Prompts go to stderr and
//! replies come from stdin; with `--json` the verdict is printed as JSON on stdout.

use std::io::{BufRead, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;
use ultraauth_proto::{DaemonReply, Flow, LoginRequest, ModuleRequest, Outcome, PromptStyle, read_frame, write_frame};

use crate::client::connect;
use crate::output::{Exit, print_error, print_json};

/// Maximum prompts and messages one login may show, as in the PAM module.
const MAX_EXCHANGES: usize = 16;

pub struct LoginOptions {
    pub user: String,
    pub service: String,
    pub rhost: Option<String>,
    pub flow: Option<Flow>,
    pub timeout_secs: u32,
}

pub fn run(socket: &Path, options: &LoginOptions, json: bool) -> Exit {
    match converse(socket, options) {
        Ok((outcome, message)) => report(options, outcome, message.as_deref(), json),
        Err(err) => {
            print_error(json, &err);
            Exit::Unavailable
        }
    }
}

/// Runs the login and returns the daemon's verdict and its message for the user.
fn converse(socket: &Path, options: &LoginOptions) -> Result<(Outcome, Option<String>), String> {
    let timeout = Duration::from_secs(u64::from(options.timeout_secs));
    let deadline = Instant::now() + timeout;
    let mut stream = connect(socket, timeout)?;

    let request = LoginRequest {
        user: options.user.clone(),
        service: options.service.clone(),
        rhost: options.rhost.clone(),
        tty: None,
        flow: options.flow,
        wait_limit_secs: options.timeout_secs,
        interactive: true,
    };
    let send_failed = |err| format!("sending to ultraauthd failed: {err}");
    write_frame(&mut stream, &ModuleRequest::BeginLogin(request)).map_err(send_failed)?;

    for _ in 0..MAX_EXCHANGES {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(format!("no verdict from ultraauthd within {} s (--timeout)", options.timeout_secs));
        }
        stream.set_read_timeout(Some(remaining)).map_err(|err| format!("setting the socket timeout failed: {err}"))?;
        let reply: DaemonReply = read_frame(&mut stream).map_err(|err| {
            format!("reading from ultraauthd failed: {err}; the daemon closes the connection when this user is not in socket.allowed_users")
        })?;

        match reply {
            DaemonReply::ShowPrompt { style, text } => {
                let answer = prompt(style, &text);
                write_frame(&mut stream, &ModuleRequest::AnswerPrompt { text: answer }).map_err(send_failed)?;
            }
            DaemonReply::ShowMessage { text, .. } => eprintln!("{text}"),
            DaemonReply::Finish { outcome, message } => return Ok((outcome, message)),
        }
    }
    Err(format!("ultraauthd sent more than {MAX_EXCHANGES} prompts and messages"))
}

/// Shows a prompt on stderr and reads one line from stdin; end of input is no reply.
fn prompt(style: PromptStyle, text: &str) -> Option<String> {
    eprint!("{text}");
    let _ = std::io::stderr().flush();

    let hidden = style == PromptStyle::EchoOff && echo::hide().is_ok();
    let mut line = String::new();
    let read = std::io::stdin().lock().read_line(&mut line);
    if hidden {
        echo::show();
        eprintln!();
    }

    match read {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(line.trim_end_matches(['\r', '\n']).to_owned()),
    }
}

fn report(options: &LoginOptions, outcome: Outcome, message: Option<&str>, json: bool) -> Exit {
    let exit = match outcome {
        Outcome::Approved => Exit::Success,
        Outcome::Denied | Outcome::TimedOut => Exit::Failed,
        Outcome::Unavailable | Outcome::Ignore => Exit::Unavailable,
    };
    let outcome_name = serde_json::to_value(outcome).ok().and_then(|value| value.as_str().map(str::to_owned)).unwrap_or_default();

    if json {
        print_json(&json!({ "user": options.user, "service": options.service, "outcome": outcome_name, "message": message }));
    } else {
        if let Some(message) = message {
            eprintln!("{message}");
        }
        println!("{}: {outcome_name}", options.user);
    }
    exit
}

/// Turning terminal echo off for hidden prompts (PAM_PROMPT_ECHO_OFF).
mod echo {
    use nix::sys::termios::{LocalFlags, SetArg, tcgetattr, tcsetattr};

    pub fn hide() -> nix::Result<()> {
        let stdin = std::io::stdin();
        let mut attributes = tcgetattr(&stdin)?;
        attributes.local_flags.remove(LocalFlags::ECHO);
        tcsetattr(&stdin, SetArg::TCSANOW, &attributes)
    }

    pub fn show() {
        let stdin = std::io::stdin();
        if let Ok(mut attributes) = tcgetattr(&stdin) {
            attributes.local_flags.insert(LocalFlags::ECHO);
            let _ = tcsetattr(&stdin, SetArg::TCSANOW, &attributes);
        }
    }
}
