//! Readiness and status notifications to systemd (sd_notify(3) protocol).
//!
//! With `Type=notify`, systemd passes a datagram socket in `$NOTIFY_SOCKET` and waits for
//! `READY=1` before it counts the service as started. The address is a file path, or an
//! abstract socket name when it starts with `@`. Without `$NOTIFY_SOCKET` (not started
//! by systemd) every call does nothing.

use std::io;
use std::os::unix::net::UnixDatagram;

/// Environment variable that carries the notification socket's address.
pub const NOTIFY_SOCKET_ENV: &str = "NOTIFY_SOCKET";

/// Sends `state` (for example `READY=1`) to the socket in `$NOTIFY_SOCKET`.
///
/// Returns `Ok(false)` when the variable is unset or empty, `Ok(true)` when sent.
pub fn notify(state: &str) -> io::Result<bool> {
    match std::env::var_os(NOTIFY_SOCKET_ENV) {
        Some(address) if !address.is_empty() => {
            let address = address.into_string().map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "$NOTIFY_SOCKET is not UTF-8"))?;
            notify_to(&address, state)?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// Sends `state` as one datagram to `address`: a socket path, or `@name` for an abstract
/// socket.
pub fn notify_to(address: &str, state: &str) -> io::Result<()> {
    let socket = UnixDatagram::unbound()?;

    let sent = match address.strip_prefix('@') {
        Some(name) => send_to_abstract(&socket, name.as_bytes(), state.as_bytes())?,
        None if address.starts_with('/') => socket.send_to(state.as_bytes(), address)?,
        None => {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("{NOTIFY_SOCKET_ENV}={address:?} is neither an absolute path nor an @abstract name")));
        }
    };

    if sent != state.len() {
        return Err(io::Error::new(io::ErrorKind::WriteZero, format!("sent {sent} of {} bytes to {address}", state.len())));
    }
    Ok(())
}

fn send_to_abstract(socket: &UnixDatagram, name: &[u8], data: &[u8]) -> io::Result<usize> {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::SocketAddr;

    let address = SocketAddr::from_abstract_name(name)?;
    socket.send_to_addr(data, &address)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn receive(socket: &UnixDatagram) -> String {
        socket.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buffer = [0u8; 256];
        let len = socket.recv(&mut buffer).unwrap();
        String::from_utf8_lossy(&buffer[..len]).into_owned()
    }

    #[test]
    fn notify_to_path_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let listener = UnixDatagram::bind(&path).unwrap();

        notify_to(path.to_str().unwrap(), "READY=1").unwrap();
        assert_eq!(receive(&listener), "READY=1");
    }

    #[test]
    fn notify_to_abstract_socket() {
        use std::os::linux::net::SocketAddrExt;
        use std::os::unix::net::SocketAddr;

        let name = format!("ultraauth-notify-test-{}", std::process::id());
        let listener = UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes()).unwrap()).unwrap();

        notify_to(&format!("@{name}"), "STATUS=ready\nREADY=1").unwrap();
        assert_eq!(receive(&listener), "STATUS=ready\nREADY=1");
    }

    #[test]
    fn notify_to_relative_path_is_rejected() {
        let err = notify_to("relative.sock", "READY=1").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn notify_to_missing_socket_fails() {
        let dir = tempfile::tempdir().unwrap();
        assert!(notify_to(dir.path().join("absent.sock").to_str().unwrap(), "READY=1").is_err());
    }
}
