//! Occam's error type: every error a user can cause names the input at fault.

use std::path::{Path, PathBuf};

/// Errors raised by the library. Each variant carries the file or option that caused it,
/// so the message alone tells the user what to fix.
#[derive(Debug, thiserror::Error)]
pub enum OccamError {
    /// Reading or writing a file failed. The OS error is part of the message (not a
    /// `#[source]`), so that printing the error chain does not repeat it.
    #[error("{path}: {error}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the operating system said.
        error: std::io::Error,
    },
    /// A file that exists but cannot be used: wrong format, shape or content.
    #[error("{path}: {problem}")]
    BadFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it and what would be valid.
        problem: String,
    },
    /// Bad caller input that is not a file: an option, a setting or an argument. The
    /// message names it, its value and what is valid.
    #[error("{0}")]
    Config(String),
    /// The caller's progress callback asked to stop: "training cancelled after 12 of 500
    /// steps".
    #[error("{task} cancelled after {done} of {total} {unit}")]
    Cancelled {
        /// What was cancelled ("training", "measurement").
        task: &'static str,
        /// Units finished before the stop.
        done: usize,
        /// Units the run would have taken.
        total: usize,
        /// What the units are ("steps").
        unit: &'static str,
    },
}

impl OccamError {
    /// A failed file operation on `path`.
    pub fn io(path: &Path, error: std::io::Error) -> Self {
        OccamError::Io {
            path: path.to_path_buf(),
            error,
        }
    }
    /// A file at `path` that cannot be used, and why.
    pub fn bad_file(path: &Path, problem: impl Into<String>) -> Self {
        OccamError::BadFile {
            path: path.to_path_buf(),
            problem: problem.into(),
        }
    }
    /// Bad caller input other than a file; the message names the input and its value.
    pub fn config(msg: impl Into<String>) -> Self {
        OccamError::Config(msg.into())
    }
}

/// The library's result type.
pub type Result<T> = std::result::Result<T, OccamError>;

/// Refuses to write `output` when it is the same file as `input` (by device and inode, so
/// links and other spellings of the path count too): an export over its own store, or
/// per-point rows over the model, would destroy what the user computed. `option` names
/// the output's option in the message.
pub fn refuse_overwriting_input(output: &Path, input: &Path, option: &str) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let (Ok(out), Ok(inp)) = (std::fs::metadata(output), std::fs::metadata(input)) else {
        return Ok(());
    };
    if out.dev() == inp.dev() && out.ino() == inp.ino() {
        return Err(OccamError::bad_file(
            output,
            format!(
                "{option} names the input file {} itself; writing there would destroy it: give another file name",
                input.display()
            ),
        ));
    }
    Ok(())
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, flushed,
/// then renamed over the target, so a crash never leaves a half-written result. On any
/// failure the temporary file is removed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
    if let Some(dir) = dir {
        std::fs::create_dir_all(dir).map_err(|e| OccamError::io(dir, e))?;
    }
    let file_name = path
        .file_name()
        .ok_or_else(|| OccamError::bad_file(path, "not a file path"))?;
    let tmp = path.with_file_name(format!(".{}.tmp{}", file_name.to_string_lossy(), std::process::id()));
    let written = write_and_rename(&tmp, path, bytes);
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

fn write_and_rename(tmp: &Path, path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut f = std::fs::File::create(tmp).map_err(|e| OccamError::io(tmp, e))?;
    f.write_all(bytes).map_err(|e| OccamError::io(tmp, e))?;
    f.sync_all().map_err(|e| OccamError::io(tmp, e))?;
    drop(f);
    std::fs::rename(tmp, path).map_err(|e| OccamError::io(path, e))
}
