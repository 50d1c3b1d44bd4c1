//! The Unix socket server: binding, peer checks and one task per connection.

use std::fs;
use std::io;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;

use serde_json::Value;
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use ultraauth_proto::FrameError;
use ultraauth_proto::admin::is_admin_type;

use crate::admin::serve_admin;
use crate::audit::Level;
use crate::daemon::Daemon;
use crate::login::{BEGIN_TIMEOUT, serve_connection};
use crate::socket_io::read_message;

/// Maximum connections served at once; each pending login keeps one open.
pub const MAX_CONNECTIONS: usize = 20_000;

/// Binds the socket, replacing a stale socket file left by a daemon that died.
///
/// The socket file is world-writable so any local process can connect, and every
/// connection is then checked against `socket.allowed_users` with SO_PEERCRED.
pub fn bind_socket(path: &Path) -> io::Result<UnixListener> {
    if let Some(parent) = path.parent() {
        if !parent.exists() {
            fs::create_dir_all(parent)?;
            fs::set_permissions(parent, fs::Permissions::from_mode(0o755))?;
        }
    }

    match fs::symlink_metadata(path) {
        Ok(metadata) if metadata.file_type().is_socket() => {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(io::Error::new(io::ErrorKind::AddrInUse, format!("another daemon is listening on {}", path.display())));
            }
            fs::remove_file(path)?;
        }
        Ok(_) => {
            return Err(io::Error::new(io::ErrorKind::AlreadyExists, format!("{} exists and is not a socket; remove it or set socket.path", path.display())));
        }
        Err(err) if err.kind() == io::ErrorKind::NotFound => {}
        Err(err) => return Err(err),
    }

    let listener = UnixListener::bind(path)?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o666))?;
    Ok(listener)
}

/// Accepts connections until the listener fails; each runs in its own task.
pub async fn serve(daemon: Arc<Daemon>, listener: UnixListener) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));

    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(err) => {
                daemon.audit.event(Level::Error, "accept_failed", &[("reason", &err.to_string())]);
                // Out of file descriptors is the usual cause: wait instead of spinning.
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };

        let Some(caller_uid) = peer_uid_allowed(&daemon, &stream) else {
            continue;
        };

        let Ok(permit) = slots.clone().try_acquire_owned() else {
            daemon.audit.event(Level::Error, "connection_rejected", &[("reason", &format!("{MAX_CONNECTIONS} connections already open"))]);
            continue;
        };

        let daemon = daemon.clone();
        tokio::spawn(async move {
            serve_client(&daemon, caller_uid, stream).await;
            drop(permit);
        });
    }
}

/// Reads the first frame and hands the connection to the admin side (`ultraauthctl`)
/// or to the login side (the PAM module), each with its own list of allowed users.
async fn serve_client(daemon: &Arc<Daemon>, uid: u32, stream: UnixStream) {
    let (mut reader, mut writer) = stream.into_split();
    let first: Result<Value, FrameError> = read_message(&mut reader, Instant::now() + BEGIN_TIMEOUT).await;

    match first {
        Ok(message) if message.get("type").and_then(Value::as_str).is_some_and(is_admin_type) => {
            let request = serde_json::from_value(message).map_err(|err| err.to_string());
            serve_admin(daemon, uid, request, &mut writer).await;
        }
        first => {
            if !daemon.allowed_uids.load().contains(&uid) {
                log_rejection(daemon, uid, None, "uid not in socket.allowed_users");
                return;
            }
            let first = first.and_then(|message| serde_json::from_value(message).map_err(FrameError::InvalidMessage));
            let _pending = daemon.pending.start();
            serve_connection(daemon, first, reader, writer, uid).await;
        }
    }
}

/// Returns the connecting process's uid (SO_PEERCRED) when `socket.allowed_users` or
/// `socket.admin_users` lists it; which requests it may send is checked after its first
/// frame.
fn peer_uid_allowed(daemon: &Daemon, stream: &UnixStream) -> Option<u32> {
    let cred = match stream.peer_cred() {
        Ok(cred) => cred,
        Err(err) => {
            daemon.audit.event(Level::Warning, "peer_rejected", &[("reason", &format!("SO_PEERCRED failed: {err}"))]);
            return None;
        }
    };
    if daemon.allowed_uids.load().contains(&cred.uid()) || daemon.admin.is_admin(cred.uid()) {
        return Some(cred.uid());
    }

    log_rejection(daemon, cred.uid(), cred.pid(), "uid not in socket.allowed_users or socket.admin_users");
    None
}

/// Logs `peer_rejected` at most once per uid every
/// [`crate::rate_limit::REJECTION_LOG_INTERVAL`], with the count, so a local user cannot
/// flood the log.
fn log_rejection(daemon: &Daemon, uid: u32, pid: Option<i32>, reason: &str) {
    if let Some(suppressed) = daemon.rejections.note(uid) {
        let uid = uid.to_string();
        let pid = pid.map(|pid| pid.to_string()).unwrap_or_else(|| "-".into());
        let suppressed = suppressed.to_string();
        daemon.audit.event(Level::Warning, "peer_rejected", &[("uid", &uid), ("pid", &pid), ("suppressed", &suppressed), ("reason", reason)]);
    }
}
