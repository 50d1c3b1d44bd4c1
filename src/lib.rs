//! ultraauthd: verifies PAM logins against an OpenID Connect provider.
//!
//! `pam_ultraauth.so` connects to the daemon's Unix socket for each login. The daemon
//! runs the out-of-band flow with the provider, verifies the ID token, maps the
//! identity to a local user and returns a verdict.

pub mod admin;
pub mod assurance;
pub mod audit;
pub mod clock;
pub mod config;
pub mod daemon;
pub mod flows;
pub mod login;
pub mod mapping;
pub mod notify;
pub mod one_time_codes;
pub mod pending;
pub mod permissions;
pub mod prompt;
pub mod provider;
pub mod qr;
pub mod random;
pub mod rate_limit;
pub mod reload;
pub mod secret;
pub mod server;
pub mod sessions;
pub mod socket_io;
pub mod web;
