//! The daemon's side of `ultraauthctl`: admin requests on the login socket.
//!
//! Only peers whose uid is in `socket.admin_users` get an answer. Each connection
//! carries one request and its reply.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use tokio::net::unix::OwnedWriteHalf;
use ultraauth_proto::admin::{AdminReply, AdminRequest, DaemonStatus, SessionInfo};

use crate::audit::Level;
use crate::daemon::Daemon;
use crate::reload::Swappable;
use crate::socket_io::write_message;

/// State the daemon keeps for admin requests besides its login state.
pub struct AdminState {
    /// Uids allowed to send admin requests (`socket.admin_users`).
    pub admin_uids: Swappable<Vec<u32>>,
    /// The socket the daemon listens on, fixed until the next restart.
    pub socket_path: PathBuf,
    started: Instant,
    reloads: AtomicU64,
}

impl AdminState {
    pub fn new(admin_uids: Vec<u32>, socket_path: PathBuf) -> Self {
        AdminState { admin_uids: Swappable::new(admin_uids), socket_path, started: Instant::now(), reloads: AtomicU64::new(0) }
    }

    pub fn count_reload(&self) {
        self.reloads.fetch_add(1, Ordering::Relaxed);
    }

    pub fn is_admin(&self, uid: u32) -> bool {
        self.admin_uids.load().contains(&uid)
    }
}

/// Serves one admin request from the peer with `uid` and writes the reply.
pub async fn serve_admin(daemon: &Daemon, uid: u32, request: Result<AdminRequest, String>, writer: &mut OwnedWriteHalf) {
    let shown_uid = uid.to_string();
    let reply = match request {
        Err(reason) => {
            daemon.audit.event(Level::Warning, "protocol_error", &[("uid", &shown_uid), ("reason", &reason)]);
            AdminReply::Error { message: format!("invalid admin request: {reason}") }
        }
        Ok(_) if !daemon.admin.is_admin(uid) => {
            daemon.audit.event(Level::Warning, "admin_rejected", &[("uid", &shown_uid), ("reason", "uid not in socket.admin_users")]);
            AdminReply::Error { message: format!("uid {uid} may not send admin requests; add the user to socket.admin_users") }
        }
        Ok(request) => answer(daemon, &shown_uid, request),
    };

    if let Err(err) = write_message(writer, &reply).await {
        daemon.audit.event(Level::Warning, "client_disconnected", &[("uid", &shown_uid), ("reason", &format!("sending the admin reply failed: {err}"))]);
    }
}

fn answer(daemon: &Daemon, uid: &str, request: AdminRequest) -> AdminReply {
    match request {
        AdminRequest::GetStatus {} => AdminReply::Status(status(daemon)),
        AdminRequest::ListSessions {} => {
            let sessions = daemon
                .sessions
                .list()
                .into_iter()
                .map(|(key, left)| SessionInfo {
                    user: key.user,
                    service: key.service,
                    rhost: key.rhost,
                    tty: key.tty,
                    caller_uid: key.caller_uid,
                    expires_in_secs: left.as_secs(),
                })
                .collect();
            AdminReply::Sessions { sessions }
        }
        AdminRequest::RevokeSessions { user } => {
            let count = daemon.sessions.revoke_user(&user);
            let shown_count = count.to_string();
            daemon.audit.event(Level::Notice, "sessions_revoked", &[("user", &user), ("count", &shown_count), ("uid", uid)]);
            AdminReply::Revoked { user, count }
        }
    }
}

fn status(daemon: &Daemon) -> DaemonStatus {
    DaemonStatus {
        version: env!("CARGO_PKG_VERSION").into(),
        pid: std::process::id(),
        uptime_secs: daemon.admin.started.elapsed().as_secs(),
        issuer: daemon.provider.config().issuer.clone(),
        pending_logins: daemon.pending.count(),
        live_sessions: daemon.sessions.live_count(),
        reloads: daemon.admin.reloads.load(Ordering::Relaxed),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use crate::config::load_config;

    fn config_with_socket_table(socket_table: &str) -> Result<crate::config::Config, crate::config::ConfigError> {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        write!(file, "[provider]\nissuer = \"http://127.0.0.1:9/op\"\nclient_id = \"c\"\n\n[socket]\n{socket_table}").unwrap();
        load_config(file.path())
    }

    #[test]
    fn admin_users_default_to_root() {
        let config = config_with_socket_table("").unwrap();
        assert_eq!(config.admin_uids, vec![0]);
    }

    #[test]
    fn admin_users_resolve_to_uids() {
        let config = config_with_socket_table("admin_users = [\"root\", \"nobody\"]\n").unwrap();
        assert_eq!(config.admin_uids, vec![0, 65534]);
    }

    #[test]
    fn admin_users_unknown_user_names_key() {
        let err = config_with_socket_table("admin_users = [\"no-such-user-ultraauth\"]\n").unwrap_err().to_string();
        assert!(err.contains("socket.admin_users"), "{err}");
        assert!(err.contains("no-such-user-ultraauth"), "{err}");
    }
}
