//! Start-up checks on the files and folders the daemon trusts.
//!
//! A configuration, map or bindings file that another local user can write would let that
//! user choose who logs in, and a socket folder that others can write would let them put
//! their own socket in the module's path. The daemon refuses to start on either.

use std::fs::{self, Metadata};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use nix::unistd::{getegid, geteuid};

/// Checks that only the owner (root or the daemon's user) can write the file. Group write
/// is accepted only for group root or the daemon's own group.
pub fn check_not_writable_by_others(path: &Path, metadata: &Metadata) -> Result<(), String> {
    let mode = metadata.mode() & 0o7777;
    let shown = path.display();

    if metadata.uid() != 0 && metadata.uid() != geteuid().as_raw() {
        return Err(format!("{shown} is owned by uid {}, not by root or the daemon's user; run chown root {shown}", metadata.uid()));
    }
    if mode & 0o002 != 0 {
        return Err(format!("{shown} has mode {mode:o}, so every local user can write it; run chmod o-w {shown}"));
    }
    let trusted_group = metadata.gid() == 0 || metadata.gid() == getegid().as_raw();
    if mode & 0o020 != 0 && !trusted_group {
        return Err(format!("{shown} has mode {mode:o} and group {}, so that group can write it; run chmod g-w {shown}", metadata.gid()));
    }
    Ok(())
}

/// Checks the configuration file's owner and mode.
pub fn check_config_file(path: &Path) -> Result<(), String> {
    let metadata = fs::metadata(path).map_err(|err| format!("cannot read {}: {err}", path.display()))?;
    check_not_writable_by_others(path, &metadata)
}

/// Checks the folder that contains the socket, when it exists (the daemon creates a missing
/// one with mode 755).
pub fn check_socket_directory(socket_path: &Path) -> Result<(), String> {
    let Some(directory) = socket_path.parent() else { return Ok(()) };
    match fs::metadata(directory) {
        Ok(metadata) if metadata.is_dir() => check_not_writable_by_others(directory, &metadata),
        Ok(_) => Err(format!("{} is not a directory", directory.display())),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(err) => Err(format!("cannot read {}: {err}", directory.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn with_mode(mode: u32) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("file");
        fs::write(&path, "x").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        (dir, path)
    }

    #[test]
    fn file_writable_by_others_is_rejected() {
        let (_dir, path) = with_mode(0o646);
        let err = check_config_file(&path).unwrap_err();
        assert!(err.contains("chmod o-w"), "{err}");
    }

    #[test]
    fn file_with_owner_write_only_passes() {
        let (_dir, path) = with_mode(0o644);
        assert_eq!(check_config_file(&path), Ok(()));
        let (_dir, path) = with_mode(0o600);
        assert_eq!(check_config_file(&path), Ok(()));
    }

    #[test]
    fn socket_directory_writable_by_others_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o777)).unwrap();
        let err = check_socket_directory(&dir.path().join("ultraauthd.sock")).unwrap_err();
        assert!(err.contains("every local user can write"), "{err}");

        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(check_socket_directory(&dir.path().join("ultraauthd.sock")), Ok(()));
        assert_eq!(check_socket_directory(Path::new("/nonexistent-ultraauth-dir/ultraauthd.sock")), Ok(()));
    }
}
