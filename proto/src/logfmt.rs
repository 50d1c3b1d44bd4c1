//! Log lines as `event=NAME key=value ...`, shared by the module's and the daemon's
//! syslog lines so a SIEM parses both the same way.

use std::fmt::Write as _;

/// Formats `event=NAME key=value ...`, quoting values with spaces, quotes or `=` and
/// escaping control characters, so one event is always one parseable line.
pub fn format_event(event: &str, fields: &[(&str, &str)]) -> String {
    let mut line = format!("event={}", quote_value(event));
    for (key, value) in fields {
        let _ = write!(line, " {key}={}", quote_value(value));
    }
    line
}

pub fn quote_value(value: &str) -> String {
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
/// viewer may render as a line break or reordered text and a terminal may reorder.
pub fn is_format_mark(c: char) -> bool {
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
