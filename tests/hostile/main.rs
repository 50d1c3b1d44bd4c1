//! Security tests against a hostile provider, faults and local attackers, all through
//! real libpam (pamtester under pam_wrapper), the module and a real daemon.
//!
//! tests/hostile/provider.js is a small Node server that signs real ID tokens and
//! misbehaves as each test requests. The table of cases is in docs/security.md.

#[path = "../common/mod.rs"]
mod common;

mod harness;
mod assurance;
mod boundary;
mod faults;
mod id_tokens;
mod mapping;
