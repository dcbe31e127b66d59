//! Located diagnostics: every config error is reported as `file:line:col: message`, and all of
//! them are collected before anything is reported, so one run shows every mistake.

use std::fmt;
use std::path::{Path, PathBuf};

use super::locate::Pos;

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The config cannot run; `runner validate` exits non-zero.
    Error,
    /// The config runs, but probably not as meant (e.g. wastes the request budget).
    Warning,
    /// Worth a look, never fatal.
    Notice,
}

/// One finding in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file, as given (relative to the config dir when loaded from one).
    pub file: PathBuf,
    /// Where in the file.
    pub pos: Pos,
    /// Error or notice.
    pub severity: Severity,
    /// What is wrong, in one sentence, without secrets or patient data.
    pub message: String,
}

impl Diagnostic {
    /// An error at `pos` of `file`.
    pub fn error(file: &Path, pos: Pos, message: impl Into<String>) -> Self {
        Diagnostic {
            file: file.to_path_buf(),
            pos,
            severity: Severity::Error,
            message: message.into(),
        }
    }

    /// A warning at `pos` of `file`.
    pub fn warning(file: &Path, pos: Pos, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(file, pos, message)
        }
    }

    /// A notice at `pos` of `file`.
    pub fn notice(file: &Path, pos: Pos, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Notice,
            ..Diagnostic::error(file, pos, message)
        }
    }

    /// A GitHub Actions workflow command (`::error file=..,line=..,col=..::message`).
    pub fn github(&self) -> String {
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Notice => "notice",
        };
        format!(
            "::{level} file={},line={},col={}::{}",
            self.file.display(),
            self.pos.line,
            self.pos.col,
            self.message.replace('%', "%25").replace('\n', "%0A")
        )
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tag = match self.severity {
            Severity::Error => "",
            Severity::Warning => "warning: ",
            Severity::Notice => "notice: ",
        };
        write!(
            f,
            "{}:{}:{}: {tag}{}",
            self.file.display(),
            self.pos.line,
            self.pos.col,
            self.message
        )
    }
}

/// A sorted list of findings.
#[derive(Debug, Default, Clone)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// Adds one finding.
    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }

    /// True when at least one finding is an error.
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(|d| d.severity == Severity::Error)
    }

    /// Number of errors.
    pub fn error_count(&self) -> usize {
        self.0
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
    }

    /// Sorts by file and position and drops exact duplicates.
    pub fn finish(mut self) -> Self {
        self.0.sort_by(|a, b| {
            (&a.file, a.pos.line, a.pos.col, a.severity, &a.message)
                .cmp(&(&b.file, b.pos.line, b.pos.col, b.severity, &b.message))
        });
        self.0.dedup();
        self
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.0 {
            writeln!(f, "{d}")?;
        }
        Ok(())
    }
}
