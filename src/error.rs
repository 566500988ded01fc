//! Errors that stop a run (exit code 2). Problems a run can survive are findings instead.

use std::fmt;
use std::path::Path;

/// A run could not be done: bad arguments, an unreadable input, a bad config.
#[derive(Debug)]
pub struct Error {
    /// The file concerned, as the user named it.
    pub file: Option<String>,
    pub line: Option<u64>,
    pub message: String,
    /// What the user can do about it.
    pub hint: Option<String>,
}

pub(crate) type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn new(message: impl Into<String>) -> Self {
        Error {
            file: None,
            line: None,
            message: message.into(),
            hint: None,
        }
    }
    pub fn in_file(file: impl AsRef<Path>, message: impl Into<String>) -> Self {
        Error {
            file: Some(file.as_ref().display().to_string()),
            ..Error::new(message)
        }
    }
    pub fn at_line(mut self, line: u64) -> Self {
        self.line = Some(line);
        self
    }
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
    /// An I/O failure on `path`, with what was being done.
    pub fn io(path: impl AsRef<Path>, doing: &str, e: std::io::Error) -> Self {
        Error::in_file(path, format!("cannot {doing}: {e}"))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.file, self.line) {
            (Some(file), Some(line)) => write!(f, "{file}:{line}: ")?,
            (Some(file), None) => write!(f, "{file}: ")?,
            _ => {}
        }
        f.write_str(&self.message)?;
        if let Some(h) = &self.hint {
            write!(f, "\n  hint: {h}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}
