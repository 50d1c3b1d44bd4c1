//! Reading the file and turning parse errors into messages with a line number.

use std::fmt;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::{Config, RawConfig, validate};
use crate::permissions::{check_config_file, check_socket_directory};

/// Largest configuration file accepted, in bytes.
const MAX_CONFIG_LEN: u64 = 1024 * 1024;

/// A configuration error that names the file, the line when known, and the fix.
#[derive(Debug)]
pub struct ConfigError {
    pub path: PathBuf,
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.path.display(), line, self.message),
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

/// Reads, parses and validates the configuration file at `path`, and checks that other
/// local users can write neither the file nor the socket's folder.
pub fn load_config(path: &Path) -> Result<Config, ConfigError> {
    let source = read_source(path)?;
    let config = parse_config(path, &source)?;

    let error = |message: String| ConfigError { path: path.to_owned(), line: None, message };
    check_config_file(path).map_err(error)?;
    check_socket_directory(&config.socket_path).map_err(|reason| error(format!("socket.path: {reason}")))?;
    Ok(config)
}

/// Parses and validates configuration text; `path` is only used in messages.
pub fn parse_config(path: &Path, source: &str) -> Result<Config, ConfigError> {
    let raw: RawConfig = toml::from_str(source).map_err(|err| ConfigError {
        path: path.to_owned(),
        line: err.span().map(|span| line_of_offset(source, span.start)),
        message: format!("{}; see the commented example in packaging/ultraauthd.toml", err.message()),
    })?;
    validate::validate(raw, path, source)
}

fn read_source(path: &Path) -> Result<String, ConfigError> {
    let error = |message: String| ConfigError { path: path.to_owned(), line: None, message };

    // A FIFO would block the start forever and a directory gives a confusing read error.
    let metadata = fs::metadata(path).map_err(|err| error(format!("cannot open the configuration file: {err}; pass another file with --config PATH")))?;
    if !metadata.is_file() {
        return Err(error("the configuration path is not a regular file; pass a file with --config PATH".into()));
    }
    let file = fs::File::open(path).map_err(|err| error(format!("cannot open the configuration file: {err}; pass another file with --config PATH")))?;
    let mut source = String::new();
    file.take(MAX_CONFIG_LEN + 1)
        .read_to_string(&mut source)
        .map_err(|err| error(format!("cannot read the configuration file as UTF-8 text: {err}")))?;
    if source.len() as u64 > MAX_CONFIG_LEN {
        return Err(error(format!("the configuration file is larger than {MAX_CONFIG_LEN} bytes")));
    }
    Ok(source)
}

/// Returns the 1-based line number of a byte offset.
pub(super) fn line_of_offset(source: &str, offset: usize) -> usize {
    let end = offset.min(source.len());
    source.as_bytes()[..end].iter().filter(|&&byte| byte == b'\n').count() + 1
}

/// Returns the 1-based line of `key = ...` inside `[table]`, for errors found after parsing.
pub(super) fn line_of_key(source: &str, table: &str, key: &str) -> Option<usize> {
    let mut current_table = String::new();

    for (index, line) in source.lines().enumerate() {
        let trimmed = line.trim();
        if let Some(name) = trimmed.strip_prefix('[').and_then(|rest| rest.split(']').next()) {
            current_table = name.trim().to_owned();
            continue;
        }

        let Some((left, _)) = trimmed.split_once('=') else { continue };
        if current_table == table && left.trim().trim_matches('"') == key {
            return Some(index + 1);
        }
    }
    None
}
