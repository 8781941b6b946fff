//! Entropy-coding core of tinify.
//!
//! - [`rans`]: a 64-bit rANS coder with 32-bit little-endian words and 16-bit probabilities whose
//!   streams are byte-compatible with CompressAI 1.2.8, with escape coding so that every `i32`
//!   round-trips against any CDF row.
//! - [`cdf`]: validated CDF tables ([`CdfTable`]), pmf -> quantized CDF bit-identical to CompressAI
//!   ([`pmf_to_quantized_cdf`]), deterministic Gaussian tables ([`gaussian_table`]) and per-element
//!   Gaussian-mixture models built on the fly ([`MixtureParams`]).
//! - [`stream`]: whole streams, batches of independent streams on a rayon pool, chunked streams.
//! - [`fixed`]: deterministic fixed-point networks for entropy parameters (integer convolutions,
//!   integer scale indexes, a pure-Rust softmax).
//! - [`parallel`]: the thread policy.
//! - [`rng`]: a seeded, portable generator ([`SplitMix64`]) for tests, benchmarks and examples.
//!
//! Untrusted input never panics: corrupt streams, bad tables, bad indexes and bad parameters all
//! return an [`Error`].
#![warn(missing_docs)]

pub mod cdf;
pub mod error;
pub mod fixed;
pub mod parallel;
pub mod rans;
pub mod rng;
pub mod stream;

pub use cdf::gaussian::{
    gaussian_table, scale_indexes, standard_normal_cdf, standard_normal_quantile,
};
pub use cdf::mixture::{MixtureElement, MixtureParams};
pub use cdf::quantize::{pmf_to_quantized_cdf, pmfs_to_quantized_cdfs};
pub use cdf::table::{CdfRow, CdfTable};
pub use error::{Error, Result};
pub use rans::{RansDecoder, RansEncoder, SlotModel, PRECISION, PROB_SCALE};
pub use rng::SplitMix64;
pub use stream::{
    decode_batch, decode_chunked, decode_mixture, decode_mixture_batch, decode_with_indexes,
    encode_batch, encode_chunked, encode_mixture, encode_mixture_batch, encode_with_indexes,
};
