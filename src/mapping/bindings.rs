//! Bindings of local users to provider identities.
//!
//! The first verified login of a local user records the `sub` it came from. A later
//! verification that maps another `sub` to the same local user is a conflict: a renamed
//! or recycled provider account, or a claim the user could edit, would otherwise take
//! over the account. The daemon denies it and logs it at error level. With
//! `mapping.bindings_file` the bindings survive restarts.

use std::collections::HashMap;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde_json::Value;

use crate::permissions::check_not_writable_by_others;

/// Bindings kept at most; beyond it new ones are not recorded (and logged by the caller).
const MAX_BINDINGS: usize = 100_000;

/// Largest bindings file read at start, in bytes.
const MAX_BINDINGS_FILE_LEN: u64 = 32 * 1024 * 1024;

/// The result of checking one verified identity against the bindings.
#[derive(Debug, PartialEq, Eq)]
pub enum Binding {
    /// The local user was already bound to this sub.
    Known,
    /// The binding was recorded now; `saved` is the result of writing the file.
    Recorded { saved: Result<(), String> },
    /// The table is full, so nothing was recorded.
    NotRecorded,
    /// The local user is bound to another sub.
    Conflict { bound_sub: String },
}

#[derive(Debug)]
pub struct SubBindings {
    file: Option<PathBuf>,
    entries: Mutex<HashMap<String, String>>,
}

impl SubBindings {
    /// Creates the bindings, reading `file` when it exists.
    pub fn load(file: Option<PathBuf>) -> Result<Self, String> {
        let entries = match &file {
            Some(path) => read_bindings(path)?,
            None => HashMap::new(),
        };
        Ok(SubBindings { file, entries: Mutex::new(entries) })
    }

    /// Checks `local_user` against its bound sub and records a first binding.
    pub fn bind(&self, local_user: &str, sub: &str) -> Binding {
        let mut entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match entries.get(local_user) {
            Some(bound) if bound == sub => return Binding::Known,
            Some(bound) => return Binding::Conflict { bound_sub: bound.clone() },
            None => {}
        }
        if entries.len() >= MAX_BINDINGS {
            return Binding::NotRecorded;
        }
        entries.insert(local_user.to_owned(), sub.to_owned());
        let saved = match &self.file {
            Some(path) => write_bindings(path, &entries),
            None => Ok(()),
        };
        Binding::Recorded { saved }
    }
}

fn read_bindings(path: &Path) -> Result<HashMap<String, String>, String> {
    let metadata = match fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(HashMap::new()),
        Err(err) => return Err(format!("cannot read {}: {err}", path.display())),
    };
    if !metadata.is_file() {
        return Err(format!("{} is not a regular file", path.display()));
    }
    check_not_writable_by_others(path, &metadata)?;

    let mut text = String::new();
    fs::File::open(path)
        .and_then(|file| file.take(MAX_BINDINGS_FILE_LEN + 1).read_to_string(&mut text))
        .map_err(|err| format!("cannot read {}: {err}", path.display()))?;
    if text.len() as u64 > MAX_BINDINGS_FILE_LEN {
        return Err(format!("{} is larger than {MAX_BINDINGS_FILE_LEN} bytes", path.display()));
    }

    let mut entries = HashMap::new();
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let parsed = trimmed.split_once(' ').and_then(|(user, sub)| Some((user, serde_json::from_str::<String>(sub).ok()?)));
        let Some((user, sub)) = parsed else {
            return Err(format!("{}:{}: expected LOCAL_USER \"SUB\"", path.display(), index + 1));
        };
        if entries.insert(user.to_owned(), sub).is_some() {
            return Err(format!("{}:{}: local user {user:?} is bound twice", path.display(), index + 1));
        }
    }
    Ok(entries)
}

/// Writes all bindings to a temporary file with mode 600 and renames it over `path`, so a
/// crash leaves either the old or the new file.
fn write_bindings(path: &Path, entries: &HashMap<String, String>) -> Result<(), String> {
    // The sub is written as a JSON string, so spaces or control characters in it cannot
    // break the line format.
    let mut lines: Vec<String> = entries.iter().map(|(user, sub)| format!("{user} {}\n", Value::String(sub.clone()))).collect();
    lines.sort();
    let temporary = path.with_extension("tmp");

    let write = || -> std::io::Result<()> {
        let mut file = fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&temporary)?;
        file.set_permissions(fs::Permissions::from_mode(0o600))?;
        file.write_all(b"# LOCAL_USER \"SUB\", written by ultraauthd: the first provider identity seen for each local user\n")?;
        for line in &lines {
            file.write_all(line.as_bytes())?;
        }
        file.sync_all()?;
        fs::rename(&temporary, path)
    };
    write().map_err(|err| format!("writing {} failed: {err}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binding_first_sub_wins() {
        let bindings = SubBindings::load(None).unwrap();
        assert_eq!(bindings.bind("alice", "sub-1"), Binding::Recorded { saved: Ok(()) });
        assert_eq!(bindings.bind("alice", "sub-1"), Binding::Known);
        assert_eq!(bindings.bind("alice", "sub-2"), Binding::Conflict { bound_sub: "sub-1".into() });
        assert_eq!(bindings.bind("bob", "sub-2"), Binding::Recorded { saved: Ok(()) });
    }

    #[test]
    fn bindings_survive_reload() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bindings");
        let bindings = SubBindings::load(Some(path.clone())).unwrap();
        assert_eq!(bindings.bind("alice", "sub-1"), Binding::Recorded { saved: Ok(()) });
        assert_eq!(bindings.bind("bob", "sub with space\nand newline"), Binding::Recorded { saved: Ok(()) });
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);

        let reloaded = SubBindings::load(Some(path)).unwrap();
        assert_eq!(reloaded.bind("alice", "sub-2"), Binding::Conflict { bound_sub: "sub-1".into() });
        assert_eq!(reloaded.bind("bob", "sub with space\nand newline"), Binding::Known);
    }

    #[test]
    fn bindings_file_with_duplicate_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bindings");
        fs::write(&path, "alice \"s1\"\nalice \"s2\"\n").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        assert!(SubBindings::load(Some(path)).unwrap_err().contains("bound twice"));
    }
}
