//! The connection to ultraauthd behind a trait, so the login logic can be tested
//! with a scripted daemon.

use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use ultraauth_proto::{DaemonReply, ModuleRequest, read_frame, write_frame};

use crate::error::ModuleError;

/// Timeout for writing one frame to the daemon.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

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
    /// Connects to the daemon's socket.
    ///
    /// A missing socket or a daemon that is not running fails at once (ENOENT or
    /// ECONNREFUSED), so a login never waits for a daemon that is down.
    /// NOTE: a daemon whose listen backlog is full makes connect() block; the module's
    /// timeout does not cover that case.
    pub fn connect(path: &Path) -> Result<Self, ModuleError> {
        let stream = UnixStream::connect(path)
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
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(ModuleError::TimedOut);
        }

        self.stream
            .set_read_timeout(Some(remaining))
            .map_err(|err| ModuleError::Protocol(format!("set read timeout: {err}")))?;
        read_frame(&mut self.stream).map_err(ModuleError::from)
    }
}
