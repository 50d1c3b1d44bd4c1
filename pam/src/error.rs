//! The module's error type and the one place where outcomes become PAM return codes.

use std::fmt;

use pam::constants::PamResultCode;
use ultraauth_proto::{FrameError, Outcome};

#[derive(Debug)]
pub enum ModuleError {
    /// A module argument in the PAM service file is invalid.
    InvalidArgument(String),
    /// The daemon's socket is missing or nothing accepts connections on it.
    DaemonUnreachable(String),
    /// The daemon did not finish before the module's timeout.
    TimedOut,
    /// The connection broke or the daemon sent something the module does not expect.
    Protocol(String),
    /// The PAM application's conversation failed or is missing, with the raw PAM code.
    Conversation(i32),
    /// A PAM library call failed, with the raw PAM code.
    Pam(i32),
}

impl fmt::Display for ModuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModuleError::InvalidArgument(reason) => write!(f, "{reason}"),
            ModuleError::DaemonUnreachable(reason) => write!(f, "ultraauthd is not reachable: {reason}"),
            ModuleError::TimedOut => write!(f, "no response from ultraauthd before the module timeout"),
            ModuleError::Protocol(reason) => write!(f, "talking to ultraauthd failed: {reason}"),
            ModuleError::Conversation(code) => write!(f, "PAM conversation failed with code {code}"),
            ModuleError::Pam(code) => write!(f, "PAM call failed with code {code}"),
        }
    }
}

impl ModuleError {
    /// Wraps a failed conversation call.
    pub fn conversation(code: PamResultCode) -> Self {
        ModuleError::Conversation(code as i32)
    }

    /// Wraps a failed PAM library call.
    pub fn pam(code: PamResultCode) -> Self {
        ModuleError::Pam(code as i32)
    }
}

impl From<FrameError> for ModuleError {
    fn from(err: FrameError) -> Self {
        match err {
            FrameError::Io(io)
                if matches!(io.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) =>
            {
                ModuleError::TimedOut
            }
            other => ModuleError::Protocol(other.to_string()),
        }
    }
}

/// Maps the result of one authentication to the PAM return code.
pub fn pam_code(result: &Result<Outcome, ModuleError>) -> PamResultCode {
    match result {
        Ok(Outcome::Approved) => PamResultCode::PAM_SUCCESS,
        Ok(Outcome::Denied) | Ok(Outcome::TimedOut) => PamResultCode::PAM_AUTH_ERR,
        Ok(Outcome::Unavailable) => PamResultCode::PAM_AUTHINFO_UNAVAIL,
        Ok(Outcome::Ignore) => PamResultCode::PAM_IGNORE,
        Err(ModuleError::InvalidArgument(_)) => PamResultCode::PAM_SERVICE_ERR,
        Err(ModuleError::DaemonUnreachable(_)) => PamResultCode::PAM_AUTHINFO_UNAVAIL,
        Err(ModuleError::TimedOut) => PamResultCode::PAM_AUTHINFO_UNAVAIL,
        Err(ModuleError::Protocol(_)) => PamResultCode::PAM_AUTHINFO_UNAVAIL,
        Err(ModuleError::Conversation(_)) => PamResultCode::PAM_CONV_ERR,
        Err(ModuleError::Pam(code)) => PamResultCode::try_from(*code).unwrap_or(PamResultCode::PAM_SYSTEM_ERR),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pam_code_for_each_outcome() {
        assert_eq!(pam_code(&Ok(Outcome::Approved)), PamResultCode::PAM_SUCCESS);
        assert_eq!(pam_code(&Ok(Outcome::Denied)), PamResultCode::PAM_AUTH_ERR);
        assert_eq!(pam_code(&Ok(Outcome::TimedOut)), PamResultCode::PAM_AUTH_ERR);
        assert_eq!(pam_code(&Ok(Outcome::Unavailable)), PamResultCode::PAM_AUTHINFO_UNAVAIL);
        assert_eq!(pam_code(&Ok(Outcome::Ignore)), PamResultCode::PAM_IGNORE);
    }

    #[test]
    fn pam_code_for_module_errors() {
        let unreachable = Err(ModuleError::DaemonUnreachable("ENOENT".into()));
        assert_eq!(pam_code(&unreachable), PamResultCode::PAM_AUTHINFO_UNAVAIL);
        assert_eq!(pam_code(&Err(ModuleError::TimedOut)), PamResultCode::PAM_AUTHINFO_UNAVAIL);
        let bad_arg = Err(ModuleError::InvalidArgument("x".into()));
        assert_eq!(pam_code(&bad_arg), PamResultCode::PAM_SERVICE_ERR);
    }

    #[test]
    fn read_timeout_becomes_timed_out() {
        let io = std::io::Error::from(std::io::ErrorKind::WouldBlock);
        assert!(matches!(ModuleError::from(FrameError::Io(io)), ModuleError::TimedOut));
    }
}
