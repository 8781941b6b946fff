//! Maps the core's `Error` onto the Python exception family.
//!
//! `TinifyError` subclasses `ValueError` (like `json.JSONDecodeError`), so code that already
//! catches `ValueError` keeps working; its children name the kind of problem.

use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use tinify_core::Error;

create_exception!(
    tinify._core,
    TinifyError,
    PyValueError,
    "Base class of every tinify error."
);
create_exception!(
    tinify._core,
    BitstreamError,
    TinifyError,
    "A bitstream is corrupt, truncated, or does not match the tables or parameters given."
);
create_exception!(
    tinify._core,
    CdfError,
    TinifyError,
    "A CDF table or pmf is invalid."
);
create_exception!(
    tinify._core,
    ParameterError,
    TinifyError,
    "Arguments disagree in length, an index is out of range, or a parameter is unusable."
);

/// Newtype that lets `?` turn core errors into Python exceptions (orphan rule).
pub struct CoreError(pub Error);

impl From<Error> for CoreError {
    fn from(e: Error) -> Self {
        CoreError(e)
    }
}

impl From<CoreError> for PyErr {
    fn from(e: CoreError) -> PyErr {
        let msg = e.0.to_string();
        match e.0 {
            Error::UnexpectedEof { .. } | Error::CorruptStream { .. } => {
                BitstreamError::new_err(msg)
            }
            Error::InvalidCdf { .. } | Error::InvalidPmf { .. } => CdfError::new_err(msg),
            _ => ParameterError::new_err(msg),
        }
    }
}

/// Result type of binding functions that call the core.
pub type CoreResult<T> = Result<T, CoreError>;
