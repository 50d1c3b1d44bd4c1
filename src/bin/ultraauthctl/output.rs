//! Exit codes and JSON output shared by the commands.

use std::process::ExitCode;

use serde::Serialize;

/// The exit codes listed in the usage text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    Success,
    /// A check found a problem, or the login was denied or timed out.
    Failed,
    /// A usage error or an invalid configuration.
    Usage,
    /// The daemon or the provider is unavailable, or the daemon rejected the request.
    Unavailable,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(match exit {
            Exit::Success => 0,
            Exit::Failed => 1,
            Exit::Usage => 2,
            Exit::Unavailable => 3,
        })
    }
}

/// Prints `value` as one pretty-printed JSON document on stdout.
pub fn print_json<T: Serialize>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => println!("{text}"),
        Err(err) => eprintln!("ultraauthctl: encoding the JSON output failed: {err}"),
    }
}

/// Prints an error: as `{"error": ...}` on stdout with `--json`, else on stderr.
pub fn print_error(json: bool, message: &str) {
    if json {
        print_json(&serde_json::json!({ "error": message }));
    } else {
        eprintln!("ultraauthctl: {message}");
    }
}
