//! Occam's errors as Python exceptions. The classes live in `occam/errors.py` (so that
//! each can also derive from the matching built-in: ValueError, OSError,
//! ArithmeticError); this module raises them with Occam's own messages.

use occam::OccamError;
use occam::measure::finite::NonFinite;
use pyo3::prelude::*;

/// Which of `occam.errors`' classes an error is raised as.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// A value the caller passed (an argument, an option, a configuration key).
    InvalidInput,
    /// A file that exists but is not what Occam can read (the message names it).
    FileFormat,
    /// A file that could not be opened, read or written (the message names it).
    FileAccess,
    /// Arithmetic that overflowed: a NaN or infinite value is never returned as a number.
    NonFinite,
    /// A run stopped by its progress callback.
    Cancelled,
}

impl Kind {
    fn class_name(self) -> &'static str {
        match self {
            Kind::InvalidInput => "InvalidInputError",
            Kind::FileFormat => "FileFormatError",
            Kind::FileAccess => "FileAccessError",
            Kind::NonFinite => "NonFiniteError",
            Kind::Cancelled => "CancelledError",
        }
    }
}

/// A Python exception of `kind` carrying `message`.
pub fn raise(kind: Kind, message: impl Into<String>) -> PyErr {
    let message = message.into();
    Python::attach(|py| {
        let class = py
            .import("occam.errors")
            .and_then(|module| module.getattr(kind.class_name()));
        match class {
            Ok(class) => match class.call1((message.clone(),)) {
                Ok(instance) => PyErr::from_value(instance),
                Err(e) => e,
            },
            // Only when `_occam` is imported outside its package.
            Err(_) => pyo3::exceptions::PyValueError::new_err(message),
        }
    })
}

/// A caller's bad argument.
pub fn invalid(message: impl Into<String>) -> PyErr {
    raise(Kind::InvalidInput, message)
}

/// An error of the Occam library, as the class that fits it.
pub fn from_occam(error: OccamError) -> PyErr {
    let kind = match &error {
        OccamError::Io { .. } => Kind::FileAccess,
        // A path that is not there is an access problem (an OSError), not a format one.
        OccamError::BadFile { path, .. } if std::fs::symlink_metadata(path).is_err() => Kind::FileAccess,
        OccamError::BadFile { .. } => Kind::FileFormat,
        OccamError::Config(_) => Kind::InvalidInput,
        OccamError::Cancelled { .. } => Kind::Cancelled,
    };
    raise(kind, error.to_string())
}

/// Non-finite arithmetic at a point or trajectory, `what` naming the measured set.
pub fn non_finite(what: &str, finding: NonFinite) -> PyErr {
    raise(
        Kind::NonFinite,
        format!("{what}: at index {}, {finding}", finding.point),
    )
}

/// `Result<T, OccamError>` → `PyResult<T>`.
pub trait IntoPy<T> {
    fn py_err(self) -> PyResult<T>;
}

impl<T> IntoPy<T> for occam::Result<T> {
    fn py_err(self) -> PyResult<T> {
        self.map_err(from_occam)
    }
}
