//! Security log lines from the module, sent to syslog facility authpriv.
//!
//! Messages are `event=NAME key=value ...`, quoted as the daemon's audit lines are, so
//! one parser reads both. The module never writes to stdout or stderr, which belong to
//! the PAM application.

use std::ffi::CString;

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

pub use ultraauth_proto::logfmt::format_event;
