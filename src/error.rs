//! The library's error type.
//!
//! Every error names what it concerns: the file, and where known the line
//! (CSV) or row (Parquet) and the column. `Error` is one pointer wide so
//! `Result` stays cheap; match on [`Error::kind`] for details.
//!
//! Errors split into two families, which the CLI maps to exit codes:
//! *usage* errors (a bad flag value, a definition naming a column the data
//! lacks, a file that does not exist: exit 2) and *data or runtime* errors
//! (malformed rows, duplicate keys, a model of another schema, I/O
//! failures: exit 1).

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// A `Result` whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Where in a file a problem is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Position {
    /// The part file of a directory read as one table.
    pub part: Option<String>,
    /// 1-based physical line of a text file (the header is line 1).
    pub line: Option<u64>,
    /// 1-based data row of a Parquet file.
    pub row: Option<u64>,
    /// The column concerned.
    pub column: Option<String>,
}

impl Position {
    /// A position on a line of a text file.
    pub fn line(line: u64) -> Position {
        Position { line: Some(line), ..Position::default() }
    }

    /// A position on a data row of a columnar file.
    pub fn row(row: u64) -> Position {
        Position { row: Some(row), ..Position::default() }
    }

    /// The same position, narrowed to a column.
    pub fn with_column(mut self, column: impl Into<String>) -> Position {
        self.column = Some(column.into());
        self
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(part) = &self.part {
            parts.push(format!("part {part}"));
        }
        if let Some(line) = self.line {
            parts.push(format!("line {line}"));
        }
        if let Some(row) = self.row {
            parts.push(format!("row {row}"));
        }
        if let Some(column) = &self.column {
            parts.push(format!("column '{column}'"));
        }
        write!(f, "{}", parts.join(", "))
    }
}

/// The kinds of error findmatches reports.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A file or directory named by the user does not exist.
    #[error("{}: no such file or directory", path.display())]
    NotFound {
        /// The missing path.
        path: PathBuf,
    },
    /// An input in a format findmatches does not read.
    #[error("{}: {what} is not a format findmatches reads; it reads {formats}", path.display())]
    UnsupportedFormat {
        /// The input.
        path: PathBuf,
        /// What it is.
        what: String,
        /// What is read.
        formats: &'static str,
    },
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The command line asks for something impossible.
    #[error("{message}")]
    Usage {
        /// What is wrong.
        message: String,
    },
    /// A transform definition is invalid or does not fit the data.
    #[error("{}: {message}", path.display())]
    Config {
        /// The definition file (or the data file it was checked against).
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Input data is malformed.
    #[error("{}{}: {message}", path.display(), fmt_pos(position))]
    Data {
        /// The data file.
        path: PathBuf,
        /// Where in it.
        position: Position,
        /// What is wrong.
        message: String,
    },
    /// Two rows share a primary key.
    #[error(
        "{}: duplicate primary key '{key}' in column '{column}' ({first} and {second})",
        path.display()
    )]
    DuplicateKey {
        /// The data file.
        path: PathBuf,
        /// The key column.
        column: String,
        /// The repeated key.
        key: String,
        /// Where the key first appears.
        first: Position,
        /// Where it appears again.
        second: Position,
    },
    /// A model does not fit the data or the baseline it is used with.
    #[error("{}: {message}", path.display())]
    ModelMismatch {
        /// The model file.
        path: PathBuf,
        /// What does not match.
        message: String,
    },
    /// A file findmatches wrote is of a format version this build does not read.
    #[error("{}: {what} format version {found}; this findmatches reads version {expected}", path.display())]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// What kind of file it is.
        what: String,
        /// Its version.
        found: u64,
        /// The version this build reads.
        expected: u32,
    },
    /// A file findmatches wrote earlier cannot be understood.
    #[error("{}: corrupt or unreadable: {comment}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        comment: String,
    },
    /// Another process holds a baseline's writer lock.
    #[error(
        "{}: another findmatches{} is writing this baseline; try again later or pass --wait",
        path.display(),
        holder.map(|p| format!(" (process {p})")).unwrap_or_default()
    )]
    Locked {
        /// The lock file.
        path: PathBuf,
        /// The holder's process id, when known.
        holder: Option<u32>,
    },
    /// An input is too large to match in the memory there is.
    #[error(
        "{}: matching {} of input takes about {} of memory, over the {} {limit_source}; \
         split the file, or match it in pieces against a baseline (dedup --baseline, then incremental)",
        path.display(), gib(*input), gib(*needed), gib(*limit)
    )]
    TooLarge {
        /// The largest input.
        path: PathBuf,
        /// Bytes of input data, all inputs together.
        input: u64,
        /// Bytes of memory a run would take, estimated.
        needed: u64,
        /// Bytes it may take.
        limit: u64,
        /// Where the limit comes from.
        limit_source: String,
    },
    /// Training could not produce a model.
    #[error("training failed: {message}")]
    Training {
        /// Why.
        message: String,
    },
}

/// Bytes, as GB with one decimal (MB below 1 GB).
fn gib(bytes: u64) -> String {
    if bytes >= 1 << 30 {
        format!("{:.1} GB", bytes as f64 / (1u64 << 30) as f64)
    } else {
        format!("{} MB", bytes.div_ceil(1 << 20))
    }
}

fn fmt_pos(position: &Position) -> String {
    let text = position.to_string();
    if text.is_empty() {
        text
    } else {
        format!(": {text}")
    }
}

/// The findmatches error: a boxed [`ErrorKind`].
pub struct Error(Box<ErrorKind>);

impl Error {
    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.0
    }

    /// Consume the error, giving its kind.
    pub fn into_kind(self) -> ErrorKind {
        *self.0
    }

    /// True for errors in how findmatches was called (exit code 2), false
    /// for data and runtime errors (exit code 1).
    pub fn is_usage(&self) -> bool {
        matches!(
            *self.0,
            ErrorKind::Usage { .. }
                | ErrorKind::Config { .. }
                | ErrorKind::NotFound { .. }
                | ErrorKind::UnsupportedFormat { .. }
        )
    }

    /// An I/O error on `path`; a missing file becomes [`ErrorKind::NotFound`].
    pub fn io(path: impl AsRef<Path>, source: io::Error) -> Error {
        let path = path.as_ref().to_path_buf();
        if source.kind() == io::ErrorKind::NotFound {
            ErrorKind::NotFound { path }.into()
        } else {
            ErrorKind::Io { path, source }.into()
        }
    }

    /// A usage error.
    pub fn usage(message: impl Into<String>) -> Error {
        ErrorKind::Usage { message: message.into() }.into()
    }

    /// A definition error concerning `path`.
    pub fn config(path: impl AsRef<Path>, message: impl Into<String>) -> Error {
        ErrorKind::Config { path: path.as_ref().to_path_buf(), message: message.into() }.into()
    }

    /// A data error at `position` of `path`.
    pub fn data(path: impl AsRef<Path>, position: Position, message: impl Into<String>) -> Error {
        ErrorKind::Data { path: path.as_ref().to_path_buf(), position, message: message.into() }.into()
    }

    /// A model that does not fit.
    pub fn model_mismatch(path: impl AsRef<Path>, message: impl Into<String>) -> Error {
        ErrorKind::ModelMismatch { path: path.as_ref().to_path_buf(), message: message.into() }.into()
    }

    /// A file that cannot be understood.
    pub fn corrupt(path: impl AsRef<Path>, comment: impl Into<String>) -> Error {
        ErrorKind::Corrupt { path: path.as_ref().to_path_buf(), comment: comment.into() }.into()
    }

    /// Training failed.
    pub fn training(message: impl Into<String>) -> Error {
        ErrorKind::Training { message: message.into() }.into()
    }
}

/// Read a versioned JSON file (model, manifest): check its
/// `format_version` before anything else, so an older or newer file gets a
/// version error rather than a parse error, then parse it: versions
/// `oldest` to `expected` (this build's) are read. `what` names the kind
/// of file in messages. (Parsing straight from text keeps every
/// float bit-exact, which fingerprints need.)
pub fn parse_versioned<T: serde::de::DeserializeOwned>(
    text: &str,
    path: &Path,
    oldest: u32,
    expected: u32,
    what: &str,
) -> Result<T> {
    #[derive(serde::Deserialize)]
    struct Header {
        format_version: Option<u64>,
    }
    let header: Header =
        serde_json::from_str(text).map_err(|e| Error::corrupt(path, format!("not a {what} ({e})")))?;
    match header.format_version {
        Some(v) if (oldest as u64..=expected as u64).contains(&v) => {}
        Some(found) => {
            return Err(ErrorKind::UnsupportedVersion {
                path: path.to_path_buf(),
                what: what.to_string(),
                found,
                expected,
            }
            .into())
        }
        None => return Err(Error::corrupt(path, format!("not a {what} (no format_version)"))),
    }
    serde_json::from_str(text).map_err(|e| Error::corrupt(path, e.to_string()))
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Error {
        Error(Box::new(kind))
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&*self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_error_names_file_line_and_column() {
        let err = Error::data("a.csv", Position::line(7).with_column("email"), "bad value");
        assert_eq!(err.to_string(), "a.csv: line 7, column 'email': bad value");
        assert!(!err.is_usage());
    }

    #[test]
    fn missing_file_is_a_usage_error() {
        let err = Error::io("nope.csv", io::Error::from(io::ErrorKind::NotFound));
        assert!(err.is_usage());
        assert_eq!(err.to_string(), "nope.csv: no such file or directory");
    }
}
