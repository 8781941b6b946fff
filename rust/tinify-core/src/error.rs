//! The one error type of the core.
//!
//! Every fallible function returns [`Result`]. Untrusted input (a bitstream, a CDF table, symbol
//! and index arrays, mixture parameters) never panics: it produces one of these variants, which
//! carry the values needed to tell the user what went wrong.

use std::fmt;

/// Everything that can go wrong in the core.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// A CDF row breaks the rules (starts at 0, strictly increasing, ends at `1 << precision`).
    InvalidCdf {
        /// Row of the table.
        index: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// A probability mass function cannot be quantized (negative, non-finite or all zero).
    InvalidPmf {
        /// Row of the batch (0 for a single pmf).
        index: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// An element refers to a CDF row the table does not have.
    IndexOutOfRange {
        /// Position of the element in its array.
        position: usize,
        /// The offending index.
        index: i64,
        /// Number of rows in the table.
        rows: usize,
    },
    /// Two arrays that must have the same length do not.
    ShapeMismatch {
        /// What is being compared.
        what: &'static str,
        /// The expected length.
        expected: usize,
        /// The length found.
        got: usize,
    },
    /// A parameter has an unusable value (non-finite scale, negative weight, ...).
    InvalidParameter {
        /// Position of the element in its array.
        position: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// The stream ended before every requested symbol was decoded.
    UnexpectedEof {
        /// Number of symbols decoded before the stream ran out.
        decoded: usize,
    },
    /// The stream is not a valid rANS stream for these tables.
    CorruptStream {
        /// What the decoder found.
        reason: String,
    },
    /// Memory for a buffer could not be allocated (the allocation failed; nothing aborted).
    OutOfMemory {
        /// What the buffer was for.
        what: &'static str,
        /// Bytes asked for.
        bytes: u64,
    },
    /// A caller asked for more than the core is willing to allocate.
    TooLarge {
        /// What is too large.
        what: &'static str,
        /// The size asked for.
        requested: u64,
        /// The limit.
        limit: u64,
    },
}

/// Result alias used throughout the core.
pub type Result<T> = std::result::Result<T, Error>;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidCdf { index, reason } => {
                write!(f, "invalid CDF in row {index}: {reason}")
            }
            Error::InvalidPmf { index, reason } => {
                write!(f, "invalid pmf in row {index}: {reason}")
            }
            Error::IndexOutOfRange {
                position,
                index,
                rows,
            } => write!(
                f,
                "index {index} at position {position} is out of range for a table of {rows} rows"
            ),
            Error::ShapeMismatch {
                what,
                expected,
                got,
            } => {
                write!(f, "{what}: expected length {expected}, got {got}")
            }
            Error::InvalidParameter { position, reason } => {
                write!(f, "invalid parameter at position {position}: {reason}")
            }
            Error::UnexpectedEof { decoded } => write!(
                f,
                "the stream is truncated: it ended after {decoded} decoded symbols"
            ),
            Error::CorruptStream { reason } => write!(f, "corrupt stream: {reason}"),
            Error::OutOfMemory { what, bytes } => write!(
                f,
                "out of memory: cannot allocate {bytes} bytes for {what}; code a smaller input"
            ),
            Error::TooLarge {
                what,
                requested,
                limit,
            } => {
                write!(
                    f,
                    "{what} too large: {requested} requested, limit is {limit}"
                )
            }
        }
    }
}

impl std::error::Error for Error {}
