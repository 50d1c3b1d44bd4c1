//! Configuration reload on SIGHUP: the file is read and validated again, and the parts
//! that can change at run time are swapped in while verified sessions and pending logins
//! go on.
//!
//! Swapped at reload: `socket.allowed_users`, `socket.admin_users`, `[mapping]`,
//! `[sessions]`, `[login]`, `[assurance]` and `[services.*]`. `[provider]`, `[web]`,
//! `[push]`, `socket.path` and `mapping.bindings_file` take effect at the next restart:
//! pending logins use the provider, the listeners stay bound, and the bindings are read
//! at start. The reload logs which of them changed. An invalid file keeps the running
//! configuration and logs the error.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use crate::audit::Level;
use crate::config::{Config, load_config};
use crate::daemon::Daemon;
use crate::notify::notify;

/// A value that readers take a snapshot of and a reload replaces as a whole.
pub struct Swappable<T> {
    current: RwLock<Arc<T>>,
}

impl<T> Swappable<T> {
    pub fn new(value: T) -> Self {
        Swappable { current: RwLock::new(Arc::new(value)) }
    }

    /// Returns the current value; a later [`Swappable::store`] does not change it.
    pub fn load(&self) -> Arc<T> {
        self.current.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    /// Replaces the value for every later [`Swappable::load`].
    pub fn store(&self, value: T) {
        *self.current.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(value);
    }
}

impl Daemon {
    /// Swaps in the reloadable parts of `config` and returns the changed keys that need
    /// a restart to take effect.
    pub fn apply_reload(&self, config: Config) -> Vec<&'static str> {
        let mut needs_restart = Vec::new();
        if config.provider != *self.provider.config() {
            needs_restart.push("provider");
        }
        if config.web != self.web {
            needs_restart.push("web");
        }
        if config.push != self.push {
            needs_restart.push("push");
        }
        if config.socket_path != self.admin.socket_path {
            needs_restart.push("socket.path");
        }
        // The bindings file is read at start; the rest of [mapping] is swapped below.
        if config.mapping.bindings_file != self.mapping.load().bindings_file {
            needs_restart.push("mapping.bindings_file");
        }

        self.allowed_uids.store(config.allowed_uids);
        self.admin.admin_uids.store(config.admin_uids);
        self.mapping.store(config.mapping);
        self.policies.store(config.policies);
        self.security.store(config.security);
        self.admin.count_reload();
        needs_restart
    }

    /// Reads the file at `path` again and applies it, logging the result. Returns
    /// whether the new configuration is in use.
    pub fn reload_from(&self, path: &Path) -> bool {
        let _ = notify("RELOADING=1");
        let shown_path = path.display().to_string();

        let applied = match load_config(path) {
            Ok(config) => {
                let needs_restart = self.apply_reload(config);
                self.audit.event(Level::Notice, "config_reloaded", &[("config", &shown_path)]);
                if !needs_restart.is_empty() {
                    let reason = format!("changes to {} take effect at the next restart", needs_restart.join(", "));
                    self.audit.event(Level::Warning, "reload_incomplete", &[("config", &shown_path), ("reason", &reason)]);
                }
                true
            }
            Err(err) => {
                self.audit.event(Level::Error, "reload_failed", &[("config", &shown_path), ("reason", &format!("{err}; the previous configuration stays in use"))]);
                false
            }
        };

        let _ = notify("READY=1");
        applied
    }
}

/// Installs the SIGHUP handler and spawns a task that reloads the configuration from
/// `path` on every SIGHUP. Call it before READY=1, because until the handler is in place
/// a SIGHUP ends the process.
pub fn reload_on_sighup(daemon: Arc<Daemon>, path: PathBuf) -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};

    let mut hangups = signal(SignalKind::hangup())?;
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            // Loading resolves users and reads the secret file, which block, so keep it
            // off the async worker threads.
            let daemon = daemon.clone();
            let path = path.clone();
            let _ = tokio::task::spawn_blocking(move || daemon.reload_from(&path)).await;
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swappable_load_keeps_old_snapshot() {
        let value = Swappable::new(vec![1u32]);
        let before = value.load();
        value.store(vec![2]);

        assert_eq!(*before, vec![1]);
        assert_eq!(*value.load(), vec![2]);
    }
}
