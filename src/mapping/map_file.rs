//! `mapping.map_file`: a fixed table from the provider's `sub` to a local user.
//!
//! One entry per line, `SUB LOCAL_USER`, separated by white space; blank lines and lines
//! starting with `#` are skipped. The daemon checks the file when it starts. It must be a
//! regular file that group and others cannot write, and every name must be a valid local
//! username. Neither a `sub` nor a local user may appear twice, so two provider identities
//! can never map to one account.

use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::io::Read;
use std::path::Path;

use super::check_local_username;
use crate::permissions::check_not_writable_by_others;

/// Largest map file accepted, in bytes.
const MAX_MAP_FILE_LEN: u64 = 4 * 1024 * 1024;

/// Longest `sub` accepted (OpenID Connect Core section 2 allows 255 ASCII characters).
const MAX_SUB_LEN: usize = 255;

/// The parsed map: `sub` to local user.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SubMap {
    by_sub: HashMap<String, String>,
}

impl fmt::Debug for SubMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SubMap({} entries)", self.by_sub.len())
    }
}

impl SubMap {
    /// Returns the local user mapped to `sub`.
    pub fn local_user(&self, sub: &str) -> Option<&str> {
        self.by_sub.get(sub).map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.by_sub.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_sub.is_empty()
    }
}

/// Reads and checks a map file.
pub fn load_map_file(path: &Path) -> Result<SubMap, String> {
    let metadata = fs::metadata(path).map_err(|err| format!("cannot read {}: {err}", path.display()))?;
    if !metadata.is_file() {
        return Err(format!("{} is not a regular file", path.display()));
    }
    check_not_writable_by_others(path, &metadata)?;

    let mut text = String::new();
    fs::File::open(path)
        .and_then(|file| file.take(MAX_MAP_FILE_LEN + 1).read_to_string(&mut text))
        .map_err(|err| format!("cannot read {} as UTF-8 text: {err}", path.display()))?;
    if text.len() as u64 > MAX_MAP_FILE_LEN {
        return Err(format!("{} is larger than {MAX_MAP_FILE_LEN} bytes", path.display()));
    }
    parse_map(&text).map_err(|reason| format!("{}:{reason}", path.display()))
}

/// Parses map file text; an error starts with the 1-based line number.
pub fn parse_map(text: &str) -> Result<SubMap, String> {
    let mut by_sub: HashMap<String, String> = HashMap::new();
    let mut line_of_sub: HashMap<String, usize> = HashMap::new();
    let mut line_of_user: HashMap<String, usize> = HashMap::new();

    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }

        let fields: Vec<&str> = trimmed.split_whitespace().collect();
        let [sub, user] = fields[..] else {
            return Err(format!("{number}: expected two fields, SUB LOCAL_USER, found {}", fields.len()));
        };
        if sub.len() > MAX_SUB_LEN || sub.chars().any(|c| c.is_control()) {
            return Err(format!("{number}: sub is longer than {MAX_SUB_LEN} bytes or has control characters"));
        }
        check_local_username(user).map_err(|reason| format!("{number}: {reason}"))?;

        if let Some(first) = line_of_sub.get(sub) {
            return Err(format!("{number}: sub {sub:?} is already mapped on line {first}; each sub may appear once"));
        }
        if let Some(first) = line_of_user.get(user) {
            return Err(format!(
                "{number}: local user {user:?} is already mapped on line {first}; two provider identities may not share one local user"
            ));
        }
        line_of_sub.insert(sub.to_owned(), number);
        line_of_user.insert(user.to_owned(), number);
        by_sub.insert(sub.to_owned(), user.to_owned());
    }
    Ok(SubMap { by_sub })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_parses_comments_and_blank_lines() {
        let map = parse_map("# sub user\n\na1b2 alice\n  c0ff  carol \n").unwrap();
        assert_eq!(map.local_user("a1b2"), Some("alice"));
        assert_eq!(map.local_user("c0ff"), Some("carol"));
        assert_eq!(map.local_user("alice"), None);
        assert_eq!(map.len(), 2);
    }

    #[test]
    fn map_rejects_duplicate_sub() {
        let err = parse_map("a1 alice\na1 bob\n").unwrap_err();
        assert!(err.starts_with("2:"), "{err}");
        assert!(err.contains("line 1"), "{err}");
    }

    #[test]
    fn map_rejects_two_subs_for_one_user() {
        let err = parse_map("a1 alice\nb2 alice\n").unwrap_err();
        assert!(err.contains("two provider identities"), "{err}");
    }

    #[test]
    fn map_rejects_invalid_names_and_shapes() {
        assert!(parse_map("a1 root;id\n").unwrap_err().starts_with("1:"));
        assert!(parse_map("a1\n").unwrap_err().contains("two fields"));
        assert!(parse_map("a1 alice extra\n").unwrap_err().contains("two fields"));
        assert!(parse_map("a1 1000\n").is_err());
    }

    #[test]
    fn map_file_writable_by_others_is_rejected() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("map");
        fs::write(&path, "a1 alice\n").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o646)).unwrap();
        assert!(load_map_file(&path).unwrap_err().contains("every local user can write"));
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(load_map_file(&path).unwrap().local_user("a1"), Some("alice"));
    }
}
