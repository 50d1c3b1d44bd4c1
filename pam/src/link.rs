//! The connection to ultraauthd behind a trait, so the login logic can be tested
//! with a scripted daemon.

use std::io::{self, Read};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use ultraauth_proto::{DaemonReply, ModuleRequest, read_frame, write_frame};

use crate::error::ModuleError;

/// Timeout for writing one frame to the daemon.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// Maximum wait for a daemon whose listen backlog is full.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Pause between connect attempts while the backlog is full.
const CONNECT_RETRY: Duration = Duration::from_millis(20);

/// Sends requests to the daemon and receives its replies.
pub trait DaemonLink {
    fn send(&mut self, request: &ModuleRequest) -> Result<(), ModuleError>;

    /// Receives the next reply, waiting at most until `deadline`.
    fn receive(&mut self, deadline: Instant) -> Result<DaemonReply, ModuleError>;
}

/// A Unix stream socket connection to ultraauthd.
pub struct UnixLink {
    stream: UnixStream,
}

impl UnixLink {
    /// Connects to the daemon's socket before `deadline` (and within [`CONNECT_TIMEOUT`]).
    ///
    /// A missing socket or a daemon that is not running fails at once (ENOENT or
    /// ECONNREFUSED). A daemon whose listen backlog is full is retried until the limit
    /// instead of blocking, because a blocking connect(2) would ignore the timeout.
    pub fn connect(path: &Path, deadline: Instant) -> Result<Self, ModuleError> {
        let limit = deadline.min(Instant::now() + CONNECT_TIMEOUT);
        let stream = connect_before(path, limit)
            .map_err(|err| ModuleError::DaemonUnreachable(format!("connect to {}: {err}", path.display())))?;
        stream
            .set_write_timeout(Some(WRITE_TIMEOUT))
            .map_err(|err| ModuleError::Protocol(format!("set write timeout: {err}")))?;
        Ok(UnixLink { stream })
    }
}

impl DaemonLink for UnixLink {
    fn send(&mut self, request: &ModuleRequest) -> Result<(), ModuleError> {
        write_frame(&mut self.stream, request).map_err(ModuleError::from)
    }

    fn receive(&mut self, deadline: Instant) -> Result<DaemonReply, ModuleError> {
        let mut reader = DeadlineReader { stream: &self.stream, deadline };
        read_frame(&mut reader).map_err(ModuleError::from)
    }
}

/// Reads with a timeout recomputed before every read(2), so a daemon that trickles
/// bytes cannot stretch one frame past the deadline.
struct DeadlineReader<'a> {
    stream: &'a UnixStream,
    deadline: Instant,
}

impl Read for DeadlineReader<'_> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let remaining = self.deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        self.stream.set_read_timeout(Some(remaining))?;
        (&mut &*self.stream).read(buffer)
    }
}

/// Connects a non-blocking Unix stream socket, retrying while the backlog is full.
fn connect_before(path: &Path, limit: Instant) -> io::Result<UnixStream> {
    let (address, address_len) = socket_address(path)?;

    // SAFETY: socket(2) takes no pointers; the returned descriptor is checked below.
    let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh descriptor that nothing else owns, so OwnedFd may close it.
    let socket = unsafe { OwnedFd::from_raw_fd(fd) };

    loop {
        // SAFETY: `address` is an initialized sockaddr_un and `address_len` covers only
        // its family and the path bytes written into it.
        let status = unsafe { libc::connect(fd, std::ptr::from_ref(&address).cast(), address_len) };
        if status == 0 {
            break;
        }

        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EAGAIN) if Instant::now() + CONNECT_RETRY < limit => std::thread::sleep(CONNECT_RETRY),
            Some(libc::EAGAIN) => return Err(io::Error::new(io::ErrorKind::TimedOut, "the daemon's listen backlog stayed full")),
            _ => return Err(err),
        }
    }

    let stream = UnixStream::from(socket);
    stream.set_nonblocking(false)?;
    Ok(stream)
}

/// Builds a sockaddr_un for `path`, which must fit sun_path with its NUL byte.
fn socket_address(path: &Path) -> io::Result<(libc::sockaddr_un, libc::socklen_t)> {
    // SAFETY: sockaddr_un is plain old data, for which all-zero bytes are a valid value.
    let mut address: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    address.sun_family = libc::AF_UNIX as libc::sa_family_t;

    let bytes = path.as_os_str().as_bytes();
    if bytes.len() >= address.sun_path.len() || bytes.contains(&0) {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "socket path is too long for sun_path or contains NUL"));
    }
    for (slot, byte) in address.sun_path.iter_mut().zip(bytes) {
        *slot = *byte as libc::c_char;
    }

    let len = std::mem::offset_of!(libc::sockaddr_un, sun_path) + bytes.len() + 1;
    Ok((address, len as libc::socklen_t))
}
