//! ultraauthctl: checks, observes and tests an ultraauthd installation.

mod check;
mod client;
mod login;
mod output;

use std::path::PathBuf;
use std::process::ExitCode;

use ultraauth::config::DEFAULT_CONFIG_PATH;
use ultraauth_proto::Flow;

use output::Exit;

const USAGE: &str = "\
Usage: ultraauthctl [OPTIONS] COMMAND

Commands:
  check                  validate the configuration, fetch the provider's discovery
                         document and list the flows and algorithms it offers
  status                 show whether the daemon runs, its pending logins and sessions
  sessions               list the live verified sessions
  sessions revoke USER   end every verified session of USER
  login USER             run one verification from this terminal, without PAM

Options:
  --config PATH       configuration file (default /etc/ultraauth/ultraauthd.toml)
  --user NAME         user that check reads the files as (default: the daemon's
                      user ultraauth when run as root and that user exists)
  --socket PATH       daemon socket (default: socket.path from the configuration)
  --json              print one JSON document on stdout, for scripts
  -h, --help          show this help
  --version           show the version

Options of login:
  --service NAME      PAM service name sent to the daemon (default ultraauthctl)
  --rhost HOST        remote host sent to the daemon (default none)
  --flow NAME         device, code, push or auto (default: the service's policy)
  --timeout SECONDS   longest wait for the verdict, 1 to 3600 (default 110)

Exit status: 0 success or approved; 1 check found a problem, or the login was denied
or timed out; 2 usage error or invalid configuration; 3 the daemon or the provider is
unavailable, or the daemon rejected the request.
";

/// Longest `--timeout`, in seconds, as for the module's `timeout=`.
const MAX_TIMEOUT_SECS: u32 = 3600;

/// Default `--timeout`, in seconds, as for the module's `timeout=`.
const DEFAULT_TIMEOUT_SECS: u32 = 110;

enum Command {
    Check,
    Status,
    Sessions,
    Revoke { user: String },
    Login(login::LoginOptions),
}

struct Options {
    config: PathBuf,
    socket: Option<PathBuf>,
    /// `--user`; `None` means the default of [`check::default_user`].
    check_user: Option<String>,
    json: bool,
    command: Command,
}

fn parse_options(args: Vec<String>) -> Result<Options, String> {
    let mut config = PathBuf::from(DEFAULT_CONFIG_PATH);
    let mut socket = None;
    let mut check_user = None;
    let mut json = false;
    let mut login = login::LoginOptions { user: String::new(), service: "ultraauthctl".into(), rhost: None, flow: None, timeout_secs: DEFAULT_TIMEOUT_SECS };
    let mut words = Vec::new();

    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--config" => config = PathBuf::from(value("--config")?),
            "--socket" => socket = Some(PathBuf::from(value("--socket")?)),
            "--user" => check_user = Some(value("--user")?),
            "--json" => json = true,
            "--service" => login.service = value("--service")?,
            "--rhost" => login.rhost = Some(value("--rhost")?),
            "--flow" => login.flow = parse_flow(&value("--flow")?)?,
            "--timeout" => login.timeout_secs = parse_timeout(&value("--timeout")?)?,
            "-h" | "--help" => {
                print!("{USAGE}");
                std::process::exit(0);
            }
            "--version" => {
                println!("ultraauthctl {}", env!("CARGO_PKG_VERSION"));
                std::process::exit(0);
            }
            option if option.starts_with('-') => return Err(format!("unknown option {option:?}")),
            word => words.push(word.to_owned()),
        }
    }

    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    let command = match words.as_slice() {
        ["check"] => Command::Check,
        ["status"] => Command::Status,
        ["sessions"] | ["sessions", "list"] => Command::Sessions,
        ["sessions", "revoke", user] => Command::Revoke { user: (*user).to_owned() },
        ["login", user] => {
            login.user = (*user).to_owned();
            Command::Login(login)
        }
        [] => return Err("a command is missing".into()),
        other => return Err(format!("unknown command {:?}", other.join(" "))),
    };
    Ok(Options { config, socket, check_user, json, command })
}

fn parse_flow(name: &str) -> Result<Option<Flow>, String> {
    match name {
        "auto" => Ok(None),
        "device" => Ok(Some(Flow::Device)),
        "code" => Ok(Some(Flow::Code)),
        "push" => Ok(Some(Flow::Push)),
        other => Err(format!("--flow {other:?} is not a flow; use device, code, push or auto")),
    }
}

fn parse_timeout(text: &str) -> Result<u32, String> {
    match text.parse::<u32>() {
        Ok(secs) if (1..=MAX_TIMEOUT_SECS).contains(&secs) => Ok(secs),
        _ => Err(format!("--timeout {text:?} is invalid; use whole seconds from 1 to {MAX_TIMEOUT_SECS}")),
    }
}

fn main() -> ExitCode {
    let options = match parse_options(std::env::args().skip(1).collect()) {
        Ok(options) => options,
        Err(err) => {
            eprintln!("ultraauthctl: {err}\n\n{USAGE}");
            return Exit::Usage.into();
        }
    };

    let exit = match options.command {
        Command::Check => {
            let user = options.check_user.or_else(check::default_user);
            check::run(&options.config, user.as_deref(), options.json)
        }
        command => {
            let socket = client::socket_path(options.socket, &options.config);
            match command {
                Command::Status => client::status(&socket, options.json),
                Command::Sessions => client::sessions(&socket, options.json),
                Command::Revoke { user } => client::revoke(&socket, &user, options.json),
                Command::Login(login) => login::run(&socket, &login, options.json),
                Command::Check => unreachable!("handled above"),
            }
        }
    };
    exit.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Options, String> {
        parse_options(args.iter().map(|arg| (*arg).to_owned()).collect())
    }

    #[test]
    fn options_revoke_with_global_options_anywhere() {
        let options = parse(&["sessions", "--json", "revoke", "alice", "--socket", "/tmp/u.sock"]).unwrap();
        assert!(options.json);
        assert_eq!(options.socket, Some(PathBuf::from("/tmp/u.sock")));
        assert!(matches!(options.command, Command::Revoke { user } if user == "alice"));
    }

    #[test]
    fn options_login_defaults() {
        let options = parse(&["login", "alice"]).unwrap();
        let Command::Login(login) = options.command else { panic!("not a login") };
        assert_eq!(login.user, "alice");
        assert_eq!(login.service, "ultraauthctl");
        assert_eq!(login.timeout_secs, DEFAULT_TIMEOUT_SECS);
        assert_eq!(login.flow, None);
    }

    #[test]
    fn options_reject_bad_input() {
        for args in [&["status", "extra"][..], &[], &["login"], &["login", "alice", "--timeout", "0"], &["check", "--verbose"], &["login", "alice", "--flow", "sms"]] {
            assert!(parse(args).is_err(), "{args:?} was accepted");
        }
    }
}
