//! Admin requests to the daemon: status, sessions, revoke.

use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;
use ultraauth_proto::admin::{AdminReply, AdminRequest, DaemonStatus, SessionInfo};
use ultraauth_proto::{read_frame, write_frame};

use crate::output::{Exit, print_error, print_json};

/// Socket path used when neither `--socket` nor the configuration sets one.
const DEFAULT_SOCKET: &str = "/run/ultraauth/ultraauthd.sock";

/// Time the daemon has to respond to an admin request.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// Returns `--socket`, else `socket.path` from the configuration file, else the default.
///
/// Only that one key is read, so `status` works while another part of the file (an
/// unreadable secret, say) would make `check` fail.
pub fn socket_path(explicit: Option<PathBuf>, config: &Path) -> PathBuf {
    if let Some(path) = explicit {
        return path;
    }
    let configured = std::fs::read_to_string(config).ok().and_then(|text| text.parse::<toml::Table>().ok()).and_then(|table| {
        let path = table.get("socket")?.get("path")?.as_str()?;
        Some(PathBuf::from(path))
    });
    configured.unwrap_or_else(|| PathBuf::from(DEFAULT_SOCKET))
}

/// Connects to the daemon's socket with read and write timeouts set.
pub fn connect(socket: &Path, timeout: Duration) -> Result<UnixStream, String> {
    let stream = UnixStream::connect(socket).map_err(|err| format!("cannot connect to ultraauthd at {}: {err}; is the daemon running (systemctl status ultraauthd)?", socket.display()))?;
    stream.set_read_timeout(Some(timeout)).map_err(|err| format!("setting the socket timeout failed: {err}"))?;
    stream.set_write_timeout(Some(timeout)).map_err(|err| format!("setting the socket timeout failed: {err}"))?;
    Ok(stream)
}

/// Sends one admin request and returns the reply; an error reply becomes `Err`.
fn request(socket: &Path, request: &AdminRequest) -> Result<AdminReply, String> {
    let mut stream = connect(socket, REPLY_TIMEOUT)?;
    write_frame(&mut stream, request).map_err(|err| format!("sending the request to ultraauthd failed: {err}"))?;
    let reply: AdminReply = read_frame(&mut stream).map_err(|err| {
        format!("reading the reply from ultraauthd failed: {err}; the daemon closes the connection when this user is not in socket.allowed_users or socket.admin_users")
    })?;
    match reply {
        AdminReply::Error { message } => Err(format!("ultraauthd rejected the request: {message}")),
        reply => Ok(reply),
    }
}

fn unexpected(reply: &AdminReply) -> String {
    format!("ultraauthd sent an unexpected reply: {reply:?}")
}

pub fn status(socket: &Path, json: bool) -> Exit {
    let status = match request(socket, &AdminRequest::GetStatus {}) {
        Ok(AdminReply::Status(status)) => status,
        Ok(other) => return fail(json, &unexpected(&other)),
        Err(err) => {
            if json {
                print_json(&json!({ "running": false, "socket": socket, "error": err }));
            } else {
                println!("ultraauthd: not reachable");
                eprintln!("ultraauthctl: {err}");
            }
            return Exit::Unavailable;
        }
    };

    if json {
        print_json(&status_json(socket, &status));
    } else {
        println!("ultraauthd {}: running (pid {}, up {})", status.version, status.pid, format_duration(status.uptime_secs));
        println!("socket:          {}", socket.display());
        println!("issuer:          {}", status.issuer);
        println!("pending logins:  {}", status.pending_logins);
        println!("live sessions:   {}", status.live_sessions);
        println!("reloads:         {}", status.reloads);
    }
    Exit::Success
}

fn status_json(socket: &Path, status: &DaemonStatus) -> serde_json::Value {
    let mut value = serde_json::to_value(status).unwrap_or_default();
    value["running"] = json!(true);
    value["socket"] = json!(socket);
    value
}

pub fn sessions(socket: &Path, json: bool) -> Exit {
    let sessions = match request(socket, &AdminRequest::ListSessions {}) {
        Ok(AdminReply::Sessions { sessions }) => sessions,
        Ok(other) => return fail(json, &unexpected(&other)),
        Err(err) => return fail(json, &err),
    };

    if json {
        print_json(&json!({ "sessions": sessions }));
    } else {
        print_sessions(&sessions);
    }
    Exit::Success
}

fn print_sessions(sessions: &[SessionInfo]) {
    if sessions.is_empty() {
        println!("no live verified sessions");
        return;
    }
    println!("{:<20} {:<16} {:<24} {:>10}", "USER", "SERVICE", "FROM", "EXPIRES IN");
    for session in sessions {
        // A session is bound to the remote host, or for a local login to the terminal.
        let source = if session.rhost.is_empty() { format!("tty {}", session.tty) } else { session.rhost.clone() };
        println!("{:<20} {:<16} {:<24} {:>10}", session.user, session.service, source, format_duration(session.expires_in_secs));
    }
}

pub fn revoke(socket: &Path, user: &str, json: bool) -> Exit {
    let request_message = AdminRequest::RevokeSessions { user: user.to_owned() };
    let count = match request(socket, &request_message) {
        Ok(AdminReply::Revoked { count, .. }) => count,
        Ok(other) => return fail(json, &unexpected(&other)),
        Err(err) => return fail(json, &err),
    };

    if json {
        print_json(&json!({ "user": user, "revoked": count }));
    } else {
        println!("revoked {count} verified session(s) of {user}");
    }
    Exit::Success
}

fn fail(json: bool, message: &str) -> Exit {
    print_error(json, message);
    Exit::Unavailable
}

/// Formats seconds as `1h02m03s`, `4m05s` or `6s`.
pub fn format_duration(secs: u64) -> String {
    let (hours, minutes, seconds) = (secs / 3600, secs / 60 % 60, secs % 60);
    if hours > 0 {
        format!("{hours}h{minutes:02}m{seconds:02}s")
    } else if minutes > 0 {
        format!("{minutes}m{seconds:02}s")
    } else {
        format!("{seconds}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duration_formats() {
        assert_eq!(format_duration(6), "6s");
        assert_eq!(format_duration(245), "4m05s");
        assert_eq!(format_duration(3723), "1h02m03s");
    }

    #[test]
    fn socket_path_from_config_file() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("ultraauthd.toml");
        std::fs::write(&config, "[provider]\nissuer = \"x\"\n\n[socket]\npath = \"/tmp/other.sock\"\n").unwrap();

        assert_eq!(socket_path(None, &config), PathBuf::from("/tmp/other.sock"));
        assert_eq!(socket_path(Some("/tmp/given.sock".into()), &config), PathBuf::from("/tmp/given.sock"));
        assert_eq!(socket_path(None, &dir.path().join("missing.toml")), PathBuf::from(DEFAULT_SOCKET));
    }
}
