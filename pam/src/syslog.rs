//! Security log lines from the module, sent to syslog facility authpriv.
//!
//! Messages are `event=NAME key=value ...`, quoted as the daemon's audit lines are, so
//! one parser reads both. The module never writes to stdout or stderr, which belong to
//! the PAM application.

use std::ffi::CString;
use std::fmt::Write as _;

/// Syslog severities the module uses.
#[derive(Clone, Copy)]
pub enum Severity {
    Error,
    Info,
    Debug,
}

/// Writes one line to syslog (authpriv) as `pam_ultraauth(SERVICE:auth): MESSAGE`.
///
/// It calls syslog(3) with the facility in the priority and without openlog(3), so the
/// PAM application's own syslog identity and options stay untouched.
pub fn log(severity: Severity, service: &str, message: &str) {
    let level = match severity {
        Severity::Error => libc::LOG_ERR,
        Severity::Info => libc::LOG_INFO,
        Severity::Debug => libc::LOG_DEBUG,
    };
    let line = format!("pam_ultraauth({service}:auth): {message}").replace('\0', "\\0");
    let Ok(line) = CString::new(line) else { return };

    // SAFETY: both pointers are valid NUL-terminated strings that outlive the call, and the
    // "%s" format consumes exactly the one string argument passed.
    unsafe { libc::syslog(libc::LOG_AUTHPRIV | level, c"%s".as_ptr(), line.as_ptr()) };
}

/// Formats `event=NAME key=value ...`, quoting values with spaces, quotes or `=` and
/// escaping control characters, so one event is always one parseable line.
pub fn format_event(event: &str, fields: &[(&str, &str)]) -> String {
    let mut line = format!("event={}", quote_value(event));
    for (key, value) in fields {
        let _ = write!(line, " {key}={}", quote_value(value));
    }
    line
}

fn quote_value(value: &str) -> String {
    let needs_quotes = value.is_empty() || value.chars().any(|c| c.is_whitespace() || c == '"' || c == '=' || c.is_control() || is_format_mark(c));
    if !needs_quotes {
        return value.to_owned();
    }

    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('"');
    for c in value.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            c if c.is_control() || is_format_mark(c) => {
                let _ = write!(quoted, "\\u{{{:x}}}", c as u32);
            }
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

/// Unicode bidirectional controls and the line and paragraph separators, which a log
/// viewer may render as a line break or reordered text; the daemon escapes the same set.
fn is_format_mark(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{2028}' | '\u{2029}' | '\u{061c}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_quotes_reason_with_spaces() {
        let line = format_event("module_failed", &[("user", "alice"), ("reason", "connect to /run/x: No such file")]);
        assert_eq!(line, r#"event=module_failed user=alice reason="connect to /run/x: No such file""#);
    }

    #[test]
    fn event_escapes_line_separator_and_bidi() {
        let line = format_event("module_failed", &[("user", "a\u{2028}b\u{202e}")]);
        assert_eq!(line, r#"event=module_failed user="a\u{2028}b\u{202e}""#);
    }

    #[test]
    fn event_escapes_forged_fields() {
        let line = format_event("module_failed", &[("user", "eve\nevent=x \"y\"")]);
        assert_eq!(line, r#"event=module_failed user="eve\u{a}event=x \"y\"""#);
    }
}
