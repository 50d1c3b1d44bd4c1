//! The audit log: one line per security event with stable key=value fields, sent to
//! syslog facility authpriv and mirrored to stderr (the journal, under systemd).
//!
//! Callers pass only names, addresses and reasons. Tokens, secrets, device codes and
//! user codes never reach this module.

use std::sync::Mutex;

use syslog::{Facility, Formatter3164, Logger, LoggerBackend};


/// Syslog severity of an audit line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Error,
    Warning,
    Notice,
    Info,
}

pub struct AuditLog {
    syslog: Option<Mutex<Logger<LoggerBackend, Formatter3164>>>,
    stderr: bool,
}

impl AuditLog {
    /// Opens the syslog connection; without a syslog daemon the lines go to stderr only.
    ///
    /// Under systemd, stderr is the journal ($JOURNAL_STREAM is set) and syslog lines
    /// reach the journal too, so the stderr copy is left out while syslog is connected.
    pub fn open(use_syslog: bool, stderr: bool) -> Self {
        let syslog = use_syslog.then(connect_syslog).flatten().map(Mutex::new);
        let stderr_is_journal = std::env::var_os("JOURNAL_STREAM").is_some();
        AuditLog { stderr: stderr && !(syslog.is_some() && stderr_is_journal), syslog }
    }

    /// Creates a log that writes only to stderr, for tests and `--no-syslog`.
    pub fn stderr_only() -> Self {
        AuditLog { syslog: None, stderr: true }
    }

    /// Writes one event: `event=NAME key=value ...`, with the verdict fields completed
    /// by [`verdict_fields`].
    pub fn event(&self, level: Level, event: &str, fields: &[(&str, &str)]) {
        let line = format_event(event, &verdict_fields(event, fields));

        if self.stderr {
            // One write per line, so lines from concurrent logins never interleave.
            let text = format!("ultraauthd: {} {line}\n", level_name(level));
            let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), text.as_bytes());
        }
        if let Some(logger) = &self.syslog {
            let mut logger = logger.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if send(&mut logger, level, &line).is_err() {
                // syslog 7 does not reconnect when /dev/log is recreated, so reconnect once.
                if let Some(fresh) = connect_syslog() {
                    *logger = fresh;
                    let _ = send(&mut logger, level, &line);
                }
            }
        }
    }
}

fn connect_syslog() -> Option<Logger<LoggerBackend, Formatter3164>> {
    let formatter = Formatter3164 {
        facility: Facility::LOG_AUTHPRIV,
        hostname: None,
        process: "ultraauthd".into(),
        pid: std::process::id(),
    };
    syslog::unix(formatter).ok()
}

fn send(logger: &mut Logger<LoggerBackend, Formatter3164>, level: Level, line: &str) -> syslog::Result<()> {
    match level {
        Level::Error => logger.err(line),
        Level::Warning => logger.warning(line),
        Level::Notice => logger.notice(line),
        Level::Info => logger.info(line),
    }
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::Error => "error",
        Level::Warning => "warning",
        Level::Notice => "notice",
        Level::Info => "info",
    }
}

/// Prefix of the events that end a login with a verdict: login_approved, login_denied,
/// login_timed_out, login_unavailable.
const VERDICT_PREFIX: &str = "login_";

/// Returns `fields` with `flow` and `result` added to verdict events that lack them, so
/// every verdict line has user, service, rhost, flow, result and reason. `result` is the
/// event name without `login_`; a missing `flow` is `-` (no flow ran).
pub fn verdict_fields<'a>(event: &'a str, fields: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut completed = fields.to_vec();
    let Some(result) = event.strip_prefix(VERDICT_PREFIX) else { return completed };

    let has = |key: &str| fields.iter().any(|(name, _)| *name == key);
    if !has("flow") {
        completed.push(("flow", "-"));
    }
    if !has("result") {
        completed.push(("result", result));
    }
    completed
}

pub use ultraauth_proto::logfmt::format_event;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_plain_fields() {
        let line = format_event("login_approved", &[("user", "alice"), ("service", "sshd")]);
        assert_eq!(line, "event=login_approved user=alice service=sshd");
    }

    #[test]
    fn event_quotes_spaces_and_escapes_newlines() {
        let line = format_event("login_denied", &[("reason", "bad \"sig\"\nevent=forged")]);
        assert_eq!(line, r#"event=login_denied reason="bad \"sig\"\u{a}event=forged""#);
    }

    #[test]
    fn event_escapes_line_separator_and_bidi() {
        let line = format_event("x", &[("user", "a\u{2028}b\u{202e}")]);
        assert_eq!(line, r#"event=x user="a\u{2028}b\u{202e}""#);
    }

    #[test]
    fn verdict_event_gets_flow_and_result() {
        let fields = verdict_fields("login_unavailable", &[("user", "alice"), ("reason", "no conversation")]);
        let line = format_event("login_unavailable", &fields);
        assert_eq!(line, r#"event=login_unavailable user=alice reason="no conversation" flow=- result=unavailable"#);
    }

    #[test]
    fn verdict_event_keeps_given_flow() {
        let fields = verdict_fields("login_timed_out", &[("flow", "device")]);
        assert_eq!(fields, vec![("flow", "device"), ("result", "timed_out")]);
    }

    #[test]
    fn other_events_get_no_result() {
        let fields = verdict_fields("flow_started", &[("flow", "device")]);
        assert_eq!(fields, vec![("flow", "device")]);
    }

    #[test]
    fn event_empty_value_is_quoted() {
        assert_eq!(format_event("x", &[("rhost", "")]), r#"event=x rhost="""#);
    }
}
