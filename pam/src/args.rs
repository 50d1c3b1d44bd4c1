//! Module arguments from the PAM service file, for example
//! `auth required pam_ultraauth.so socket=/run/ultraauth/ultraauthd.sock timeout=110`.

use std::path::PathBuf;

use ultraauth_proto::Flow;

/// Socket path used when the service file sets no `socket=`.
pub const DEFAULT_SOCKET: &str = "/run/ultraauth/ultraauthd.sock";

/// Seconds the module waits for the daemon when the service file sets no `timeout=`.
/// It stays below OpenSSH's default LoginGraceTime of 120 seconds.
pub const DEFAULT_TIMEOUT_SECS: u32 = 110;

/// Largest accepted `timeout=`, in seconds.
pub const MAX_TIMEOUT_SECS: u32 = 3600;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModuleArgs {
    pub socket: PathBuf,
    pub timeout_secs: u32,
    pub debug: bool,
    pub flow: Option<Flow>,
    /// Answer the daemon's first hidden prompt with PAM_AUTHTOK when an earlier module set it.
    pub use_first_pass: bool,
}

impl Default for ModuleArgs {
    fn default() -> Self {
        ModuleArgs {
            socket: PathBuf::from(DEFAULT_SOCKET),
            timeout_secs: DEFAULT_TIMEOUT_SECS,
            debug: false,
            flow: None,
            use_first_pass: false,
        }
    }
}

/// Parses the arguments; the error names the argument and the accepted form.
pub fn parse_args<'a>(args: impl IntoIterator<Item = &'a str>) -> Result<ModuleArgs, String> {
    let mut parsed = ModuleArgs::default();

    for arg in args {
        let (key, value) = match arg.split_once('=') {
            Some((key, value)) => (key, Some(value)),
            None => (arg, None),
        };

        match (key, value) {
            ("debug", None) => parsed.debug = true,
            ("socket", Some(path)) if path.starts_with('/') => parsed.socket = PathBuf::from(path),
            ("socket", _) => {
                return Err(format!("invalid argument {arg:?}: socket= needs an absolute path"));
            }
            ("timeout", Some(secs)) => parsed.timeout_secs = parse_timeout(arg, secs)?,
            ("flow", Some("device")) => parsed.flow = Some(Flow::Device),
            ("flow", Some("code")) => parsed.flow = Some(Flow::Code),
            ("flow", Some("push")) => parsed.flow = Some(Flow::Push),
            ("flow", Some("auto")) => parsed.flow = None,
            ("flow", _) => {
                return Err(format!("invalid argument {arg:?}: flow= accepts device, code, push or auto"));
            }
            ("use_first_pass", None) => parsed.use_first_pass = true,
            _ => {
                return Err(format!(
                    "unknown argument {arg:?}: accepted are socket=PATH, timeout=SECONDS, flow=NAME, use_first_pass and debug"
                ));
            }
        }
    }

    Ok(parsed)
}

fn parse_timeout(arg: &str, secs: &str) -> Result<u32, String> {
    match secs.parse::<u32>() {
        Ok(value) if (1..=MAX_TIMEOUT_SECS).contains(&value) => Ok(value),
        _ => Err(format!(
            "invalid argument {arg:?}: timeout= needs whole seconds from 1 to {MAX_TIMEOUT_SECS}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_defaults_when_empty() {
        assert_eq!(parse_args([]).unwrap(), ModuleArgs::default());
    }

    #[test]
    fn args_all_keys() {
        let args = parse_args(["socket=/tmp/u.sock", "timeout=30", "debug", "flow=device", "use_first_pass"]).unwrap();
        assert_eq!(args.socket, PathBuf::from("/tmp/u.sock"));
        assert_eq!(args.timeout_secs, 30);
        assert!(args.debug);
        assert_eq!(args.flow, Some(Flow::Device));
        assert!(args.use_first_pass);
    }

    #[test]
    fn args_code_and_push_flows() {
        assert_eq!(parse_args(["flow=code"]).unwrap().flow, Some(Flow::Code));
        assert_eq!(parse_args(["flow=push"]).unwrap().flow, Some(Flow::Push));
        assert_eq!(parse_args(["flow=auto"]).unwrap().flow, None);
    }

    #[test]
    fn args_reject_relative_socket() {
        let err = parse_args(["socket=run/u.sock"]).unwrap_err();
        assert!(err.contains("absolute path"), "{err}");
    }

    #[test]
    fn args_reject_bad_timeouts() {
        for bad in ["timeout=0", "timeout=-1", "timeout=abc", "timeout=3601", "timeout="] {
            let err = parse_args([bad]).unwrap_err();
            assert!(err.contains("timeout="), "{bad}: {err}");
        }
    }

    #[test]
    fn args_reject_unknown_key() {
        let err = parse_args(["timout=30"]).unwrap_err();
        assert!(err.contains("\"timout=30\""), "{err}");
    }

    #[test]
    fn args_reject_unknown_flow() {
        assert!(parse_args(["flow=telepathy"]).is_err());
    }
}
