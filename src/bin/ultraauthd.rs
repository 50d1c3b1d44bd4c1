//! ultraauthd: the daemon behind pam_ultraauth.so.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use ultraauth::audit::{AuditLog, Level};
use ultraauth::clock::SystemClock;
use ultraauth::config::{DEFAULT_CONFIG_PATH, load_config};
use ultraauth::daemon::Daemon;
use ultraauth::notify::notify;
use ultraauth::reload::reload_on_sighup;
use ultraauth::server::{bind_socket, serve};
use ultraauth::web::serve_web;

const USAGE: &str = "\
Usage: ultraauthd [--config PATH] [--check] [--no-syslog]

  --config PATH  configuration file (default /etc/ultraauth/ultraauthd.toml)
  --check        validate the configuration and exit
  --no-syslog    write audit lines to stderr only
";

struct Options {
    config: PathBuf,
    check_only: bool,
    syslog: bool,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options { config: PathBuf::from(DEFAULT_CONFIG_PATH), check_only: false, syslog: true };
    let mut args = std::env::args().skip(1);

    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--config" => options.config = args.next().map(PathBuf::from).ok_or("--config needs a path")?,
            "--check" => options.check_only = true,
            "--no-syslog" => options.syslog = false,
            "--help" | "-h" => {
                print!("{USAGE}");
                std::process::exit(0);
            }
            "--version" => {
                println!("ultraauthd {}", env!("CARGO_PKG_VERSION"));
                std::process::exit(0);
            }
            other => return Err(format!("unknown option {other:?}\n{USAGE}")),
        }
    }
    Ok(options)
}

fn main() -> ExitCode {
    let options = match parse_options() {
        Ok(options) => options,
        Err(err) => {
            eprintln!("ultraauthd: {err}");
            return ExitCode::from(2);
        }
    };

    let config = match load_config(&options.config) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("ultraauthd: {err}");
            return ExitCode::from(2);
        }
    };
    if options.check_only {
        println!("ultraauthd: {} is valid", options.config.display());
        return ExitCode::SUCCESS;
    }

    raise_open_files_limit();

    // One thread serves every login: pending logins are timers and sockets, and a second
    // worker only added wake-ups between threads to each request.
    // NOTE: a syslog write that blocks (a stuck syslog daemon) stalls all logins meanwhile.
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("ultraauthd: starting the async runtime failed: {err}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(config, options.config, options.syslog))
}

async fn run(config: ultraauth::config::Config, config_path: PathBuf, syslog: bool) -> ExitCode {
    let socket_path = config.socket_path.clone();
    let audit = AuditLog::open(syslog, true);

    let daemon = match Daemon::new(config, audit, Arc::new(SystemClock)) {
        Ok(daemon) => Arc::new(daemon),
        Err(err) => {
            eprintln!("ultraauthd: {err}");
            return ExitCode::FAILURE;
        }
    };

    if let Err(err) = reload_on_sighup(daemon.clone(), config_path) {
        eprintln!("ultraauthd: installing the SIGHUP handler for configuration reloads failed: {err}");
        return ExitCode::FAILURE;
    }

    let listener = match bind_socket(&socket_path) {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("ultraauthd: cannot listen on {}: {err}", socket_path.display());
            return ExitCode::FAILURE;
        }
    };
    if let Some(web) = daemon.web.clone() {
        let web_listener = match tokio::net::TcpListener::bind(web.listen).await {
            Ok(listener) => listener,
            Err(err) => {
                eprintln!("ultraauthd: cannot listen on web.listen = {}: {err}", web.listen);
                return ExitCode::FAILURE;
            }
        };
        let address = web_listener.local_addr().map(|addr| addr.to_string()).unwrap_or_default();
        daemon.audit.event(Level::Notice, "web_listening", &[("listen", &address), ("public_url", &web.public_url)]);
        tokio::spawn(serve_web(daemon.clone(), web_listener));
    }

    let shown_path = socket_path.display().to_string();
    daemon.audit.event(Level::Notice, "daemon_started", &[("socket", &shown_path), ("issuer", &daemon.provider.config().issuer)]);

    // The socket accepts connections from here on: tell systemd (Type=notify).
    if let Err(err) = notify(&format!("READY=1\nSTATUS=listening on {shown_path}")) {
        daemon.audit.event(Level::Warning, "notify_failed", &[("reason", &format!("sending READY=1 to $NOTIFY_SOCKET failed: {err}"))]);
    }

    // Fetch discovery now so a provider problem shows in the log before the first login.
    let warmup = daemon.clone();
    tokio::spawn(async move {
        if let Err(err) = warmup.provider.metadata().await {
            warmup.audit.event(Level::Warning, "discovery_failed", &[("reason", &err.to_string())]);
        }
    });

    let stopped = wait_for_stop_signal();
    tokio::select! {
        _ = serve(daemon.clone(), listener) => {}
        signal = stopped => daemon.audit.event(Level::Notice, "daemon_stopped", &[("signal", signal)]),
    }
    let _ = notify("STOPPING=1");

    let _ = std::fs::remove_file(&socket_path);
    ExitCode::SUCCESS
}

/// Raises the soft limit of open files to the hard limit: each pending login keeps a
/// socket, and the usual soft limit of 1,024 would cap them near a thousand.
fn raise_open_files_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        if soft < hard && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_err() {
            eprintln!("ultraauthd: raising the open files limit from {soft} to {hard} failed");
        }
    }
}

async fn wait_for_stop_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut interrupt)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = interrupt.recv() => "SIGINT",
    }
}
